"""A practice with known figures, written as processing and signing would leave it: two therapists' sessions, notes
(signed, draft, none), risk flags (raised and denied) and processing jobs (completed, failed, other kinds).

Dana (two clients) has six sessions in the weeks of 2 Nov, 9 Nov, 23 Nov and 30 Nov 2026 (none in the week of 16 Nov);
Morgan (one client) has two. The figures each test expects are worked out by hand in the tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tbdesktop.store.models import Client, Note, ProcessingJob, RiskFlag, TherapySession

CLIENT_NAMES = ("Jordan Lee", "Alex Kim", "Riley Stone")
SUMMARY = "Discussed sleep and the new job."


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Seed:
    day: date
    client: str
    minutes: float | None
    signed: list[datetime] = field(default_factory=list)  # signed_at of each signed version, in order
    drafts: int = 0  # draft versions after the signed ones
    flags: list[tuple[str, str]] = field(default_factory=list)  # (kind, severity)
    jobs: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)  # (kind, status, started, finished)


DANA = [
    Seed(
        date(2026, 11, 3), "Jordan Lee", 50.0, signed=[at("2026-11-03", "18:00")],
        flags=[("suicidal_ideation", "high"), ("self_harm", "denied")],
        jobs=[("process", "completed", at("2026-11-03", "10:00"), at("2026-11-03", "10:10"))],
    ),
    Seed(
        date(2026, 11, 5), "Alex Kim", 60.0, signed=[at("2026-11-09", "09:00"), at("2026-11-12", "09:00")],
        jobs=[("process", "completed", at("2026-11-05", "12:00"), at("2026-11-05", "12:20"))],
    ),
    Seed(
        date(2026, 11, 10), "Jordan Lee", 45.0, drafts=1,
        flags=[("substance_use", "moderate"), ("suicidal_ideation", "low")],
        jobs=[
            ("process", "failed", at("2026-11-10", "09:00"), at("2026-11-10", "09:02")),
            ("regenerate_notes", "completed", at("2026-11-10", "10:00"), at("2026-11-10", "10:01")),
        ],
    ),
    Seed(date(2026, 11, 12), "Jordan Lee", None),
    Seed(
        date(2026, 11, 24), "Alex Kim", 30.0, signed=[at("2026-11-26", "16:30")],
        jobs=[("process", "completed", at("2026-11-24", "09:00"), at("2026-11-24", "09:15"))],
    ),
    Seed(
        date(2026, 12, 1), "Jordan Lee", 40.0, signed=[at("2026-12-02", "08:00")],
        flags=[("harm_to_others", "high")],
        jobs=[("process", "completed", at("2026-12-01", "08:00"), at("2026-12-01", "08:08"))],
    ),
]  # fmt: skip

MORGAN = [
    Seed(
        date(2026, 11, 4), "Riley Stone", 55.0, signed=[at("2026-11-04", "20:00")],
        flags=[("self_harm", "moderate")],
        jobs=[("process", "completed", at("2026-11-04", "14:00"), at("2026-11-04", "14:11"))],
    ),
    Seed(date(2026, 11, 25), "Riley Stone", 50.0, drafts=1),
]  # fmt: skip


def seed(ctx: Any, owner: uuid.UUID, seeds: list[Seed]) -> dict[str, uuid.UUID]:
    """Writes the sessions of ``owner``; returns their clients' ids by name."""
    clients: dict[str, uuid.UUID] = {}
    with ctx.db.unit_of_work() as s:
        for item in seeds:
            if item.client not in clients:
                client = Client(owner_id=owner, name=item.client)
                s.add(client)
                s.flush()
                clients[item.client] = client.id
            row = TherapySession(
                owner_id=owner,
                client_id=clients[item.client],
                session_date=item.day,
                duration_mins=item.minutes,
                processing_status="completed" if item.minutes else "failed",
                ai_summary=SUMMARY,
                speakers={},
            )
            s.add(row)
            s.flush()
            version = 0
            for signed_at in item.signed:
                version += 1
                s.add(
                    Note(
                        session_id=row.id, version=version, status="signed", signed_at=signed_at, signed_by=owner,
                        sections={"plan": {"title": "Plan", "text": "Meet next week.", "position": 0}},
                    )
                )  # fmt: skip
            for _ in range(item.drafts):
                version += 1
                s.add(
                    Note(
                        session_id=row.id, version=version, status="draft",
                        sections={"plan": {"title": "Plan", "text": "Review sleep diary.", "position": 0}},
                    )
                )  # fmt: skip
            for i, (kind, severity) in enumerate(item.flags):
                s.add(RiskFlag(session_id=row.id, kind=kind, severity=severity, quote="a quote", segment_idx=i))
            for kind, status, started, finished in item.jobs:
                s.add(
                    ProcessingJob(
                        session_id=row.id, kind=kind, status=status, started_at=started, finished_at=finished,
                        created_at=started, params={},
                    )
                )  # fmt: skip
    return clients


def series(stats: Any) -> dict[str, list[Any]]:
    """A PracticeStats' series as plain lists, to compare with figures worked out by hand."""
    return {
        "weeks": [w.week for w in stats.sessions],
        "sessions": [w.sessions for w in stats.sessions],
        "hours": [w.hours for w in stats.sessions],
        "notes": [(n.signed, n.draft, n.no_note) for n in stats.notes],
        "median": [n.median_days_to_sign for n in stats.notes],
        "delays": [d.notes for d in stats.sign_delays],
        "processing": [
            (p.week, p.recordings, p.audio_minutes, p.processing_minutes, p.speed) for p in stats.processing
        ],
        "risk": [(m.month, m.flags) for m in stats.risk],
    }
