"""The parent side of the coordinator worker process: start it, exchange messages, kill its process tree."""

from __future__ import annotations

import contextlib
import os
import signal
from multiprocessing.process import BaseProcess
from typing import Any

from tbdesktop.engine.workers import ProcessHandle
from tbdesktop.engine.workers import WorkerFailed as WorkerCrashed
from tbdesktop.services.processing.worker import worker_main

__all__ = ["WorkerCrashed", "WorkerHandle"]


class WorkerHandle(ProcessHandle):
    """The spawned coordinator, kept warm between jobs (its engine workers keep the models loaded).

    Not a daemon: it starts the engine's own worker processes. It exits when this pipe closes.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(worker_main, (options,), "tbdesktop-worker", daemon=False)
        self.options = options

    def start(self) -> None:
        self.spawn()

    def _terminate(self, proc: BaseProcess) -> None:
        """Kill the coordinator and the engine processes it started (its process group on POSIX)."""
        if hasattr(os, "killpg") and proc.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader: always try
        super()._terminate(proc)
