"""Practice figures at a glance: sessions and hours per week, notes signed or still draft, days from a session to its
signed note, processing speed, risk flags raised per month by kind.

A therapist sees their own sessions (optionally one client's). A practice manager sees the whole practice in counts
only — no client filter, no per-client row, no name: from this database's every profile, or, once they joined a
clinic, from the clinic server's aggregate function (its row-level security shows them no one else's rows).
Processing speed is always this workstation's: processing jobs never leave it.

The GUI's Insights page and ``tbdesktop stats`` show the same ``PracticeStats``, as the same tables
(``stats_tables.figure_tables``).
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from sqlalchemy.orm import Session

from tbdesktop.engine.notes.types import RISK_KINDS
from tbdesktop.errors import NotFoundError, PermissionDeniedError, TBError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import JsonMixin, UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.store.models import Role
from tbdesktop.store.repositories import AuditRepository, ClientRepository
from tbdesktop.store.stats_repository import FlagFact, JobFact, ServerFigure, SessionFact, StatsRepository

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 3660  # ten years of weeks is the most a chart or a table can show usefully
# Days from a session to its signed note, bucketed by lower bound (the clinic server's function uses the same).
SIGN_DELAYS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "Same day"),
    (1, 1, "1 day"),
    (2, 3, "2–3 days"),
    (4, 7, "4–7 days"),
    (8, None, "More than a week"),
)
OWN, PRACTICE = "own", "practice"
LOCAL, CLINIC = "this workstation", "clinic server"


@dataclass(frozen=True)
class StatsQuery:
    start: date | None = None
    end: date | None = None
    client_id: uuid.UUID | None = None  # the GUI's client list
    client_name: str | None = None  # the CLI's --client


@dataclass(frozen=True)
class ClientChoice(JsonMixin):
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class WeekSessions(JsonMixin):
    week: date  # its Monday
    sessions: int
    hours: float


@dataclass(frozen=True)
class WeekNotes(JsonMixin):
    week: date  # the week of the sessions
    signed: int
    draft: int
    no_note: int
    median_days_to_sign: float | None


@dataclass(frozen=True)
class SignDelay(JsonMixin):
    label: str
    min_days: int
    max_days: int | None
    notes: int


@dataclass(frozen=True)
class WeekProcessing(JsonMixin):
    week: date  # the week processing finished
    recordings: int
    audio_minutes: float
    processing_minutes: float
    speed: float | None  # audio minutes per minute of processing


@dataclass(frozen=True)
class MonthRisk(JsonMixin):
    month: date  # its first day
    flags: dict[str, int]  # kind → flags raised (every kind of ``PracticeStats.risk_kinds``)


@dataclass(frozen=True)
class StatsTotals(JsonMixin):
    sessions: int = 0
    hours: float = 0.0
    notes_signed: int = 0
    notes_draft: int = 0
    no_note: int = 0
    median_days_to_sign: float | None = None
    risk_flags: int = 0
    recordings_processed: int = 0
    audio_minutes: float = 0.0
    processing_minutes: float = 0.0
    processing_speed: float | None = None


@dataclass(frozen=True)
class PracticeStats(JsonMixin):
    scope: str  # "own" | "practice"
    source: str  # where the session, note and risk figures come from: "this workstation" | "clinic server"
    start: date | None
    end: date | None
    client: str | None  # the client a therapist filtered by; always None for practice figures
    totals: StatsTotals
    sessions: list[WeekSessions] = field(default_factory=list)
    notes: list[WeekNotes] = field(default_factory=list)
    sign_delays: list[SignDelay] = field(default_factory=list)
    processing: list[WeekProcessing] = field(default_factory=list)
    risk_kinds: list[str] = field(default_factory=list)
    risk: list[MonthRisk] = field(default_factory=list)


# -- bucketing ------------------------------------------------------------------------------------------------


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def delay_bucket(days: int) -> int:
    """The lower bound of the SIGN_DELAYS bucket ``days`` falls in."""
    return next(low for low, high, _ in SIGN_DELAYS if high is None or days <= high)


def _span(keys: set[date], first: date | None, last: date | None) -> tuple[date, date] | None:
    """From the range's first bucket (else the data's) to its last."""
    lo = first if first is not None else min(keys, default=None)
    hi = last if last is not None else max(keys, default=None)
    if lo is None or hi is None or lo > hi:
        return None
    return lo, hi


def _weeks(keys: set[date], start: date | None, end: date | None) -> list[date]:
    """Every Monday from the range's (or the data's) first week to its last, so quiet weeks show as zero."""
    span = _span(keys, week_of(start) if start else None, week_of(end) if end else None)
    if span is None:
        return []
    return [span[0] + timedelta(weeks=i) for i in range((span[1] - span[0]).days // 7 + 1)]


def _months(keys: set[date], start: date | None, end: date | None) -> list[date]:
    span = _span(keys, month_of(start) if start else None, month_of(end) if end else None)
    out: list[date] = []
    if span is not None:
        month = span[0]
        while month <= span[1]:
            out.append(month)
            month = _next_month(month)
    return out


@dataclass
class _Counts:
    """Session, note and risk figures in the form the clinic server returns them, whoever counted them."""

    sessions: dict[date, int] = field(default_factory=lambda: defaultdict(int))
    minutes: dict[date, float] = field(default_factory=lambda: defaultdict(float))
    notes: dict[date, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    median: dict[date, float] = field(default_factory=dict)
    overall_median: float | None = None
    delays: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    risk: dict[date, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    @classmethod
    def from_facts(cls, sessions: list[SessionFact], flags: list[FlagFact]) -> _Counts:
        c = cls()
        lags: dict[date, list[int]] = defaultdict(list)
        for f in sessions:
            week = week_of(f.session_date)
            c.sessions[week] += 1
            c.minutes[week] += f.duration_mins or 0.0
            state = "signed" if f.first_signed_at is not None else "draft" if f.has_note else "none"
            c.notes[week][state] += 1
            if f.first_signed_at is not None:
                days = max(0, (f.first_signed_at.astimezone(UTC).date() - f.session_date).days)
                lags[week].append(days)
                c.delays[delay_bucket(days)] += 1
        c.median = {week: float(statistics.median(days)) for week, days in lags.items()}
        every = [d for days in lags.values() for d in days]
        c.overall_median = float(statistics.median(every)) if every else None
        for flag in flags:
            c.risk[month_of(flag.session_date)][flag.kind] += 1
        return c

    @classmethod
    def from_server(cls, figures: list[ServerFigure]) -> _Counts:
        c = cls()
        for f in figures:
            if f.series == "sign_days_median" and f.bucket is None:
                c.overall_median = f.value
            elif f.series == "sign_days" and f.label is not None:
                c.delays[int(f.label)] += int(f.value)
            elif f.bucket is None:
                continue
            elif f.series == "sessions":
                c.sessions[f.bucket] += int(f.value)
            elif f.series == "minutes":
                c.minutes[f.bucket] += f.value
            elif f.series == "notes" and f.label is not None:
                c.notes[f.bucket][f.label] += int(f.value)
            elif f.series == "sign_days_median":
                c.median[f.bucket] = f.value
            elif f.series == "risk" and f.label is not None:
                c.risk[f.bucket][f.label] += int(f.value)
        return c


def _processing(jobs: list[JobFact], start: date | None, end: date | None) -> list[WeekProcessing]:
    audio: dict[date, float] = defaultdict(float)
    spent: dict[date, float] = defaultdict(float)
    count: dict[date, int] = defaultdict(int)
    for job in jobs:
        week = week_of(job.finished_at.astimezone(UTC).date())
        count[week] += 1
        audio[week] += job.audio_minutes
        spent[week] += (job.finished_at - job.started_at).total_seconds() / 60.0
    return [
        WeekProcessing(
            week=w,
            recordings=count.get(w, 0),
            audio_minutes=round(audio.get(w, 0.0), 2),
            processing_minutes=round(spent.get(w, 0.0), 2),
            speed=round(audio[w] / spent[w], 2) if spent.get(w) else None,
        )
        for w in _weeks(set(count), start, end)
    ]


def _assemble(
    c: _Counts, jobs: list[JobFact], q: StatsQuery, *, scope: str, source: str, client: str | None
) -> PracticeStats:
    weeks = _weeks(set(c.sessions), q.start, q.end)
    sessions = [WeekSessions(w, c.sessions.get(w, 0), round(c.minutes.get(w, 0.0) / 60.0, 2)) for w in weeks]
    notes = [
        WeekNotes(w, n.get("signed", 0), n.get("draft", 0), n.get("none", 0), c.median.get(w))
        for w in weeks
        for n in [c.notes.get(w, {})]
    ]
    delays = [SignDelay(label, low, high, c.delays.get(low, 0)) for low, high, label in SIGN_DELAYS]
    seen = {kind for counts in c.risk.values() for kind in counts}
    kinds = [k for k in RISK_KINDS if k in seen] + sorted(seen - set(RISK_KINDS))
    risk = [MonthRisk(m, {k: c.risk.get(m, {}).get(k, 0) for k in kinds}) for m in _months(set(c.risk), q.start, q.end)]
    processing = _processing(jobs, q.start, q.end)
    audio = sum(j.audio_minutes for j in jobs)
    spent = sum((j.finished_at - j.started_at).total_seconds() for j in jobs) / 60.0
    totals = StatsTotals(
        sessions=sum(s.sessions for s in sessions),
        hours=round(sum(c.minutes.values()) / 60.0, 2),
        notes_signed=sum(n.signed for n in notes),
        notes_draft=sum(n.draft for n in notes),
        no_note=sum(n.no_note for n in notes),
        median_days_to_sign=c.overall_median,
        risk_flags=sum(sum(m.flags.values()) for m in risk),
        recordings_processed=len(jobs),
        audio_minutes=round(audio, 2),
        processing_minutes=round(spent, 2),
        processing_speed=round(audio / spent, 2) if spent else None,
    )
    return PracticeStats(
        scope=scope,
        source=source,
        start=q.start,
        end=q.end,
        client=client,
        totals=totals,
        sessions=sessions,
        notes=notes,
        sign_delays=delays,
        processing=processing,
        risk_kinds=kinds,
        risk=risk,
    )


# -- the service ----------------------------------------------------------------------------------------------


class StatsService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    @property
    def practice_view(self) -> bool:
        """Practice managers see the whole practice, in counts only."""
        return self.user.role == Role.PRACTICE_MANAGER.value

    def clients_sync(self) -> list[ClientChoice]:
        """The clients a therapist may filter by; none for a practice manager (no figures per client)."""
        if self.practice_view:
            return []
        with self.ctx.db.unit_of_work() as s:
            return [ClientChoice(c.id, c.name) for c in ClientRepository(s, self.user.id).list(include_archived=True)]

    clients = off_loop(clients_sync)

    def figures_sync(self, query: StatsQuery) -> PracticeStats:
        started = time.perf_counter()
        q = query
        if q.start is not None and q.end is not None:
            if q.start > q.end:
                raise ValidationError("The start date is after the end date.")
            if (q.end - q.start).days > MAX_RANGE_DAYS:
                raise ValidationError("Choose a range of at most ten years.")
        wants_client = q.client_id is not None or bool((q.client_name or "").strip())
        if self.practice_view and wants_client:
            raise ValidationError("Practice figures cover the whole practice: they are not shown for one client.")
        practice = self.practice_view
        server = self._clinic_counts(q) if practice else None
        with self.ctx.db.unit_of_work() as s:
            client_id, client = self._client(s, q) if wants_client else (None, None)
            repo = StatsRepository(s, self.user.id, practice=practice)
            if server is None:
                counts = _Counts.from_facts(
                    repo.session_facts(q.start, q.end, client_id), repo.flag_facts(q.start, q.end, client_id)
                )
            else:
                counts = server
            jobs = repo.job_facts(q.start, q.end, client_id)
            AuditRepository(s, self.user.id, self.ctx.workstation).record(
                "stats.view", PRACTICE if practice else OWN, None
            )
        stats = _assemble(
            counts,
            jobs,
            q,
            scope=PRACTICE if practice else OWN,
            source=CLINIC if server is not None else LOCAL,
            client=client,
        )
        log.info(
            "stats",
            extra={
                "scope": stats.scope,
                "source": stats.source,
                "weeks": len(stats.sessions),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return stats

    figures = off_loop(figures_sync)

    def _client(self, s: Session, q: StatsQuery) -> tuple[uuid.UUID, str]:
        clients = ClientRepository(s, self.user.id)
        if q.client_id is not None:
            found = clients.get(q.client_id)
        else:
            match = clients.find_by_name(q.client_name or "")
            if match is None:
                raise NotFoundError("You have no client of that name.")
            found = match
        return found.id, found.name

    def _clinic_counts(self, q: StatsQuery) -> _Counts | None:
        """The clinic's counts from its server when this manager joined a clinic here; None when they did not."""
        from sqlalchemy.exc import DBAPIError, OperationalError

        from tbdesktop.services.sync.connect import clinic_engine
        from tbdesktop.services.sync.server import connection_error
        from tbdesktop.services.sync.service import ClinicSignInError, SyncService
        from tbdesktop.store.stats_repository import server_practice_figures

        sync = SyncService(self.ctx)
        account = sync.account(self.user.id)
        if account is None:
            return None
        password = sync.held_password(self.user.id)
        if password is None:
            raise ClinicSignInError("Sign in to the clinic to see the practice's figures.")
        engine = clinic_engine(account.server, account.email, password, account.ca_file)
        try:
            with engine.connect() as conn:
                figures = server_practice_figures(conn, q.start, q.end)
        except OperationalError as exc:
            raise connection_error(exc, account.server, account.email, account.ca_file) from exc
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            log.warning("practice figures refused", extra={"sqlstate": code})
            if code == "42501":
                raise PermissionDeniedError(
                    "The clinic server shows practice figures to practice managers only."
                ) from exc
            if code in ("42883", "3F000"):
                raise TBError(
                    "The clinic server cannot count practice figures yet: ask IT to update it (tbdesktop clinic init)."
                ) from exc
            raise TBError(f"The clinic server refused the practice figures ({code or 'unknown error'}).") from exc
        finally:
            engine.dispose()
        return _Counts.from_server(figures)
