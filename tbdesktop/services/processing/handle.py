"""The parent side of a worker process: start it, exchange messages, kill it."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tbdesktop.services.processing.worker import worker_main


class WorkerCrashed(Exception):
    pass


class WorkerHandle:
    """A spawned worker process kept warm between jobs (models load once per process)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        # Not a daemon: it starts the engine's own worker processes. It exits when this pipe closes.
        proc = ctx.Process(target=worker_main, args=(child, self.options), name="tbdesktop-worker", daemon=False)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def send(self, msg: dict[str, Any]) -> None:
        assert self._conn is not None
        try:
            self._conn.send(msg)
        except (OSError, EOFError) as exc:
            raise WorkerCrashed(str(exc)) from exc

    def recv(self, timeout: float) -> dict[str, Any] | None:
        """Blocking: call from a thread. None on timeout; WorkerCrashed when the process is gone."""
        conn, proc = self._conn, self._proc
        if conn is None or proc is None:
            raise WorkerCrashed("not started")
        try:
            if conn.poll(timeout):
                msg = conn.recv()
                return msg if isinstance(msg, dict) else None
        except (EOFError, OSError) as exc:
            raise WorkerCrashed(str(exc)) from exc
        if not proc.is_alive():
            raise WorkerCrashed(f"exit code {proc.exitcode}")
        return None

    def kill(self) -> None:
        """Kill the worker and the engine processes it started (its process group on POSIX)."""
        proc, self._proc = self._proc, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is None:
            return
        if hasattr(os, "killpg") and proc.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group may outlive its leader: always try
        if proc.is_alive():
            proc.kill()
        proc.join(5)

    def shutdown(self) -> None:
        if self._conn is not None and self.alive:
            try:
                self._conn.send({"type": "shutdown"})
            except (OSError, EOFError):
                pass
            assert self._proc is not None
            self._proc.join(5)
        self.kill()
