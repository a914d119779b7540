"""A process job: the recording transcribed and its speakers separated by the worker slot's coordinator, the
transcript stored, then the note written (the generating_notes stage)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from tbdesktop.engine.worker_protocol import Error, Progress
from tbdesktop.errors import TBError
from tbdesktop.services.processing.handle import WorkerSlot
from tbdesktop.services.processing.jobs import ClaimedJob, live_session
from tbdesktop.services.processing.notes_stage import NotesStage
from tbdesktop.services.processing.reporter import STAGES, JobReporter
from tbdesktop.store.models import ProcessingStatus, TranscriptSegment
from tbdesktop.store.processing_cancel import cancel_open_processing
from tbdesktop.store.repositories import SystemSegmentWriter, SystemStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

log = logging.getLogger(__name__)

MISSING = "The recording file is missing from the data folder."


class TranscribeStage:
    def __init__(self, ctx: AppContext, reporter: JobReporter, notes: NotesStage) -> None:
        self.ctx = ctx
        self.reporter = reporter
        self.notes = notes

    async def run(self, job: ClaimedJob, slot: WorkerSlot) -> None:
        log.info("job started", extra={"job_id": job.key, "session_id": str(job.session_id)})
        started = time.monotonic()
        recording = job.recording
        if recording is None:
            await self.reporter.fail(job, MISSING)
            return
        # The worker reads a short-lived decrypted copy (memory-backed storage), removed however the job ends.
        try:
            plain = await asyncio.to_thread(
                self.ctx.recordings.open_plaintext, recording.name, recording.key, recording.owner_id
            )
        except TBError as exc:
            await self.reporter.fail(job, exc.message)
            return

        async def on_progress(p: Progress) -> None:
            await self.reporter.progress(job, p.stage, p.fraction, p.eta)

        try:
            await self.reporter.progress(job, "loading_model", 0.0, None, force=True)
            args = {
                "audio_path": str(plain.path),
                "speakers_hint": job.speakers_hint,
                "channel_speakers": recording.channel_per_speaker,
            }
            reply = await slot.request("pipeline", args, on_progress)
        finally:
            plain.close()
        if isinstance(reply, Error):
            await self.reporter.fail(job, reply.message or "Processing failed.")
            return
        if await asyncio.to_thread(self._store_result_sync, job, reply.data):
            await self.notes.write(job, slot, None)
        log.info("job completed", extra={"job_id": job.key, "seconds": round(time.monotonic() - started, 2)})

    async def cancelled(self, job: ClaimedJob) -> None:
        await asyncio.to_thread(self._cancel_sync, job)
        self.reporter.ended(job, ProcessingStatus.CANCELLED, "Cancelled")

    def _cancel_sync(self, job: ClaimedJob) -> None:
        with self.ctx.db.unit_of_work() as s:
            cancel_open_processing(s, job.session_id)

    async def crashed(self, job: ClaimedJob, message: str) -> None:
        await self.reporter.fail(job, message)

    def _store_result_sync(self, job: ClaimedJob, result: dict[str, Any]) -> bool:
        """The transcript, speakers and duration; the session moves on to writing notes. False if it is gone."""
        session_id = job.session_id
        segments = []
        speakers: dict[str, Any] = {}
        for info in result.get("speakers", []):
            speakers[str(info["id"])] = {
                "role": info.get("role"),
                "name": None,
                "talk_time_s": info.get("talk_time_s"),
                "words": info.get("words"),
            }
        for idx, seg in enumerate(result.get("segments", [])):
            speaker = str(seg.get("speaker") or "SPEAKER_00")
            speakers.setdefault(speaker, {"role": seg.get("role"), "name": None})
            segments.append(
                TranscriptSegment(
                    session_id=session_id,
                    idx=idx,
                    start_s=float(seg["start"]),
                    end_s=float(seg["end"]),
                    speaker=speaker,
                    role=seg.get("role"),
                    text=str(seg.get("text", "")).strip(),
                    words=[dict(w) for w in seg.get("words", [])],
                )
            )
        with self.ctx.db.unit_of_work() as s:
            row = live_session(s, job)
            if row is None:
                return False
            state = SystemStateRepository(s)
            # What the recording says about its capture ("_" keys) outlives a new transcript.
            speakers.update({k: v for k, v in (row.speakers or {}).items() if k.startswith("_")})
            SystemSegmentWriter(s).replace(session_id, segments)
            values: dict[str, Any] = {
                "processing_status": ProcessingStatus.GENERATING_NOTES,
                "processing_progress": STAGES["generating_notes"][1],
                "processing_stage_detail": STAGES["generating_notes"][3],
                "processing_error": None,
                "eta_seconds": None,
                "speakers": speakers,
            }
            duration = result.get("duration_s")
            if duration:
                values["duration_mins"] = round(float(duration) / 60.0, 2)
            state.update_state(session_id, **values)
        return True
