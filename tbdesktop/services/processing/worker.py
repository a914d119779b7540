"""The worker process: coordinates the engine pipeline (which keeps its own transcription and diarization
worker processes warm) and runs jobs sent over a pipe. It leads its own process group, so killing the group
stops the coordinator and both engine workers at once.

Messages are plain dicts (structured, never parsed text):
  parent → worker: {"type": "run", "job_id", "audio_path"} | {"type": "warmup"} | {"type": "shutdown"}
                 | {"type": "notes", "job_id", "lines", "template": {"name", "content"}, "notes": options}
                 | {"type": "rediarize", "job_id", "audio_path", "num_speakers", "speakers_hint"}
  worker → parent: {"type": "ready"} | {"type": "warm"} | {"type": "progress", "job_id", "stage", "fraction", "eta"}
                 | {"type": "result", "job_id", "result"} | {"type": "error", "job_id", "error_type", "message"}
A run message may carry "speakers_hint" (2 for an individual session, 3 for couples, …). This module imports
only the engine, so the spawned child stays light.
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
    def run(
        self,
        audio_path: Path,
        on_progress: Any = None,
        should_cancel: Any = None,
        *,
        speakers_hint: Any = None,
        channel_speakers: bool = False,
    ) -> Any: ...

    def warm_up(self) -> None: ...

    def rediarize(
        self,
        audio_path: Path,
        *,
        num_speakers: int | None = None,
        speakers_hint: int | None = None,
        on_progress: Any = None,
        should_cancel: Any = None,
    ) -> Any: ...


def _build_pipeline(options: dict[str, Any]) -> _Runnable:
    from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

    values = dict(options)
    values["cache_dir"] = Path(values["cache_dir"])
    if values.get("scratch_dir"):
        values["scratch_dir"] = Path(values["scratch_dir"])
    return Pipeline(PipelineOptions(**values))


def _write_notes(msg: dict[str, Any], on_progress: Any, should_cancel: Any) -> dict[str, Any]:
    """A progress note from transcript lines with a template (the generating_notes stage)."""
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.factory import make_generator

    template = NoteTemplateSpec.from_content(msg["template"]["name"], msg["template"]["content"])
    lines = [TranscriptLine(**line) for line in msg["lines"]]
    generator = make_generator(dict(msg.get("notes") or {}))
    note = generator.generate(lines, template, on_progress=on_progress, should_cancel=should_cancel)
    return note.to_dict()


def worker_main(conn: Connection, options: dict[str, Any]) -> None:
    """Entry point of the spawned process."""
    from tbdesktop.engine.errors import EngineError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # this process and the engine workers it starts form one group, killed together
    pipeline: _Runnable | None = None
    parent = os.getppid()

    def orphaned() -> bool:
        return os.getppid() != parent  # the app is gone: stop working for nobody

    conn.send({"type": "ready", "pid": os.getpid()})
    try:
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
                    pipeline.warm_up()
                    conn.send({"type": "warm"})
                except EngineError as exc:
                    conn.send({"type": "warm", "error": exc.message})
                continue
            if msg.get("type") not in ("run", "notes", "rediarize"):
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
                if msg["type"] == "notes":
                    note = _write_notes(msg, on_progress, orphaned)
                    conn.send({"type": "result", "job_id": job_id, "result": note})
                    continue
                if pipeline is None:
                    on_progress("loading_model", 0.0, None)
                    pipeline = _build_pipeline(options)
                if msg["type"] == "rediarize":
                    turns = pipeline.rediarize(
                        Path(msg["audio_path"]),
                        num_speakers=msg.get("num_speakers"),
                        speakers_hint=msg.get("speakers_hint"),
                        on_progress=on_progress,
                        should_cancel=orphaned,
                    )
                    conn.send({"type": "result", "job_id": job_id, "result": turns.to_dict()})
                    continue
                result = pipeline.run(
                    Path(msg["audio_path"]),
                    on_progress=on_progress,
                    should_cancel=orphaned,
                    speakers_hint=msg.get("speakers_hint"),
                    channel_speakers=bool(msg.get("channel_speakers")),
                )
                conn.send({"type": "result", "job_id": job_id, "result": result.to_dict()})
            except EngineError as exc:
                conn.send({"type": "error", "job_id": job_id, "error_type": type(exc).__name__, "message": exc.message})
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
    finally:
        if pipeline is not None and hasattr(pipeline, "close"):
            pipeline.close()  # stops the engine workers with this process
