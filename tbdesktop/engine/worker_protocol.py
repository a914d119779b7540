"""The one protocol between a parent and its worker processes: typed messages over a pipe, one child loop
(``serve``) and one parent call (``ProcessHandle.request``).

    parent → child: Warmup | Run(job, task, args) | Cancel(job) | Shutdown
    child → parent: Ready(pid) | Warm(load_s, error) | Progress(job, stage, fraction, eta)
                    | Result(job, data, started, finished, load_s, peak_rss_mb) | Error(job, error_type, message)

Every worker (the processing coordinator, the transcription and diarization workers, the notes-model probe) is a
``Handler`` served by the same loop: it maps errors to messages the user can read, stops working for nobody when
its parent is gone, and throttles progress at the process boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25
POLL_S = 0.25
_ENV_LOCK = threading.Lock()


# -- messages -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class Warmup:
    """Load the models now, before the first job."""


@dataclass(frozen=True)
class Warm:
    load_s: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class Run:
    job: str
    task: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Progress:
    job: str
    stage: str
    fraction: float
    eta: float | None


@dataclass(frozen=True)
class Result:
    job: str
    data: Any
    started: float = 0.0
    finished: float = 0.0
    load_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class Error:
    job: str
    error_type: str
    message: str

    def to_exception(self) -> Exception:
        """The engine error this reply stands for (a crashed engine worker is retried like a crashed worker)."""
        from tbdesktop.engine.errors import Cancelled, EngineError, ModelError, WorkerCrashedError

        known: dict[str, type[EngineError]] = {
            "Cancelled": Cancelled,
            "ModelError": ModelError,
            "WorkerCrashedError": WorkerCrashedError,
        }
        return known.get(self.error_type, EngineError)(self.message)


@dataclass(frozen=True)
class Cancel:
    job: str


@dataclass(frozen=True)
class Shutdown:
    pass


Message = Ready | Warmup | Warm | Run | Progress | Result | Error | Cancel | Shutdown
ProgressSink = Callable[[Progress], Awaitable[None] | None]


class WorkerFailed(Exception):
    """The worker process died or its pipe broke."""


# -- inside the worker process ------------------------------------------------------------------------------


class Handler(Protocol):
    """What a worker process does; ``serve`` runs it."""

    def warm_up(self) -> None:
        """Load what the jobs need (raises EngineError with a message for the user when it cannot)."""

    def run(
        self,
        task: str,
        args: dict[str, Any],
        report: Callable[[str, float, float | None], None],
        cancelled: Callable[[], bool],
    ) -> Any:
        """One job; returns picklable data for the Result."""

    def close(self) -> None:
        """The process is ending."""


def reset_peak_rss() -> None:
    """Start a new peak-memory measurement for this process (Linux; elsewhere the lifetime peak is kept)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset, in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def error_for(job: str, exc: BaseException) -> Error:
    """The message a failed job sends: the engine's own words, or a plain one for anything unexpected."""
    from tbdesktop.engine.errors import EngineError

    if isinstance(exc, EngineError):
        return Error(job, type(exc).__name__, exc.message)
    if isinstance(exc, MemoryError):
        return Error(job, "MemoryError", "The workstation ran out of memory while processing this recording.")
    return Error(job, type(exc).__name__, f"Processing failed unexpectedly ({type(exc).__name__}).")


class _Channel:
    """The child's end of the pipe, usable from the job's threads: sends are serialised, and while a job runs
    incoming Cancel/Shutdown messages are noticed by whoever asks ``cancelled``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self.parent = os.getppid()
        self.stop_requested = False

    def send(self, msg: Message) -> None:
        with self._send_lock:
            self.conn.send(msg)

    def recv(self) -> Any:
        with self._recv_lock:
            return self.conn.recv()

    def orphaned(self) -> bool:
        return os.getppid() != self.parent  # the parent is gone: stop working for nobody

    def cancel_check(self, job: str) -> Callable[[], bool]:
        flag = threading.Event()

        def cancelled() -> bool:
            if flag.is_set():
                return True
            if self.orphaned():
                flag.set()
                return True
            if self._recv_lock.acquire(blocking=False):
                try:
                    while self.conn.poll():
                        incoming = self.conn.recv()
                        if isinstance(incoming, Shutdown):
                            self.stop_requested = True
                            flag.set()
                        elif isinstance(incoming, Cancel) and incoming.job == job:
                            flag.set()
                except (EOFError, OSError):
                    flag.set()
                finally:
                    self._recv_lock.release()
            return flag.is_set()

        return cancelled

    def reporter(self, job: str) -> Callable[[str, float, float | None], None]:
        """Progress, throttled: a new stage and the end always go; otherwise at most every PROGRESS_INTERVAL_S."""
        last_at, last_stage = [0.0], [""]

        def report(stage: str, fraction: float, eta: float | None) -> None:
            now = time.monotonic()
            if stage == last_stage[0] and now - last_at[0] < PROGRESS_INTERVAL_S and fraction < 1.0:
                return
            last_at[0], last_stage[0] = now, stage
            self.send(Progress(job, stage, float(fraction), eta))

        return report


def serve(conn: Connection, handler: Handler, *, name: str = "worker") -> None:
    """The child loop of every worker process: Ready, then Warmup/Run until Shutdown or the pipe closes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    channel = _Channel(conn)
    load_s = 0.0
    warm = False

    def ensure_warm() -> None:
        nonlocal load_s, warm
        if not warm:
            started = time.perf_counter()
            handler.warm_up()
            load_s = time.perf_counter() - started
            warm = True

    channel.send(Ready(os.getpid()))
    try:
        while not channel.stop_requested:
            try:
                msg = channel.recv()
            except (EOFError, OSError):
                return
            if isinstance(msg, Shutdown):
                return
            if isinstance(msg, Warmup):
                try:
                    ensure_warm()
                    channel.send(Warm(load_s))
                except Exception as exc:
                    channel.send(Warm(load_s, error_for("", exc).message))
                continue
            if not isinstance(msg, Run):
                continue  # a Cancel for a job already finished
            started = time.monotonic()
            try:
                ensure_warm()
                reset_peak_rss()  # the models are resident already: measure what this job costs on top
                data = handler.run(msg.task, msg.args, channel.reporter(msg.job), channel.cancel_check(msg.job))
                reply: Message = Result(msg.job, data, started, time.monotonic(), load_s, peak_rss_mb())
            except Exception as exc:  # report, never die silently: the queue must move on
                from tbdesktop.engine.errors import EngineError

                if not isinstance(exc, EngineError | MemoryError):
                    log.exception("worker job failed", extra={"worker": name})
                reply = error_for(msg.job, exc)
            channel.send(reply)
    finally:
        handler.close()


# -- in the parent ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _child_environment(overrides: dict[str, str]) -> Iterator[None]:
    """Environment for a child started now (thread counts are read once, when numpy/BLAS load)."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in overrides}
        os.environ.update(overrides)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class ProcessHandle:
    """A spawned worker process and the parent's end of its pipe: start, request, kill."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str, *, daemon: bool) -> None:
        self._target = target
        self._args = args
        self.name = name
        self._daemon = daemon
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self.warm = False
        self.load_s = 0.0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def spawn(self, env: dict[str, str] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=self._target, args=(child, *self._args), name=self.name, daemon=self._daemon)
        with _child_environment(env or {}):
            proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self.warm = False

    def start(self, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        """Spawn the process (if it is not running) and wait for its Ready."""
        if self.alive:
            return
        self.kill()
        self.spawn(env)
        if self.wait_for(Ready, timeout) is None:
            self.kill()
            raise WorkerFailed(f"the {self.name} process did not start")

    def send(self, msg: Message) -> None:
        if self._conn is None:
            raise WorkerFailed("not started")
        try:
            self._conn.send(msg)
        except (OSError, EOFError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc

    def recv(self, timeout: float) -> Message | None:
        """Blocking; None on timeout; WorkerFailed when the process is gone."""
        conn, proc = self._conn, self._proc
        if conn is None or proc is None:
            raise WorkerFailed("not started")
        try:
            if conn.poll(timeout):
                msg: Message = conn.recv()
                return msg
        except (EOFError, OSError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc
        if not proc.is_alive():
            raise WorkerFailed(f"exit code {proc.exitcode}")
        return None

    def wait_for(self, kind: type[Ready] | type[Warm], timeout: float) -> Any:
        """Blocking: the next message of ``kind`` (others are dropped); None past ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(min(left, POLL_S))
            if isinstance(msg, kind):
                return msg
        return None

    def warm_up(self, timeout: float = 600.0) -> str | None:
        """Start the process and load its models now; returns an error message or None."""
        self.start()
        if self.warm:
            return None
        self.send(Warmup())
        reply = self.wait_for(Warm, timeout)
        if reply is None:
            return f"the {self.name} models took too long to load"
        if reply.error:
            return str(reply.error)
        self.warm, self.load_s = True, float(reply.load_s)
        return None

    async def request(
        self, run: Run, on_progress: ProgressSink | None = None, *, timeout: float | None = None
    ) -> Result | Error:
        """Send a job and wait for its Result or Error; its Progress goes to ``on_progress`` (may be async).
        Raises WorkerFailed when the process dies, TimeoutError past ``timeout``."""
        await asyncio.to_thread(self.start)
        self.send(run)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the {self.name} process did not answer in time")
            reply = await asyncio.to_thread(self.recv, POLL_S)
            if isinstance(reply, Warm) and not reply.error:
                self.warm, self.load_s = True, float(reply.load_s)
            if not isinstance(reply, Progress | Result | Error) or reply.job != run.job:
                continue
            if isinstance(reply, Progress):
                if on_progress is not None:
                    pending = on_progress(reply)
                    if inspect.isawaitable(pending):
                        await pending
                continue
            return reply

    def cancel(self, job: str) -> None:
        """Ask the running job to stop (it ends with an Error of type Cancelled)."""
        with contextlib.suppress(WorkerFailed):
            self.send(Cancel(job))

    def _terminate(self, proc: BaseProcess) -> None:
        if proc.is_alive():
            proc.kill()
        proc.join(5)

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        self.warm = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is not None:
            self._terminate(proc)

    def shutdown(self) -> None:
        if self._conn is not None and self.alive:
            with contextlib.suppress(OSError, EOFError, ValueError):
                self._conn.send(Shutdown())
            assert self._proc is not None
            self._proc.join(5)
        self.kill()
