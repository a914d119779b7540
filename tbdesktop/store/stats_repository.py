"""The facts practice figures are counted from: one small row per session, risk flag or finished processing job,
never a client's name or any text. Scoped like every repository: the signed-in user's own rows, or with
``practice=True`` every row of this database (a scope the stats service gives practice managers only).

``server_practice_figures`` reads the clinic server's aggregate function (migration 0009), which returns counts per
week, month and kind of the whole clinic to a practice manager's login and refuses everyone else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Connection, exists, func, select, text
from sqlalchemy.orm import Session

from tbdesktop.errors import PermissionDeniedError
from tbdesktop.store.models import JobKind, JobStatus, Note, ProcessingJob, RiskFlag, TherapySession

# A flag whose severity is "denied" records an explicit denial: it is not a risk raised.
RAISED_SEVERITIES = ("low", "moderate", "high")


@dataclass(frozen=True)
class SessionFact:
    session_date: date
    duration_mins: float | None
    has_note: bool
    first_signed_at: datetime | None  # when the session's first note version was signed


@dataclass(frozen=True)
class FlagFact:
    session_date: date
    kind: str


@dataclass(frozen=True)
class JobFact:
    started_at: datetime
    finished_at: datetime
    audio_minutes: float


@dataclass(frozen=True)
class ServerFigure:
    """One number of the clinic server's aggregate: ``series`` names it, ``bucket`` is its week or month (None for
    the whole range), ``label`` its kind or sub-series."""

    series: str
    bucket: date | None
    label: str | None
    value: float


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class StatsRepository:
    def __init__(self, session: Session, user_id: uuid.UUID, *, practice: bool = False) -> None:
        self.s = session
        self.user_id = user_id
        self.practice = practice

    def _sessions_where(
        self, start: date | None, end: date | None, client_id: uuid.UUID | None
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if not self.practice:
            where.append(TherapySession.owner_id == self.user_id)
        if client_id is not None:
            if self.practice:
                raise PermissionDeniedError("Practice figures are not broken down by client.")
            where.append(TherapySession.client_id == client_id)
        if start is not None:
            where.append(TherapySession.session_date >= start)
        if end is not None:
            where.append(TherapySession.session_date <= end)
        return where

    def session_facts(
        self, start: date | None = None, end: date | None = None, client_id: uuid.UUID | None = None
    ) -> list[SessionFact]:
        """Each session dated within [start, end]: its date, length and how far its note got."""
        signed = (
            select(Note.session_id, func.min(Note.signed_at).label("signed_at"))
            .where(Note.status == "signed")
            .group_by(Note.session_id)
            .subquery()
        )
        has_note = exists(select(Note.id).where(Note.session_id == TherapySession.id)).label("has_note")
        q = (
            select(TherapySession.session_date, TherapySession.duration_mins, has_note, signed.c.signed_at)
            .outerjoin(signed, signed.c.session_id == TherapySession.id)
            .where(*self._sessions_where(start, end, client_id))
            .order_by(TherapySession.session_date)
        )
        return [
            SessionFact(session_date=d, duration_mins=mins, has_note=bool(noted), first_signed_at=at)
            for d, mins, noted, at in self.s.execute(q).all()
        ]

    def flag_facts(
        self, start: date | None = None, end: date | None = None, client_id: uuid.UUID | None = None
    ) -> list[FlagFact]:
        """Each risk flag raised (denials left out) in a session dated within [start, end]."""
        q = (
            select(TherapySession.session_date, RiskFlag.kind)
            .join(TherapySession, TherapySession.id == RiskFlag.session_id)
            .where(RiskFlag.severity.in_(RAISED_SEVERITIES), *self._sessions_where(start, end, client_id))
            .order_by(TherapySession.session_date, RiskFlag.id)
        )
        return [FlagFact(session_date=d, kind=str(kind)) for d, kind in self.s.execute(q).all()]

    def job_facts(
        self, start: date | None = None, end: date | None = None, client_id: uuid.UUID | None = None
    ) -> list[JobFact]:
        """Each completed processing of a recording that finished within [start, end] (UTC days): when it ran and
        how many minutes of audio it processed."""
        where = self._sessions_where(None, None, client_id)
        if start is not None:
            where.append(ProcessingJob.finished_at >= _day_start(start))
        if end is not None:
            where.append(ProcessingJob.finished_at < _day_start(end + timedelta(days=1)))
        q = (
            select(ProcessingJob.started_at, ProcessingJob.finished_at, TherapySession.duration_mins)
            .join(TherapySession, TherapySession.id == ProcessingJob.session_id)
            .where(
                ProcessingJob.kind == JobKind.PROCESS.value,
                ProcessingJob.status == JobStatus.COMPLETED.value,
                ProcessingJob.started_at.is_not(None),
                ProcessingJob.finished_at.is_not(None),
                TherapySession.duration_mins > 0,
                *where,
            )
            .order_by(ProcessingJob.finished_at)
        )
        return [
            JobFact(started_at=started, finished_at=finished, audio_minutes=float(mins))
            for started, finished, mins in self.s.execute(q).all()
            if started is not None and finished is not None and mins is not None and finished > started
        ]


_SERVER_SQL = text(
    "SELECT series, bucket, label, value FROM tb_stats.practice_figures(CAST(:start AS date), CAST(:end AS date))"
)


def server_practice_figures(conn: Connection, start: date | None, end: date | None) -> list[ServerFigure]:
    """The whole clinic's counts, as the clinic server's aggregate function returns them to a practice manager."""
    rows = conn.execute(_SERVER_SQL, {"start": start, "end": end}).all()
    return [
        ServerFigure(series=str(series), bucket=bucket, label=label, value=float(value))
        for series, bucket, label, value in rows
        if value is not None
    ]
