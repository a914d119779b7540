"""The parent side of the coordinator worker process: start it, send it jobs over the worker protocol, kill its
process tree — and the slot that holds one coordinator and the job it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from tbdesktop.engine.worker_protocol import Error, ProcessHandle, ProgressSink, Result, Run, Warmup
from tbdesktop.engine.worker_protocol import WorkerFailed as WorkerCrashed
from tbdesktop.services.processing.jobs import ClaimedJob
from tbdesktop.services.processing.worker import worker_main

__all__ = ["WorkerCrashed", "WorkerHandle", "WorkerSlot"]


class WorkerHandle(ProcessHandle):
    """The spawned coordinator, kept warm between jobs (its engine workers keep the models loaded).

    Not a daemon: it starts the engine's own worker processes. It exits when this pipe closes.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(worker_main, (options,), "tbdesktop-worker", daemon=False)
        self.options = options

    def _terminate(self, proc: BaseProcess) -> None:
        """Kill the coordinator and the engine processes it started (its process group on POSIX)."""
        if hasattr(os, "killpg") and proc.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader: always try
        super()._terminate(proc)


class WorkerSlot:
    """One coordinator process (started on first use, kept warm) and the job it runs now. A runner holds as many
    slots as jobs may run at once."""

    def __init__(self, options: Callable[[], dict[str, Any]], index: int = 0) -> None:
        self._options = options
        self.index = index
        self.worker: WorkerHandle | None = None
        self.job: ClaimedJob | None = None
        self.cancelled = False

    @property
    def free(self) -> bool:
        return self.job is None

    @property
    def pid(self) -> int | None:
        return self.worker.pid if self.worker is not None and self.worker.alive else None

    def ensure(self) -> WorkerHandle:
        """The running coordinator (blocking: a new one is spawned when there is none)."""
        if self.worker is None or not self.worker.alive:
            if self.worker is not None:
                self.worker.kill()
            self.worker = WorkerHandle(self._options())
            self.worker.start()
        return self.worker

    def warm_up(self) -> None:
        """Start the coordinator and let it load its models while the runner goes on (blocking spawn)."""
        self.ensure().send(Warmup())

    def hold(self, job: ClaimedJob) -> None:
        self.job, self.cancelled = job, False

    def release(self) -> None:
        self.job, self.cancelled = None, False

    async def request(self, task: str, args: dict[str, Any], on_progress: ProgressSink) -> Result | Error:
        """Run one task of the held job in the coordinator. A crashed engine worker counts as a crash of the
        coordinator: both raise WorkerCrashed, and the coordinator is gone afterwards."""
        assert self.job is not None
        try:
            worker = await asyncio.to_thread(self.ensure)
            if self.cancelled:  # cancelled before there was a worker to stop
                raise WorkerCrashed("cancelled")
            reply = await worker.request(Run(self.job.key, task, args), on_progress)
        except WorkerCrashed:
            await asyncio.to_thread(self.kill)
            raise
        if isinstance(reply, Error) and reply.error_type == "WorkerCrashedError":
            await asyncio.to_thread(self.kill)
            raise WorkerCrashed("an engine worker died")
        return reply

    def kill(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.kill()

    def shutdown(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.shutdown()
