"""The processing coordinator process: it runs the engine pipeline (which keeps its own transcription and
diarization worker processes warm), writes notes and separates speakers again, for jobs sent over the one worker
protocol (engine/worker_protocol.py). It leads its own process group, so killing the group stops the coordinator
and both engine workers at once.

  Run(job_id, "pipeline", {"audio_path", "speakers_hint", "channel_speakers"})
  Run(job_id, "notes", {"lines", "template": {"name", "content"}, "notes": options})
  Run(job_id, "rediarize", {"audio_path", "num_speakers", "speakers_hint"})

This module imports only the engine, so the spawned child stays light.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from tbdesktop.engine.worker_protocol import serve

log = logging.getLogger(__name__)

WORKER_NICE = 10  # POSIX niceness of the processing processes
BELOW_NORMAL_PRIORITY_CLASS = 0x4000  # Windows


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


def _write_notes(args: dict[str, Any], on_progress: Any, should_cancel: Any) -> dict[str, Any]:
    """A progress note from transcript lines with a template (the generating_notes stage)."""
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.factory import make_generator

    template = NoteTemplateSpec.from_content(args["template"]["name"], args["template"]["content"])
    lines = [TranscriptLine(**line) for line in args["lines"]]
    generator = make_generator(dict(args.get("notes") or {}))
    note = generator.generate(lines, template, on_progress=on_progress, should_cancel=should_cancel)
    return note.to_dict()


class CoordinatorHandler:
    """The processing coordinator's jobs: ``pipeline`` (transcribe and diarize a recording), ``notes`` (a progress
    note from transcript lines) and ``rediarize`` (speaker separation alone). The pipeline and its engine workers
    start with the first warm-up or job and stay warm."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.pipeline: _Runnable | None = None

    def warm_up(self) -> None:
        # Load the models before the first job arrives, so the first session starts at once.
        self._pipeline().warm_up()

    def _pipeline(self, report: Any = None) -> _Runnable:
        if self.pipeline is None:
            if report is not None:
                report("loading_model", 0.0, None)
            self.pipeline = _build_pipeline(self.options)
        return self.pipeline

    def run(self, task: str, args: dict[str, Any], report: Any, cancelled: Any) -> dict[str, Any]:
        if task == "notes":
            return _write_notes(args, report, cancelled)
        pipeline = self._pipeline(report)
        if task == "rediarize":
            turns = pipeline.rediarize(
                Path(args["audio_path"]),
                num_speakers=args.get("num_speakers"),
                speakers_hint=args.get("speakers_hint"),
                on_progress=report,
                should_cancel=cancelled,
            )
            return dict(turns.to_dict())
        result = pipeline.run(
            Path(args["audio_path"]),
            on_progress=report,
            should_cancel=cancelled,
            speakers_hint=args.get("speakers_hint"),
            channel_speakers=bool(args.get("channel_speakers")),
        )
        return dict(result.to_dict())

    def close(self) -> None:
        if self.pipeline is not None and hasattr(self.pipeline, "close"):
            self.pipeline.close()  # stops the engine workers with this process


def worker_main(conn: Connection, options: dict[str, Any]) -> None:
    """Entry point of the spawned coordinator. It leads its own process group, so killing the group stops it
    and both engine workers at once."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    below_the_window()
    serve(conn, CoordinatorHandler(options), name="coordinator")


def below_the_window() -> None:
    """Processing runs below the window in CPU priority (the engine workers this process starts inherit it): it
    keeps every core busy, and the window's thread must get one the moment it wakes. When nothing else wants the
    cores, processing loses nothing."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        if hasattr(os, "nice"):
            os.nice(WORKER_NICE)
        elif sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), BELOW_NORMAL_PRIORITY_CLASS)
