"""Helpers shared by the service tests."""

from __future__ import annotations

from typing import Any

from tbdesktop.services.context import AppContext
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob, ProcessingStatus, TherapySession, TranscriptSegment
from tbdesktop.store.repositories import SegmentWriter


def session_with_transcript(ctx: AppContext, user: Any, wav: Any, lines: list[tuple[str, str]]) -> Any:
    """An imported session whose transcript is the given lines (as if processing had produced them)."""
    service = SessionService(ctx, user)
    info = service.import_recording_sync(ImportRequest(source=wav, client_name="Jordan", consent_method="verbal"))
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
        SegmentWriter(s).replace(info.id, segments)
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.COMPLETED
        row.speakers = speakers
    return info
