"""The worker process: loads the engine pipeline once and runs jobs sent over a pipe.

Messages are plain dicts (structured, never parsed text):
  parent → worker: {"type": "run", "job_id", "audio_path"} | {"type": "warmup"} | {"type": "shutdown"}
  worker → parent: {"type": "ready"} | {"type": "warm"} | {"type": "progress", "job_id", "stage", "fraction", "eta"}
                 | {"type": "result", "job_id", "result"} | {"type": "error", "job_id", "error_type", "message"}
This module imports only the engine, so the spawned child stays light. The pipeline issue swaps what
`_build_pipeline` returns; the protocol stays.
"""

from __future__ import annotations

import logging
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25


class _Runnable(Protocol):
    def run(self, audio_path: Path, on_progress: Any = None, should_cancel: Any = None) -> Any: ...


def _build_pipeline(options: dict[str, Any]) -> _Runnable:
    from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

    return Pipeline(
        PipelineOptions(
            cache_dir=Path(options["cache_dir"]),
            model=options.get("model", "base"),
            device=options.get("device", "auto"),
            compute_type=options.get("compute_type", "auto"),
            language=options.get("language"),
            cpu_threads=int(options.get("cpu_threads", 0)),
            max_duration_s=options.get("max_duration_s"),
        )
    )


def worker_main(conn: Connection, options: dict[str, Any]) -> None:
    """Entry point of the spawned process."""
    from tbdesktop.engine.errors import EngineError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    pipeline: _Runnable | None = None
    conn.send({"type": "ready", "pid": os.getpid()})
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(msg, dict) or msg.get("type") == "shutdown":
            return
        if msg.get("type") == "warmup":
            # Load the models before the first job arrives, so the first session starts at once.
            try:
                if pipeline is None:
                    pipeline = _build_pipeline(options)
                conn.send({"type": "warm"})
            except EngineError as exc:
                conn.send({"type": "warm", "error": exc.message})
            continue
        if msg.get("type") != "run":
            continue
        job_id = msg["job_id"]
        last_sent = 0.0
        last_stage = ""

        def on_progress(stage: str, fraction: float, eta: float | None, _job: str = job_id) -> None:
            nonlocal last_sent, last_stage
            now = time.monotonic()
            if stage == last_stage and now - last_sent < PROGRESS_INTERVAL_S and fraction < 1.0:
                return
            last_sent, last_stage = now, stage
            conn.send({"type": "progress", "job_id": _job, "stage": stage, "fraction": fraction, "eta": eta})

        try:
            if pipeline is None:
                on_progress("loading_model", 0.0, None)
                pipeline = _build_pipeline(options)
            result = pipeline.run(Path(msg["audio_path"]), on_progress=on_progress)
            conn.send({"type": "result", "job_id": job_id, "result": result.to_dict()})
        except EngineError as exc:
            conn.send(
                {"type": "error", "job_id": job_id, "error_type": type(exc).__name__, "message": exc.message}
            )
        except MemoryError:
            conn.send(
                {
                    "type": "error",
                    "job_id": job_id,
                    "error_type": "MemoryError",
                    "message": "The workstation ran out of memory while processing this recording.",
                }
            )
        except Exception as exc:  # the queue must move on: report, never die silently
            log.exception("worker job failed", extra={"job_id": job_id})
            conn.send(
                {
                    "type": "error",
                    "job_id": job_id,
                    "error_type": type(exc).__name__,
                    "message": f"Processing failed unexpectedly ({type(exc).__name__}).",
                }
            )
