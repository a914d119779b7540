"""Engine worker processes: one for transcription, one for diarization, each loading its model once.

The coordinator (``pipeline.Pipeline``) hands both workers the same decoded audio through a shared scratch
file (memory-mapped, never copied through the pipe) and awaits them together. Messages are plain dicts:

  coordinator → worker: {"type": "warmup"} | {"type": "run", "job", "audio", "samples", "regions", "params"}
                        | {"type": "cancel", "job"} | {"type": "shutdown"}
  worker → coordinator: {"type": "ready", "pid"} | {"type": "warm", "error"?, "load_s"}
                        | {"type": "progress", "job", "stage", "fraction", "eta"}
                        | {"type": "result", "job", "data", "started", "finished", "peak_rss_mb"}
                        | {"type": "error", "job", "error_type", "message"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from tbdesktop.engine.audio import SampleFile

log = logging.getLogger(__name__)

ASR = "asr"
DIARIZATION = "diarization"
PROGRESS_INTERVAL_S = 0.25
_ENV_LOCK = threading.Lock()


class WorkerFailed(Exception):
    """The worker process died or its pipe broke."""


# -- inside the worker process ------------------------------------------------------------------------------


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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _build_asr(options: dict[str, Any]) -> Any:
    backend = options.get("asr_backend", "local")
    if backend == "openai":
        from tbdesktop.engine.asr.openai import OpenAITranscriber

        return OpenAITranscriber(
            options["openai_base_url"], options.get("openai_model") or "whisper-1", options.get("openai_api_key")
        )
    from tbdesktop.engine.asr.local import LocalTranscriber
    from tbdesktop.engine.models import resolve_model

    return LocalTranscriber(
        resolve_model(options.get("model", "base"), Path(options["cache_dir"])),
        device=options.get("device", "auto"),
        compute_type=options.get("compute_type", "auto"),
        cpu_threads=int(options.get("cpu_threads", 0)),
        batch_size=int(options.get("batch_size", 0)),
        beam_size=int(options.get("beam_size", 0)),
    )


def _build_diarizer(options: dict[str, Any]) -> Any:
    backend = options.get("diarization_backend", "local")
    if backend == "pyannote":
        from tbdesktop.engine.diarization.pyannote_backend import PyannoteDiarizer

        return PyannoteDiarizer(Path(options.get("pyannote_model_dir") or ""), device=options.get("device", "auto"))
    from tbdesktop.engine.diarization.local import LocalDiarizer
    from tbdesktop.engine.diarization.speaker_model import install_speaker_model

    # One thread by default: diarization runs beside transcription and should hide behind it.
    threads = int(options.get("diarization_threads") or 1)
    return LocalDiarizer(install_speaker_model(Path(options["cache_dir"])), threads=threads)


def _open_audio(options: dict[str, Any], kind: str, path: Path, samples: int) -> Any:
    """The built-in backends read the scratch audio piece by piece; others get a read-only memory map."""
    import numpy as np

    backend = options.get("asr_backend" if kind == ASR else "diarization_backend", "local")
    if backend == "local":
        return SampleFile(path, samples)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(samples,))


def _run(model: Any, kind: str, audio: Any, msg: dict[str, Any], report: Any, cancelled: Any) -> dict[str, Any]:
    params = dict(msg.get("params") or {})
    regions = [tuple(r) for r in msg.get("regions") or []]
    if kind == ASR:
        result = model.transcribe(
            audio, regions=regions, language=params.get("language"), on_progress=report, should_cancel=cancelled
        )
        return {
            "language": result.language,
            "language_probability": result.language_probability,
            "segments": [s.to_dict() for s in result.segments],
        }
    result = model.diarize(
        audio,
        regions=regions,
        num_speakers=params.get("num_speakers"),
        min_speakers=int(params.get("min_speakers", 1)),
        max_speakers=int(params.get("max_speakers", 6)),
        speakers_hint=params.get("speakers_hint"),
        on_progress=report,
        should_cancel=cancelled,
    )
    data: dict[str, Any] = result.to_dict()
    return data


def worker_main(conn: Connection, kind: str, options: dict[str, Any]) -> None:
    """Entry point of a spawned engine worker."""

    from tbdesktop.engine.errors import Cancelled, EngineError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parent = os.getppid()
    model: Any = None
    load_s = 0.0
    send_lock = threading.Lock()

    def send(msg: dict[str, Any]) -> None:
        with send_lock:
            conn.send(msg)

    def ensure_model() -> Any:
        nonlocal model, load_s
        if model is None:
            started = time.perf_counter()
            model = _build_asr(options) if kind == ASR else _build_diarizer(options)
            load_s = time.perf_counter() - started
        return model

    send({"type": "ready", "pid": os.getpid()})
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(msg, dict) or msg.get("type") == "shutdown":
            return
        if msg.get("type") == "warmup":
            try:
                ensure_model()
                send({"type": "warm", "load_s": load_s})
            except EngineError as exc:
                send({"type": "warm", "error": exc.message, "error_type": type(exc).__name__})
            continue
        if msg.get("type") != "run":
            continue
        job = msg["job"]
        cancel_flag = threading.Event()
        last_sent = [0.0]

        def cancelled(_job: str = job, _flag: threading.Event = cancel_flag) -> bool:
            if _flag.is_set():
                return True
            if os.getppid() != parent:  # the coordinator is gone: stop rather than work for nobody
                _flag.set()
                return True
            try:
                while conn.poll():
                    incoming = conn.recv()
                    if isinstance(incoming, dict) and incoming.get("type") in ("cancel", "shutdown"):
                        _flag.set()
            except (EOFError, OSError):
                _flag.set()
            return _flag.is_set()

        def report(
            stage: str, fraction: float, eta: float | None, _job: str = job, _last: list[float] = last_sent
        ) -> None:
            now = time.monotonic()
            if now - _last[0] < PROGRESS_INTERVAL_S and fraction < 1.0:
                return
            _last[0] = now
            send({"type": "progress", "job": _job, "stage": stage, "fraction": fraction, "eta": eta})

        try:
            started = time.monotonic()
            active = ensure_model()
            reset_peak_rss()  # the model is resident already; measure what this recording costs on top
            audio = _open_audio(options, kind, Path(msg["audio"]), int(msg["samples"]))
            try:
                data = _run(active, kind, audio, msg, report, cancelled)
            finally:
                if isinstance(audio, SampleFile):
                    audio.close()
                del audio
            send(
                {
                    "type": "result",
                    "job": job,
                    "data": data,
                    "started": started,
                    "finished": time.monotonic(),
                    "load_s": load_s,
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
        except Cancelled as exc:
            send({"type": "error", "job": job, "error_type": "Cancelled", "message": exc.message})
        except EngineError as exc:
            send({"type": "error", "job": job, "error_type": type(exc).__name__, "message": exc.message})
        except MemoryError:
            send(
                {
                    "type": "error",
                    "job": job,
                    "error_type": "MemoryError",
                    "message": "The workstation ran out of memory while processing this recording.",
                }
            )
        except Exception as exc:  # report, never die silently
            log.exception("engine worker job failed", extra={"kind": kind})
            send(
                {
                    "type": "error",
                    "job": job,
                    "error_type": type(exc).__name__,
                    "message": f"Processing failed unexpectedly ({type(exc).__name__}).",
                }
            )


# -- in the coordinator -------------------------------------------------------------------------------------


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
    """A spawned process and the parent's end of its pipe: start, exchange dict messages, kill."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str, *, daemon: bool) -> None:
        self._target = target
        self._args = args
        self._name = name
        self._daemon = daemon
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def spawn(self, env: dict[str, str] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=self._target, args=(child, *self._args), name=self._name, daemon=self._daemon)
        with _child_environment(env or {}):
            proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def send(self, msg: dict[str, Any]) -> None:
        if self._conn is None:
            raise WorkerFailed("not started")
        try:
            self._conn.send(msg)
        except (OSError, EOFError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc

    def recv(self, timeout: float) -> dict[str, Any] | None:
        """Blocking; None on timeout; WorkerFailed when the process is gone."""
        conn, proc = self._conn, self._proc
        if conn is None or proc is None:
            raise WorkerFailed("not started")
        try:
            if conn.poll(timeout):
                msg = conn.recv()
                return msg if isinstance(msg, dict) else None
        except (EOFError, OSError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc
        if not proc.is_alive():
            raise WorkerFailed(f"exit code {proc.exitcode}")
        return None

    def _terminate(self, proc: BaseProcess) -> None:
        if proc.is_alive():
            proc.kill()
        proc.join(5)

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is not None:
            self._terminate(proc)

    def shutdown(self) -> None:
        if self._conn is not None and self.alive:
            try:
                self._conn.send({"type": "shutdown"})
            except (OSError, EOFError, ValueError):
                pass
            assert self._proc is not None
            self._proc.join(5)
        self.kill()


class EngineWorker(ProcessHandle):
    """A spawned engine worker kept warm between jobs."""

    def __init__(self, kind: str, options: dict[str, Any], threads: int | None = None) -> None:
        super().__init__(worker_main, (kind, options), f"tbdesktop-{kind}", daemon=True)
        self.kind = kind
        self.options = options
        self.threads = threads
        self.warm = False
        self.load_s = 0.0

    def start(self) -> None:
        if self.alive:
            return
        self.kill()
        env: dict[str, str] = {}
        if self.threads:
            value = str(self.threads)
            env = {"OMP_NUM_THREADS": value, "OPENBLAS_NUM_THREADS": value, "MKL_NUM_THREADS": value}
        self.spawn(env)
        self.warm = False
        ready = self.recv(60.0)
        if ready is None or ready.get("type") != "ready":
            self.kill()
            raise WorkerFailed(f"the {self.kind} worker did not start")

    def warm_up(self, timeout: float = 600.0) -> str | None:
        """Start the process and load the model now; returns an error message or None."""
        self.start()
        if self.warm:
            return None
        self.send({"type": "warmup"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(0.5)
            if msg is not None and msg.get("type") == "warm":
                if msg.get("error"):
                    return str(msg["error"])
                self.warm = True
                self.load_s = float(msg.get("load_s") or 0.0)
                return None
        return f"the {self.kind} model took too long to load"

    async def run(
        self, msg: dict[str, Any], on_progress: Callable[[str, float, float | None], None]
    ) -> dict[str, Any]:
        """Send a job and wait for its result message; progress messages go to ``on_progress``."""
        await asyncio.to_thread(self.start)
        self.send(msg)
        while True:
            reply = await asyncio.to_thread(self.recv, 0.25)
            if reply is None or reply.get("job") not in (None, msg["job"]):
                continue
            kind = reply.get("type")
            if kind == "progress":
                on_progress(str(reply["stage"]), float(reply["fraction"]), reply.get("eta"))
            elif kind in ("result", "error"):
                return reply

    def kill(self) -> None:
        super().kill()
        self.warm = False
