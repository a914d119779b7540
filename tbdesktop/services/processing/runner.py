"""The processing runner: claims queued jobs, runs them in a worker process, records progress and results.

Lives on the asyncio loop (the Qt loop in the GUI via qasync, `asyncio.run` in the CLI); blocking work — the
database and the worker pipe — runs in threads, so the loop never waits on either.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing.handle import WorkerCrashed, WorkerHandle
from tbdesktop.services.processing.notes_stage import CRASH_MESSAGE, MAX_ATTEMPTS, NotesStage
from tbdesktop.services.processing.rediarize_stage import RediarizeStage, cancel_open_processing
from tbdesktop.store.models import (
    CAPTURE_KEY,
    CHANNEL_PER_SPEAKER,
    SPEAKERS_HINT,
    JobKind,
    JobStatus,
    ProcessingJob,
    ProcessingStatus,
    TranscriptSegment,
    utcnow,
)
from tbdesktop.store.processing_state import InvalidTransitionError
from tbdesktop.store.repositories import JobRepository, ProcessingStateRepository, SegmentWriter

log = logging.getLogger(__name__)

Listener = Callable[[ProgressEvent], None]

# engine stage → (session status, overall % at start, overall % at end, words shown to the user)
STAGES: dict[str, tuple[ProcessingStatus, int, int, str]] = {
    "loading_model": (ProcessingStatus.PREPROCESSING, 0, 2, "Loading speech model…"),
    "preprocessing": (ProcessingStatus.PREPROCESSING, 2, 8, "Preparing audio…"),
    "transcribing": (ProcessingStatus.TRANSCRIBING, 8, 94, "Transcribing and identifying speakers…"),
    "diarizing": (ProcessingStatus.DIARIZING, 94, 96, "Identifying speakers…"),
    "merging": (ProcessingStatus.DIARIZING, 96, 97, "Labelling therapist and client…"),
    "generating_notes": (ProcessingStatus.GENERATING_NOTES, 97, 100, "Writing notes…"),
    # a rediarize job: speaker separation alone
    "separating_setup": (ProcessingStatus.PREPROCESSING, 0, 3, "Loading speaker model…"),
    "separating_audio": (ProcessingStatus.PREPROCESSING, 3, 25, "Preparing audio…"),
    "separating": (ProcessingStatus.DIARIZING, 25, 99, "Separating speakers…"),
}
FINISHED = {ProcessingStatus.COMPLETED, ProcessingStatus.FAILED, ProcessingStatus.CANCELLED}


@dataclass(frozen=True)
class _Stored:
    """Where a job's recording is and how to open it."""

    name: str
    key: str | None
    owner_id: uuid.UUID
    channel_per_speaker: bool = False  # recorded with one microphone per person, on two channels


@dataclass
class _Running:
    job_id: uuid.UUID
    session_id: uuid.UUID
    cancelled: bool = False


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name != "posix":
        return True  # cannot tell cheaply; the lease expiry decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessingRunner(NotesStage, RediarizeStage):
    def __init__(
        self,
        ctx: AppContext,
        owner_ids: list[uuid.UUID] | None = None,
        *,
        lease_s: float = 120.0,
        db_write_interval_s: float = 1.0,
        poll_interval_s: float = 5.0,
    ) -> None:
        self.ctx = ctx
        self.owner_ids = owner_ids
        self.lease_s = lease_s
        self.db_write_interval_s = db_write_interval_s
        self.poll_interval_s = poll_interval_s
        self.lease_owner = f"{ctx.workstation}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._listeners: list[Listener] = []
        self._worker: WorkerHandle | None = None
        self._running: _Running | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._last_write: dict[uuid.UUID, tuple[float, str]] = {}

    # -- listeners ----------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: ProgressEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("progress listener failed")

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, *, warm_up: bool = True) -> None:
        """Resume abandoned jobs, then keep processing in the background until stop().

        With warm_up, the worker process starts and loads its models now rather than with the first job.
        """
        self._wake = asyncio.Event()
        await self.resume_abandoned()
        if warm_up:
            try:
                worker = await asyncio.to_thread(self._ensure_worker)
                worker.send({"type": "warmup"})
            except WorkerCrashed:
                log.warning("worker warm-up failed; it will start with the first job")
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.to_thread(worker.shutdown)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None and self._worker.alive else None

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            try:
                worked = await self.run_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("processing loop error")
                worked = False
            if not worked:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                except TimeoutError:
                    pass

    async def resume_abandoned(self) -> int:
        requeued = await asyncio.to_thread(self._resume_sync)
        for session_id in requeued:
            self._emit(ProgressEvent(session_id, None, ProcessingStatus.QUEUED.value, 0, "Waiting to resume", None))
        if requeued:
            log.info("resumed unfinished jobs", extra={"count": len(requeued)})
        return len(requeued)

    def _resume_sync(self) -> list[uuid.UUID]:
        host = self.ctx.workstation + ":"
        now = utcnow()

        def abandoned(job: ProcessingJob) -> bool:
            if job.lease_expires_at is None or job.lease_expires_at < now:
                return True
            owner = job.lease_owner or ""
            if not owner.startswith(host):
                return False  # another workstation holds a live lease
            try:
                return not _pid_alive(int(owner.split(":")[1]))
            except (IndexError, ValueError):
                return True

        with self.ctx.db.unit_of_work() as s:
            requeued = JobRepository(s).requeue_abandoned(abandoned)
            for job in requeued:
                ProcessingStateRepository(s).update_state(
                    job.session_id,
                    processing_status=ProcessingStatus.QUEUED,
                    processing_stage_detail="Waiting to resume",
                    eta_seconds=None,
                )
            return [job.session_id for job in requeued]

    # -- running jobs -------------------------------------------------------------------------------------

    async def run_until_idle(self) -> int:
        """Process queued jobs until none is left; returns how many ran (CLI --wait, tests)."""
        count = 0
        while await self.run_next():
            count += 1
        return count

    async def wait_for_session(self, session_id: uuid.UUID, poll_s: float = 1.0) -> ProgressEvent:
        """Process jobs (or wait for another instance to) until the session's processing has finished."""
        while True:
            state = await asyncio.to_thread(self._session_state, session_id)
            if state is None:
                return ProgressEvent(session_id, None, ProcessingStatus.CANCELLED.value, 0, "Deleted", None)
            if state.status in {s.value for s in FINISHED}:
                return state
            if not await self.run_next():
                await asyncio.sleep(poll_s)

    def _session_state(self, session_id: uuid.UUID) -> ProgressEvent | None:
        with self.ctx.db.unit_of_work() as s:
            row = ProcessingStateRepository(s).get(session_id)
            if row is None:
                return None
            return ProgressEvent(
                session_id,
                None,
                row.processing_status.value,
                int(row.processing_progress or 0),
                row.processing_stage_detail,
                row.eta_seconds,
                row.processing_error,
            )

    async def run_next(self) -> bool:
        """Claim and run one queued job. False when there was nothing to do."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            claimed = await asyncio.to_thread(self._claim_sync)
            if claimed is None:
                return False
            job_id, session_id, recording, attempts, hint, kind, params = claimed
            self._running = _Running(job_id, session_id)
            try:
                if kind == JobKind.REGENERATE_NOTES.value:
                    await self._run_notes_job(job_id, session_id, params.get("template_id"), attempts)
                elif kind == JobKind.REDIARIZE.value:
                    await self._run_rediarize_job(job_id, session_id, recording, attempts, hint, params)
                else:
                    await self._run_job(job_id, session_id, recording, attempts, hint)
            except InvalidTransitionError:
                # the session's state was changed elsewhere while its job ran: the job ends, the session stays
                log.info("job ended: its session moved on elsewhere", extra={"job_id": str(job_id)})
                worker, self._worker = self._worker, None
                if worker is not None:
                    await asyncio.to_thread(worker.kill)
                await asyncio.to_thread(self._finish_job_sync, job_id, JobStatus.CANCELLED)
            finally:
                self._running = None
            return True

    def _claim_sync(
        self,
    ) -> tuple[uuid.UUID, uuid.UUID, _Stored | None, int, int | None, str, dict[str, Any]] | None:
        with self.ctx.db.unit_of_work() as s:
            jobs = JobRepository(s)
            for _ in range(5):
                job = jobs.next_queued(self.owner_ids)
                if job is None:
                    return None
                if not jobs.claim(job.id, self.lease_owner, self.lease_s):
                    continue
                row = ProcessingStateRepository(s).get(job.session_id)
                recording = None
                hint = None
                if row is not None:
                    if row.recording_path:
                        capture = (row.speakers or {}).get(CAPTURE_KEY) or {}
                        recording = _Stored(
                            row.recording_path,
                            row.recording_key,
                            row.owner_id,
                            capture.get("layout") == CHANNEL_PER_SPEAKER,
                        )
                    hint = SPEAKERS_HINT.get(row.session_type or "individual")
                return job.id, job.session_id, recording, job.attempts + 1, hint, job.kind, dict(job.params or {})
        return None

    def _ensure_worker(self) -> WorkerHandle:
        if self._worker is None or not self._worker.alive:
            if self._worker is not None:
                self._worker.kill()
            self._worker = WorkerHandle(self.ctx.pipeline_options())
            self._worker.start()
        return self._worker

    async def _run_job(
        self,
        job_id: uuid.UUID,
        session_id: uuid.UUID,
        recording: _Stored | None,
        attempts: int,
        hint: int | None = None,
    ) -> None:
        log.info("job started", extra={"job_id": str(job_id), "session_id": str(session_id)})
        if recording is None:
            await self._fail(job_id, session_id, "The recording file is missing from the data folder.")
            return
        # The worker reads a short-lived decrypted copy (memory-backed storage), removed however the job ends.
        try:
            plain = await asyncio.to_thread(
                self.ctx.recordings.open_plaintext, recording.name, recording.key, recording.owner_id
            )
        except TBError as exc:
            await self._fail(job_id, session_id, exc.message)
            return
        try:
            await self._process(job_id, session_id, plain.path, attempts, hint, recording.channel_per_speaker)
        finally:
            plain.close()

    async def _process(
        self,
        job_id: uuid.UUID,
        session_id: uuid.UUID,
        audio: Path,
        attempts: int,
        hint: int | None,
        channel_speakers: bool = False,
    ) -> None:
        started = time.monotonic()
        await self._progress(job_id, session_id, "loading_model", 0.0, None, force=True)
        try:
            worker = await asyncio.to_thread(self._ensure_worker)
            worker.send(
                {
                    "type": "run",
                    "job_id": str(job_id),
                    "audio_path": str(audio),
                    "speakers_hint": hint,
                    "channel_speakers": channel_speakers,
                }
            )
            while True:
                msg = await asyncio.to_thread(worker.recv, 0.5)
                if msg is None or msg.get("job_id") not in (None, str(job_id)):
                    continue
                kind = msg.get("type")
                if kind == "progress":
                    await self._progress(job_id, session_id, str(msg["stage"]), float(msg["fraction"]), msg.get("eta"))
                elif kind == "result":
                    stored = await asyncio.to_thread(self._store_result_sync, job_id, session_id, msg["result"])
                    if stored:
                        await self._notes_stage(job_id, session_id, None, worker)
                    log.info(
                        "job completed",
                        extra={"job_id": str(job_id), "seconds": round(time.monotonic() - started, 2)},
                    )
                    return
                elif kind == "error" and msg.get("error_type") == "WorkerCrashedError":
                    raise WorkerCrashed("an engine worker died")  # retried like a crash of the worker itself
                elif kind == "error":
                    await self._fail(job_id, session_id, str(msg.get("message") or "Processing failed."))
                    return
        except WorkerCrashed:
            if self._running is not None and self._running.cancelled:
                await self._finish_cancelled(job_id, session_id)
                return
            log.warning("worker crashed", extra={"job_id": str(job_id), "attempt": attempts})
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            if attempts < MAX_ATTEMPTS:
                await asyncio.to_thread(self._requeue_sync, job_id, session_id)
            else:
                await self._fail(job_id, session_id, CRASH_MESSAGE)
        except asyncio.CancelledError:
            # The app is closing: the job stays claimed by a dead process and is resumed at next start.
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            raise

    async def _progress(
        self,
        job_id: uuid.UUID,
        session_id: uuid.UUID,
        stage: str,
        fraction: float,
        eta: float | None,
        *,
        force: bool = False,
    ) -> None:
        status, lo, hi, words = STAGES.get(stage, (ProcessingStatus.TRANSCRIBING, 8, 97, "Processing…"))
        fraction = min(max(fraction, 0.0), 1.0)
        overall = int(lo + (hi - lo) * fraction)
        eta_i = int(round(eta)) if eta is not None else None
        event = ProgressEvent(session_id, job_id, status.value, overall, words, eta_i)
        self._emit(event)
        now = time.monotonic()
        last = self._last_write.get(job_id)
        if force or last is None or last[1] != status.value or now - last[0] >= self.db_write_interval_s:
            self._last_write[job_id] = (now, status.value)
            try:
                await asyncio.to_thread(self._write_progress_sync, job_id, event)
            except InvalidTransitionError:
                # the session was moved on elsewhere (e.g. cancelled from the command line): stop its job
                log.info("job's session moved on elsewhere; cancelling", extra={"job_id": str(job_id)})
                await self.cancel(session_id)

    def _write_progress_sync(self, job_id: uuid.UUID, event: ProgressEvent) -> None:
        with self.ctx.db.unit_of_work() as s:
            ProcessingStateRepository(s).update_state(
                event.session_id,
                processing_status=ProcessingStatus(event.status),
                processing_progress=event.progress,
                processing_stage_detail=event.stage_detail,
                eta_seconds=event.eta_seconds,
                processing_error=None,
            )
            JobRepository(s).heartbeat(job_id, event.progress / 100.0, self.lease_s)

    def _store_result_sync(self, job_id: uuid.UUID, session_id: uuid.UUID, result: dict[str, Any]) -> bool:
        """The transcript, speakers and duration; the session moves on to writing notes. False if it is gone."""
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
            state = ProcessingStateRepository(s)
            row = state.get(session_id)
            if row is None:
                JobRepository(s).finish(job_id, JobStatus.CANCELLED)
                return False
            # What the recording says about its capture ("_" keys) outlives a new transcript.
            speakers.update({k: v for k, v in (row.speakers or {}).items() if k.startswith("_")})
            SegmentWriter(s).replace(session_id, segments)
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

    async def _fail(self, job_id: uuid.UUID, session_id: uuid.UUID, message: str) -> None:
        await asyncio.to_thread(self._fail_sync, job_id, session_id, message)
        log.info("job failed", extra={"job_id": str(job_id)})
        self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.FAILED.value, 0, "Failed", None, message))

    def _fail_sync(self, job_id: uuid.UUID, session_id: uuid.UUID, message: str) -> None:
        with self.ctx.db.unit_of_work() as s:
            ProcessingStateRepository(s).update_state(
                session_id,
                processing_status=ProcessingStatus.FAILED,
                processing_stage_detail="Failed",
                processing_error=message,
                eta_seconds=None,
            )
            JobRepository(s).finish(job_id, JobStatus.FAILED, message)
        self._last_write.pop(job_id, None)

    def _requeue_sync(self, job_id: uuid.UUID, session_id: uuid.UUID) -> None:
        with self.ctx.db.unit_of_work() as s:
            JobRepository(s).requeue(job_id)
            ProcessingStateRepository(s).update_state(
                session_id, processing_status=ProcessingStatus.QUEUED, processing_stage_detail="Retrying"
            )

    # -- cancellation -------------------------------------------------------------------------------------

    async def cancel(self, session_id: uuid.UUID) -> bool:
        """Cancel queued or running processing of a session. True when something was cancelled."""
        running = self._running
        if running is not None and running.session_id == session_id:
            running.cancelled = True
            if self._worker is not None:
                await asyncio.to_thread(self._worker.kill)
            return True
        count = await asyncio.to_thread(self._cancel_queued_sync, session_id)
        if count:
            self._emit(ProgressEvent(session_id, None, ProcessingStatus.CANCELLED.value, 0, "Cancelled", None))
        return bool(count)

    def _cancel_queued_sync(self, session_id: uuid.UUID) -> int:
        with self.ctx.db.unit_of_work() as s:
            return cancel_open_processing(s, session_id)[0]

    async def _finish_cancelled(self, job_id: uuid.UUID, session_id: uuid.UUID) -> None:
        self._worker = None
        await asyncio.to_thread(self._cancel_queued_sync, session_id)
        self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.CANCELLED.value, 0, "Cancelled", None))
