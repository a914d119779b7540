"""A rediarize job of the processing runner: the stored recording's voices separated again with a chosen number of
speakers, by the worker process's diarization worker alone, and laid over the stored words. Lines the therapist
corrected keep their speaker and words; line numbers never change (notes cite them). However it ends, the session
is completed again with its transcript: a failure or a cancellation changes nothing and says why."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tbdesktop.engine.types import DiarizationResult
from tbdesktop.errors import TBError
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing.handle import WorkerCrashed, WorkerHandle
from tbdesktop.services.processing.notes_stage import CRASH_MESSAGE, MAX_ATTEMPTS
from tbdesktop.services.speakers.edits import StoredLine, relabel
from tbdesktop.store.models import JobKind, JobStatus, ProcessingJob, ProcessingStatus, TranscriptSegment, utcnow
from tbdesktop.store.repositories import JobRepository, ProcessingStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

log = logging.getLogger(__name__)

# engine stage → runner stage (services/processing/runner.py STAGES)
ENGINE_STAGES = {"loading_model": "separating_setup", "preprocessing": "separating_audio", "diarizing": "separating"}
DONE = "Speakers separated again"
DELETED = "The recording was deleted, so the voices cannot be separated again."


def only_separation_open(s: Session, session_id: uuid.UUID) -> bool:
    """Whether the session's open jobs are all speaker separations (cancelling them leaves it completed)."""
    kinds = set(
        s.scalars(
            select(ProcessingJob.kind).where(
                ProcessingJob.session_id == session_id,
                ProcessingJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
            )
        )
    )
    return kinds == {JobKind.REDIARIZE.value}


def cancel_open_processing(s: Session, session_id: uuid.UUID) -> tuple[int, bool]:
    """Cancels the session's queued and running jobs (the one cancel, for the runner and the services). Returns how
    many, and whether they were only speaker separations — then the transcript stays and so does "completed"."""
    separation = only_separation_open(s, session_id)
    count = JobRepository(s).cancel_open_for_session(session_id)
    if count:
        ProcessingStateRepository(s).update_state(
            session_id,
            processing_status=ProcessingStatus.COMPLETED if separation else ProcessingStatus.CANCELLED,
            processing_stage_detail="Speaker separation cancelled" if separation else "Cancelled",
            eta_seconds=None,
            **({"processing_progress": 100} if separation else {}),
        )
    return count, separation


class RediarizeStage:
    """Mixed into ProcessingRunner, whose worker, progress reporting and listeners it uses."""

    ctx: AppContext
    _worker: WorkerHandle | None
    _running: Any
    _last_write: dict[uuid.UUID, tuple[float, str]]

    if TYPE_CHECKING:  # provided by ProcessingRunner

        def _ensure_worker(self) -> WorkerHandle: ...

        async def _progress(
            self,
            job_id: uuid.UUID,
            session_id: uuid.UUID,
            stage: str,
            fraction: float,
            eta: float | None,
            *,
            force: bool = False,
        ) -> None: ...

        def _emit(self, event: ProgressEvent) -> None: ...

        def _requeue_sync(self, job_id: uuid.UUID, session_id: uuid.UUID) -> None: ...

    async def _run_rediarize_job(
        self,
        job_id: uuid.UUID,
        session_id: uuid.UUID,
        recording: Any,
        attempts: int,
        hint: int | None,
        params: dict[str, Any],
    ) -> None:
        log.info("speaker separation started", extra={"job_id": str(job_id), "session_id": str(session_id)})
        if recording is None:
            await self._separation_done(job_id, session_id, JobStatus.FAILED, DELETED)
            return
        voices = params.get("voices")
        await self._progress(job_id, session_id, "separating_setup", 0.0, None, force=True)
        try:
            plain = await asyncio.to_thread(
                self.ctx.recordings.open_plaintext, recording.name, recording.key, recording.owner_id
            )
        except TBError as exc:
            await self._separation_done(job_id, session_id, JobStatus.FAILED, exc.message)
            return
        try:
            worker = await asyncio.to_thread(self._ensure_worker)
            if self._running is not None and self._running.cancelled:  # cancelled before there was a worker to stop
                await self._separation_done(job_id, session_id, JobStatus.CANCELLED, None)
                return
            worker.send(
                {
                    "type": "rediarize",
                    "job_id": str(job_id),
                    "audio_path": str(plain.path),
                    "num_speakers": int(voices) if voices else None,
                    "speakers_hint": hint,
                }
            )
            while True:
                msg = await asyncio.to_thread(worker.recv, 0.5)
                if msg is None or msg.get("job_id") not in (None, str(job_id)):
                    continue
                kind = msg.get("type")
                if kind == "progress":
                    stage = ENGINE_STAGES.get(str(msg["stage"]), "separating")
                    await self._progress(job_id, session_id, stage, float(msg["fraction"]), msg.get("eta"))
                elif kind == "result":
                    stored = await asyncio.to_thread(
                        self._store_separation_sync, job_id, session_id, msg["result"], voices or hint
                    )
                    if stored:
                        self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.COMPLETED.value, 100, DONE, None))
                    return
                elif kind == "error" and msg.get("error_type") == "WorkerCrashedError":
                    raise WorkerCrashed("an engine worker died")
                elif kind == "error":
                    reason = str(msg.get("message") or "Speaker separation failed.")
                    await self._separation_done(job_id, session_id, JobStatus.FAILED, reason)
                    return
        except WorkerCrashed:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            if self._running is not None and self._running.cancelled:
                await self._separation_done(job_id, session_id, JobStatus.CANCELLED, None)
            elif attempts < MAX_ATTEMPTS:
                await asyncio.to_thread(self._requeue_sync, job_id, session_id)
            else:
                await self._separation_done(job_id, session_id, JobStatus.FAILED, CRASH_MESSAGE)
        except asyncio.CancelledError:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            raise
        finally:
            plain.close()

    def _store_separation_sync(
        self, job_id: uuid.UUID, session_id: uuid.UUID, result: dict[str, Any], hint: int | None
    ) -> bool:
        turns = DiarizationResult.from_dict(result).turns
        with self.ctx.db.unit_of_work() as s:
            state = ProcessingStateRepository(s)
            row = state.get(session_id)
            if row is None:
                JobRepository(s).finish(job_id, JobStatus.CANCELLED)
                return False
            segments = list(
                s.scalars(
                    select(TranscriptSegment)
                    .where(TranscriptSegment.session_id == session_id)
                    .order_by(TranscriptSegment.start_s, TranscriptSegment.idx)
                )
            )
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
            JobRepository(s).finish(job_id, JobStatus.COMPLETED)
        self._last_write.pop(job_id, None)
        log.info(
            "speakers stored",
            extra={"job_id": str(job_id), "lines_changed": len(out.changed), "speakers": len(voices)},
        )
        return True

    async def _separation_done(
        self, job_id: uuid.UUID, session_id: uuid.UUID, status: JobStatus, error: str | None
    ) -> None:
        """Nothing changed: the session is completed again with its transcript, and says why."""
        detail = "Speaker separation cancelled" if status == JobStatus.CANCELLED else "Speaker separation failed"
        message = None if error is None else f"{error} The transcript is unchanged."
        await asyncio.to_thread(self._separation_done_sync, job_id, session_id, status, detail, message)
        log.info("speaker separation ended", extra={"job_id": str(job_id), "status": status.value})
        self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.COMPLETED.value, 100, detail, None, message))

    def _separation_done_sync(
        self, job_id: uuid.UUID, session_id: uuid.UUID, status: JobStatus, detail: str, error: str | None
    ) -> None:
        with self.ctx.db.unit_of_work() as s:
            ProcessingStateRepository(s).update_state(
                session_id,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail=detail,
                processing_error=error,
                eta_seconds=None,
            )
            JobRepository(s).finish(job_id, status, error)
        self._last_write.pop(job_id, None)
