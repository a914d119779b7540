"""A rediarize job of the processing runner: the stored recording's voices separated again with a chosen number of
speakers, by the worker process's diarization worker alone, and laid over the stored words. Lines the therapist
corrected keep their speaker and words; line numbers never change (notes cite them). However it ends, the session
is completed again with its transcript: a failure or a cancellation changes nothing and says why."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from tbdesktop.engine.types import DiarizationResult
from tbdesktop.engine.worker_protocol import Error, Progress
from tbdesktop.errors import TBError
from tbdesktop.services.processing.handle import WorkerSlot
from tbdesktop.services.processing.jobs import ClaimedJob, live_session
from tbdesktop.services.processing.reporter import JobReporter
from tbdesktop.services.speakers.edits import StoredLine, relabel
from tbdesktop.store.models import JobStatus, ProcessingStatus, TranscriptSegment, utcnow
from tbdesktop.store.repositories import SystemJobRepository, SystemSegmentWriter, SystemStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

log = logging.getLogger(__name__)

# engine stage → runner stage (services/processing/runner.py STAGES)
ENGINE_STAGES = {"loading_model": "separating_setup", "preprocessing": "separating_audio", "diarizing": "separating"}
DONE = "Speakers separated again"
DELETED = "The recording was deleted, so the voices cannot be separated again."


class RediarizeStage:
    """Runs a rediarize job in a worker slot and lays the new speaker turns over the stored words."""

    def __init__(self, ctx: AppContext, reporter: JobReporter) -> None:
        self.ctx = ctx
        self.reporter = reporter

    async def run(self, job: ClaimedJob, slot: WorkerSlot) -> None:
        log.info("speaker separation started", extra={"job_id": job.key, "session_id": str(job.session_id)})
        recording = job.recording
        if recording is None:
            await self._done(job, JobStatus.FAILED, DELETED)
            return
        voices = job.params.get("voices")
        await self.reporter.progress(job, "separating_setup", 0.0, None, force=True)
        try:
            plain = await asyncio.to_thread(
                self.ctx.recordings.open_plaintext, recording.name, recording.key, recording.owner_id
            )
        except TBError as exc:
            await self._done(job, JobStatus.FAILED, exc.message)
            return

        async def on_progress(p: Progress) -> None:
            await self.reporter.progress(job, ENGINE_STAGES.get(p.stage, "separating"), p.fraction, p.eta)

        try:
            args = {
                "audio_path": str(plain.path),
                "num_speakers": int(voices) if voices else None,
                "speakers_hint": job.speakers_hint,
            }
            reply = await slot.request("rediarize", args, on_progress)
        finally:
            plain.close()
        if isinstance(reply, Error):
            await self._done(job, JobStatus.FAILED, reply.message or "Speaker separation failed.")
            return
        hint = int(voices) if voices else job.speakers_hint
        if await asyncio.to_thread(self._store_separation_sync, job, reply.data, hint):
            self.reporter.ended(job, ProcessingStatus.COMPLETED, DONE)

    async def cancelled(self, job: ClaimedJob) -> None:
        await self._done(job, JobStatus.CANCELLED, None)

    async def crashed(self, job: ClaimedJob, message: str) -> None:
        await self._done(job, JobStatus.FAILED, message)

    async def _done(self, job: ClaimedJob, status: JobStatus, error: str | None) -> None:
        """Nothing changed: the session is completed again with its transcript, and says why."""
        detail = "Speaker separation cancelled" if status == JobStatus.CANCELLED else "Speaker separation failed"
        message = None if error is None else f"{error} The transcript is unchanged."
        await self.reporter.completed_with(job, status, detail, message)

    def _store_separation_sync(self, job: ClaimedJob, result: dict[str, Any], hint: int | None) -> bool:
        session_id = job.session_id
        turns = DiarizationResult.from_dict(result).turns
        with self.ctx.db.unit_of_work() as s:
            row = live_session(s, job)
            if row is None:
                return False
            state = SystemStateRepository(s)
            segments = SystemSegmentWriter(s).in_order(session_id)
            stored = [
                StoredLine(seg.idx, seg.start_s, seg.end_s, seg.speaker, seg.text, list(seg.words or []), seg.manual)
                for seg in segments
            ]
            out = relabel(stored, turns, speakers_hint=hint)
            before = {k: dict(v) for k, v in (row.speakers or {}).items() if not k.startswith("_")}
            voices: dict[str, dict[str, Any]] = {}
            for line in out.lines:
                if line.speaker not in voices:
                    entry = dict(before.get(line.speaker) or {"name": None})
                    if entry.get("role_source") != "user":
                        entry["role"] = out.roles.get(line.speaker) or entry.get("role")
                    entry["talk_time_s"], entry["words"] = 0.0, 0
                    voices[line.speaker] = entry
                voices[line.speaker]["talk_time_s"] = round(
                    voices[line.speaker]["talk_time_s"] + max(line.end_s - line.start_s, 0.0), 2
                )
                voices[line.speaker]["words"] += len(line.text.split())
            by_idx = {seg.idx: seg for seg in segments}
            for line in out.lines:
                role = voices[line.speaker].get("role")
                seg = by_idx.get(line.idx)
                if seg is None:
                    s.add(
                        TranscriptSegment(
                            session_id=session_id,
                            idx=line.idx,
                            start_s=line.start_s,
                            end_s=line.end_s,
                            speaker=line.speaker,
                            role=role,
                            text=line.text,
                            words=line.words,
                            split_from=line.split_from,
                        )
                    )
                    continue
                seg.speaker, seg.role = line.speaker, role
                if line.text != seg.text or line.start_s != seg.start_s or line.end_s != seg.end_s:
                    seg.start_s, seg.end_s, seg.text, seg.words = line.start_s, line.end_s, line.text, line.words
            capture = {k: v for k, v in (row.speakers or {}).items() if k.startswith("_")}
            state.update_state(
                session_id,
                speakers={**voices, **capture},
                transcript_edited_at=utcnow(),
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail=DONE,
                processing_error=None,
                eta_seconds=None,
            )
            SystemJobRepository(s).finish(job.id, JobStatus.COMPLETED)
        log.info(
            "speakers stored",
            extra={"job_id": job.key, "lines_changed": len(out.changed), "speakers": len(voices)},
        )
        return True
