"""Helpers shared by the service tests."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob, ProcessingStatus, TherapySession, TranscriptSegment
from tbdesktop.store.repositories import SystemSegmentWriter


def session_with_transcript(ctx: AppContext, user: Any, wav: Any, lines: list[tuple[str, str]]) -> Any:
    """An imported session whose transcript is the given lines (as if processing had produced them)."""
    service = SessionService(ctx, user)
    info = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=wav, client_name="Jordan", consent_method="verbal")
    )
    with ctx.db.unit_of_work() as s:
        for job in s.query(ProcessingJob).filter(ProcessingJob.session_id == info.id):
            job.status = "completed"
        speakers = {"SPEAKER_00": {"role": "therapist"}, "SPEAKER_01": {"role": "client"}}
        segments = [
            TranscriptSegment(
                session_id=info.id,
                idx=i,
                start_s=i * 5.0,
                end_s=i * 5.0 + 4.5,
                speaker="SPEAKER_00" if role == "therapist" else "SPEAKER_01",
                role=role,
                text=text,
                words=[],
            )
            for i, (role, text) in enumerate(lines)
        ]
        SystemSegmentWriter(s).replace(info.id, segments)
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.COMPLETED
        row.speakers = speakers
    return info


def timed_words(text: str, start: float, step: float = 0.5) -> list[dict[str, Any]]:
    """Word timings for a line: one word every ``step`` seconds from ``start``, each lasting 0.8 of a step."""
    return [
        {"start": start + i * step, "end": start + (i + 0.8) * step, "word": f" {w}", "probability": 0.9}
        for i, w in enumerate(text.split())
    ]


def segment_rows(ctx: AppContext, session_id: Any) -> dict[int, TranscriptSegment]:
    """The session's stored lines by line number, detached from the database session."""
    with ctx.db.unit_of_work() as s:
        rows = s.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == session_id)).all()
        s.expunge_all()
        return {r.idx: r for r in rows}


def run_until_idle(runner: ProcessingRunner) -> int:
    """Run the real processing queue until nothing is left, then stop its workers; returns how many jobs ran."""

    async def go() -> int:
        try:
            return await runner.run_until_idle()
        finally:
            await runner.stop()

    return asyncio.run(go())


def run_queue_once(ctx: AppContext, user: Any) -> list[ProgressEvent]:
    """Run the real processing queue until it is idle after exactly one job; returns the progress it reported."""
    runner = ProcessingRunner(ctx, owner_ids=[user.id])
    events: list[ProgressEvent] = []
    runner.add_listener(events.append)
    assert run_until_idle(runner) == 1
    return events
