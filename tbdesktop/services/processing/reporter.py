"""How a running job is seen: progress events for the listeners (the window, the CLI) and the session's stored
state, written through the processing state machine at most once a second — one throttle for database writes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing.jobs import ClaimedJob
from tbdesktop.store.models import JobStatus, ProcessingStatus
from tbdesktop.store.repositories import SystemJobRepository, SystemStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

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


class JobReporter:
    """Progress of the jobs a runner holds; one per runner, shared by its stages."""

    def __init__(self, ctx: AppContext, *, lease_s: float, db_write_interval_s: float) -> None:
        self.ctx = ctx
        self.lease_s = lease_s
        self.db_write_interval_s = db_write_interval_s
        self._listeners: list[Listener] = []
        self._last_write: dict[uuid.UUID, tuple[float, str]] = {}

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: ProgressEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("progress listener failed")

    def ended(self, job: ClaimedJob, status: ProcessingStatus, detail: str, error: str | None = None) -> None:
        """The job's last event (its state is stored already)."""
        self._last_write.pop(job.id, None)
        self.emit(ProgressEvent.state(job.session_id, status.value, detail, job_id=job.id, error=error))

    async def progress(
        self, job: ClaimedJob, stage: str, fraction: float, eta: float | None, *, force: bool = False
    ) -> None:
        """An engine stage's progress as the session's overall figure. Raises InvalidTransitionError when the
        session was moved on elsewhere (cancelled from another window or the command line)."""
        status, lo, hi, words = STAGES.get(stage, (ProcessingStatus.TRANSCRIBING, 8, 97, "Processing…"))
        fraction = min(max(fraction, 0.0), 1.0)
        eta_i = int(round(eta)) if eta is not None else None
        event = ProgressEvent(job.session_id, job.id, status.value, int(lo + (hi - lo) * fraction), words, eta_i)
        self.emit(event)
        now = time.monotonic()
        last = self._last_write.get(job.id)
        if force or last is None or last[1] != status.value or now - last[0] >= self.db_write_interval_s:
            self._last_write[job.id] = (now, status.value)
            await asyncio.to_thread(self._write_progress_sync, job.id, event)

    def _write_progress_sync(self, job_id: uuid.UUID, event: ProgressEvent) -> None:
        with self.ctx.db.unit_of_work() as s:
            SystemStateRepository(s).update_state(
                event.session_id,
                processing_status=ProcessingStatus(event.status),
                processing_progress=event.progress,
                processing_stage_detail=event.stage_detail,
                eta_seconds=event.eta_seconds,
                processing_error=None,
            )
            SystemJobRepository(s).heartbeat(job_id, event.progress / 100.0, self.lease_s)

    async def fail(self, job: ClaimedJob, message: str) -> None:
        """The session failed with a reason the user can read."""
        await asyncio.to_thread(self._fail_sync, job, message)
        log.info("job failed", extra={"job_id": job.key})
        self.ended(job, ProcessingStatus.FAILED, "Failed", message)

    def _fail_sync(self, job: ClaimedJob, message: str) -> None:
        with self.ctx.db.unit_of_work() as s:
            SystemStateRepository(s).update_state(
                job.session_id,
                processing_status=ProcessingStatus.FAILED,
                processing_stage_detail="Failed",
                processing_error=message,
                eta_seconds=None,
            )
            SystemJobRepository(s).finish(job.id, JobStatus.FAILED, message)

    async def completed_with(self, job: ClaimedJob, status: JobStatus, detail: str, error: str | None) -> None:
        """The job ended without its result, but the session keeps what it had and is completed again (its
        transcript is there): a note or a speaker separation that could not be done says why."""
        await asyncio.to_thread(self._completed_with_sync, job, status, detail, error)
        log.info("job ended without its result", extra={"job_id": job.key, "status": status.value})
        self.ended(job, ProcessingStatus.COMPLETED, detail, error)

    def _completed_with_sync(self, job: ClaimedJob, status: JobStatus, detail: str, error: str | None) -> None:
        with self.ctx.db.unit_of_work() as s:
            SystemStateRepository(s).update_state(
                job.session_id,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail=detail,
                processing_error=error,
                eta_seconds=None,
            )
            SystemJobRepository(s).finish(job.id, status, error)

    async def requeue(self, job: ClaimedJob) -> None:
        """The worker crashed: the job goes back to the queue for its next try."""
        await asyncio.to_thread(self._requeue_sync, job)
        self._last_write.pop(job.id, None)

    def _requeue_sync(self, job: ClaimedJob) -> None:
        with self.ctx.db.unit_of_work() as s:
            SystemJobRepository(s).requeue(job.id)
            SystemStateRepository(s).update_state(
                job.session_id, processing_status=ProcessingStatus.QUEUED, processing_stage_detail="Retrying"
            )

    async def finish_job(self, job: ClaimedJob, status: JobStatus) -> None:
        """The job row alone ends (its session is gone or was moved on elsewhere)."""
        await asyncio.to_thread(self._finish_job_sync, job.id, status)
        self._last_write.pop(job.id, None)

    def _finish_job_sync(self, job_id: uuid.UUID, status: JobStatus) -> None:
        with self.ctx.db.unit_of_work() as s:
            SystemJobRepository(s).finish(job_id, status)
