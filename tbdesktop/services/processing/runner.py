"""The processing runner: claims queued jobs, runs them in worker processes, records progress and results.

Lives on an asyncio loop (its own thread in the GUI, `asyncio.run` in the CLI); blocking work — the database and
the worker pipes — runs in threads, so the loop never waits on either. It holds one worker slot per job that may
run at once (services/processing/capacity.py); each job kind is a stage collaborator: TranscribeStage (then
NotesStage), NotesStage for a regenerate-notes job, RediarizeStage for a speaker separation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from tbdesktop.services import leftovers
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing import capacity
from tbdesktop.services.processing.handle import WorkerCrashed, WorkerSlot
from tbdesktop.services.processing.jobs import (
    CRASH_MESSAGE,
    MAX_ATTEMPTS,
    UNEXPECTED_MESSAGE,
    ClaimedJob,
    StoredRecording,
)
from tbdesktop.services.processing.notes_stage import NotesStage
from tbdesktop.services.processing.rediarize_stage import RediarizeStage
from tbdesktop.services.processing.reporter import STAGES, JobReporter, Listener
from tbdesktop.services.processing.transcribe_stage import TranscribeStage
from tbdesktop.store.models import (
    CAPTURE_KEY,
    CHANNEL_PER_SPEAKER,
    SPEAKERS_HINT,
    JobKind,
    JobStatus,
    ProcessingStatus,
)
from tbdesktop.store.processing_cancel import cancel_open_processing
from tbdesktop.store.processing_state import InvalidTransitionError
from tbdesktop.store.repositories import SystemJobRepository, SystemStateRepository

__all__ = ["STAGES", "FINISHED", "Listener", "ProcessingRunner"]

log = logging.getLogger(__name__)

FINISHED = {ProcessingStatus.COMPLETED, ProcessingStatus.FAILED, ProcessingStatus.CANCELLED}


class Stage(Protocol):
    async def run(self, job: ClaimedJob, slot: WorkerSlot) -> None: ...

    async def cancelled(self, job: ClaimedJob) -> None: ...

    async def crashed(self, job: ClaimedJob, message: str) -> None: ...


class ProcessingRunner:
    def __init__(
        self,
        ctx: AppContext,
        owner_ids: list[uuid.UUID] | None = None,
        *,
        lease_s: float = 120.0,
        db_write_interval_s: float = 1.0,
        poll_interval_s: float = 5.0,
        workers: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.owner_ids = owner_ids
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self.lease_owner = f"{ctx.workstation}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.reporter = JobReporter(ctx, lease_s=lease_s, db_write_interval_s=db_write_interval_s)
        notes = NotesStage(ctx, self.reporter)
        self._stages: dict[str, Stage] = {
            JobKind.PROCESS.value: TranscribeStage(ctx, self.reporter, notes),
            JobKind.REGENERATE_NOTES.value: notes,
            JobKind.REDIARIZE.value: RediarizeStage(ctx, self.reporter),
        }
        self._requested = workers
        self._capacity: capacity.Capacity | None = None
        self._slots: list[WorkerSlot] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._claim_lock: asyncio.Lock | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    # -- listeners ----------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        return self.reporter.add_listener(listener)

    # -- capacity -----------------------------------------------------------------------------------------

    @property
    def capacity(self) -> capacity.Capacity:
        """How many jobs run at once here (decided once, when first needed: it may ask the speech runtime)."""
        if self._capacity is None:
            self._capacity = capacity.for_settings(self.ctx.settings, self._requested)
            log.info("processing capacity", extra={"jobs": self._capacity.jobs, "reason": self._capacity.reason})
        return self._capacity

    def _options(self) -> dict[str, Any]:
        options = self.ctx.pipeline_options()
        threads = self.capacity.asr_threads
        if threads and not options.get("cpu_threads"):
            options["cpu_threads"] = threads
        return options

    def _ensure_slots(self) -> list[WorkerSlot]:
        while len(self._slots) < self.capacity.jobs:
            self._slots.append(WorkerSlot(self._options, len(self._slots)))
        return self._slots

    def _free_slot(self) -> WorkerSlot | None:
        return next((slot for slot in self._ensure_slots() if slot.free), None)

    # -- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, *, warm_up: bool = True) -> None:
        """Resume abandoned jobs, then keep processing in the background until stop().

        With warm_up, the first worker process starts and loads its models now rather than with the first job.
        """
        self._wake = asyncio.Event()
        await self.resume_abandoned()
        slots = await asyncio.to_thread(self._ensure_slots)
        if warm_up:
            try:
                await asyncio.to_thread(slots[0].warm_up)
            except WorkerCrashed:
                log.warning("worker warm-up failed; it will start with the first job")
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._jobs) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._task = None
        for slot in self._slots:
            await asyncio.to_thread(slot.shutdown)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @property
    def busy(self) -> bool:
        return any(not slot.free for slot in self._slots)

    @property
    def worker_pid(self) -> int | None:
        """The first running worker process (None when none runs)."""
        return next((slot.pid for slot in self._slots if slot.pid is not None), None)

    @property
    def worker_pids(self) -> list[int]:
        return [pid for slot in self._slots if (pid := slot.pid) is not None]

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.resume_abandoned()  # a job another process on this workstation left when it died
                while (claimed := await self._claim()) is not None:
                    slot, job = claimed
                    task = asyncio.ensure_future(self._run_claimed(slot, job))
                    self._jobs.add(task)
                    task.add_done_callback(self._job_done)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("processing loop error")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            except TimeoutError:
                pass

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("processing job task failed", extra={"error_type": type(exc).__name__})
        self.wake()  # a slot is free: the next queued job may start

    async def resume_abandoned(self) -> int:
        requeued = await asyncio.to_thread(self._resume_sync)
        for session_id in requeued:
            self.reporter.emit(ProgressEvent.state(session_id, ProcessingStatus.QUEUED.value, "Waiting to resume"))
        if requeued:
            log.info("resumed unfinished jobs", extra={"count": len(requeued)})
        return len(requeued)

    def _resume_sync(self) -> list[uuid.UUID]:
        return leftovers.requeue_interrupted(self.ctx.db, self.ctx.workstation)

    # -- running jobs -------------------------------------------------------------------------------------

    async def run_until_idle(self) -> int:
        """Process queued jobs until none is left, as many at once as the slots allow; returns how many ran
        (CLI --wait, tests)."""
        slots = await asyncio.to_thread(self._ensure_slots)
        await self.resume_abandoned()

        async def drain() -> int:
            count = 0
            while await self.run_next():
                count += 1
            return count

        return sum(await asyncio.gather(*(drain() for _ in slots)))

    async def wait_for_session(self, session_id: uuid.UUID, poll_s: float = 1.0) -> ProgressEvent:
        """Process jobs (or wait for another instance to) until the session's processing has finished; a job a
        dead process left is resumed here too."""
        await self.resume_abandoned()
        while True:
            state = await asyncio.to_thread(self._session_state, session_id)
            if state is None:
                return ProgressEvent.state(session_id, ProcessingStatus.CANCELLED.value, "Deleted")
            if state.status in {s.value for s in FINISHED}:
                return state
            if not await self.run_next():
                await asyncio.sleep(poll_s)

    def _session_state(self, session_id: uuid.UUID) -> ProgressEvent | None:
        with self.ctx.db.unit_of_work() as s:
            row = SystemStateRepository(s).get(session_id)
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
        """Claim and run one queued job in a free slot. False when there was nothing to do (or no free slot)."""
        claimed = await self._claim()
        if claimed is None:
            return False
        await self._run_claimed(*claimed)
        return True

    async def _claim(self) -> tuple[WorkerSlot, ClaimedJob] | None:
        """The next queued job, held by a free slot; None when no slot is free or nothing is queued. Claims are
        made one at a time, so no two slots take the same slot or job."""
        if self._claim_lock is None:
            self._claim_lock = asyncio.Lock()
        async with self._claim_lock:
            slot = await asyncio.to_thread(self._free_slot)
            if slot is None:
                return None
            job = await asyncio.to_thread(self._claim_sync)
            if job is None:
                return None
            slot.hold(job)
            return slot, job

    async def _run_claimed(self, slot: WorkerSlot, job: ClaimedJob) -> None:
        """One job in its slot, with the one crash policy: a crash is retried once, then the job fails; a
        cancelled job's crash is its cancellation; the app closing leaves the job to be resumed at next start."""
        stage = self._stages.get(job.kind, self._stages[JobKind.PROCESS.value])
        try:
            await stage.run(job, slot)
        except WorkerCrashed:
            if slot.cancelled:
                await stage.cancelled(job)
            else:
                log.warning("worker crashed", extra={"job_id": job.key, "attempt": job.attempts})
                if job.attempts < MAX_ATTEMPTS:
                    await self.reporter.requeue(job)
                else:
                    await stage.crashed(job, CRASH_MESSAGE)
        except InvalidTransitionError:
            # the session's state was changed elsewhere while its job ran: the job ends, the session stays
            log.info("job ended: its session moved on elsewhere", extra={"job_id": job.key})
            await asyncio.to_thread(slot.kill)
            await self.reporter.finish_job(job, JobStatus.CANCELLED)
        except asyncio.CancelledError:
            # The app is closing: the job stays claimed by a dead process and is resumed at next start.
            await asyncio.shield(asyncio.to_thread(slot.kill))
            raise
        except Exception as exc:
            # Anything a stage did not expect (the database busy for too long, a full disk): never a job left
            # running for ever. The worker may still be at it, so it goes; the job is tried once more, as after a
            # crash, then fails with a message the user can act on.
            log.warning(
                "job stopped by an unexpected error",
                extra={"job_id": job.key, "attempt": job.attempts, "error_type": type(exc).__name__},
            )
            await asyncio.to_thread(slot.kill)
            try:
                if job.attempts < MAX_ATTEMPTS:
                    await self.reporter.requeue(job)
                else:
                    await stage.crashed(job, UNEXPECTED_MESSAGE)
            except Exception as again:
                log.error("job could not be ended", extra={"job_id": job.key, "error_type": type(again).__name__})
        finally:
            slot.release()

    def _claim_sync(self) -> ClaimedJob | None:
        with self.ctx.db.unit_of_work() as s:
            jobs = SystemJobRepository(s)
            for _ in range(5):
                job = jobs.next_queued(self.owner_ids)
                if job is None:
                    return None
                if not jobs.claim(job.id, self.lease_owner, self.lease_s):
                    continue
                row = SystemStateRepository(s).get(job.session_id)
                recording = None
                hint = None
                if row is not None:
                    if row.recording_path:
                        capture = (row.speakers or {}).get(CAPTURE_KEY) or {}
                        recording = StoredRecording(
                            row.recording_path,
                            row.recording_key,
                            row.owner_id,
                            capture.get("layout") == CHANNEL_PER_SPEAKER,
                        )
                    hint = SPEAKERS_HINT.get(row.session_type or "individual")
                return ClaimedJob(
                    job.id, job.session_id, job.kind, job.attempts + 1, recording, hint, dict(job.params or {})
                )
        return None

    # -- cancellation -------------------------------------------------------------------------------------

    async def cancel(self, session_id: uuid.UUID) -> bool:
        """Cancel queued or running processing of a session. True when something was cancelled."""
        for slot in self._slots:
            if slot.job is not None and slot.job.session_id == session_id:
                slot.cancelled = True
                await asyncio.to_thread(slot.kill)
                return True
        count = await asyncio.to_thread(self._cancel_queued_sync, session_id)
        if count:
            self.reporter.emit(ProgressEvent.state(session_id, ProcessingStatus.CANCELLED.value, "Cancelled"))
        return bool(count)

    def _cancel_queued_sync(self, session_id: uuid.UUID) -> int:
        with self.ctx.db.unit_of_work() as s:
            return cancel_open_processing(s, session_id)[0]
