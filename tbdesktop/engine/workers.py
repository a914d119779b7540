"""Engine worker processes: one for transcription, one for diarization, each loading its model once.

The coordinator (``pipeline.Pipeline``) hands both workers the same decoded audio through a shared scratch
file (memory-mapped, never copied through the pipe) and awaits them together, over the one worker protocol
(engine/worker_protocol.py): ``Run(job, task=kind, args={"audio", "samples", "regions", "params"})``.
"""

from __future__ import annotations

import logging
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tbdesktop.engine.audio import SampleFile
from tbdesktop.engine.worker_protocol import ProcessHandle, WorkerFailed, peak_rss_mb, reset_peak_rss, serve

__all__ = ["ASR", "DIARIZATION", "EngineWorker", "WorkerFailed", "peak_rss_mb", "reset_peak_rss"]

log = logging.getLogger(__name__)

ASR = "asr"
DIARIZATION = "diarization"


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


class EngineHandler:
    """A transcription or diarization worker: its model, loaded once, and its jobs on the shared scratch audio."""

    def __init__(self, kind: str, options: dict[str, Any]) -> None:
        self.kind = kind
        self.options = options
        self.model: Any = None

    def warm_up(self) -> None:
        if self.model is None:
            self.model = _build_asr(self.options) if self.kind == ASR else _build_diarizer(self.options)

    def run(self, task: str, args: dict[str, Any], report: Any, cancelled: Any) -> dict[str, Any]:
        audio = _open_audio(self.options, self.kind, Path(args["audio"]), int(args["samples"]))
        try:
            return _run(self.model, self.kind, audio, args, report, cancelled)
        finally:
            if isinstance(audio, SampleFile):
                audio.close()
            del audio

    def close(self) -> None:
        self.model = None


# Buffers above this size are mapped for themselves and unmapped when freed. Fixing the threshold also stops
# glibc from raising it (up to 32 MiB) and its trim threshold with it after the first large free, which left
# the freed per-batch buffers of the speech model resident: with it the transcription worker's peak is ~150 MB
# lower at the same speed (`make bench`; ADR 0005).
MMAP_THRESHOLD_BYTES = 16 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_freed_memory() -> bool:
    """Make this process give large freed buffers back to the system (glibc only; elsewhere a no-op)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): its allocator behaves differently anyway
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def worker_main(conn: Connection, kind: str, options: dict[str, Any]) -> None:
    """Entry point of a spawned engine worker."""
    return_freed_memory()
    serve(conn, EngineHandler(kind, options), name=kind)


# -- in the coordinator -------------------------------------------------------------------------------------


class EngineWorker(ProcessHandle):
    """A spawned engine worker kept warm between jobs; ``threads`` caps its numeric libraries' threads."""

    def __init__(self, kind: str, options: dict[str, Any], threads: int | None = None) -> None:
        super().__init__(worker_main, (kind, options), f"tbdesktop-{kind}", daemon=True)
        self.kind = kind
        self.options = options
        self.threads = threads

    def start(self, env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        if self.threads and env is None:
            value = str(self.threads)
            env = {"OMP_NUM_THREADS": value, "OPENBLAS_NUM_THREADS": value, "MKL_NUM_THREADS": value}
        super().start(env, timeout)
