"""Builds the note generator the settings name (plain data in: the options cross a process boundary)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tbdesktop.engine.notes.types import (
    GeneratedNote,
    ModelUnavailable,
    NoteGenerator,
    NotesError,
    NoteTemplateSpec,
    TranscriptLine,
)
from tbdesktop.engine.types import CancelCheck, ProgressCallback

log = logging.getLogger(__name__)


def make_generator(options: dict[str, Any]) -> NoteGenerator:
    """``{"backend": "local"}``, ``{"backend": "llm", "model_path", "threads"?, "gpu_layers"?, "context_tokens"?}``
    or ``{"backend": "openai", "base_url", "model", "api_key"?, "timeout_s"?}``."""
    backend = str(options.get("backend") or "local")
    if backend == "local":
        from tbdesktop.engine.notes.local import LocalNoteGenerator

        return LocalNoteGenerator()
    if backend == "llm":
        from tbdesktop.engine.notes.llm import LlamaNoteGenerator, RuntimeOptions
        from tbdesktop.engine.notes.llm.runtime import ALL_LAYERS, DEFAULT_CONTEXT

        runtime = RuntimeOptions(
            model_path=Path(str(options.get("model_path") or "")),
            threads=int(options.get("threads") or 0),
            gpu_layers=int(ALL_LAYERS if options.get("gpu_layers") is None else options["gpu_layers"]),
            context_tokens=int(options.get("context_tokens") or DEFAULT_CONTEXT),
        )
        return WithDraftFallback(LlamaNoteGenerator(runtime))
    if backend == "openai":
        base_url, model = str(options.get("base_url") or ""), str(options.get("model") or "")
        if not base_url or not model:
            raise NotesError("Notes are set to use a server, but its address or model is not configured.")
        from tbdesktop.engine.notes.openai_backend import OpenAINoteGenerator

        return OpenAINoteGenerator(
            base_url, model, options.get("api_key"), timeout_s=float(options.get("timeout_s") or 120.0)
        )
    raise NotesError(f"Unknown notes backend '{backend}' (use local, llm or openai).")


class WithDraftFallback:
    """A model's note, or — when the model cannot be used at all (missing, damaged, too big for memory) — the
    transcript draft, saying why. Errors while writing (cancel included) are not hidden."""

    def __init__(self, primary: NoteGenerator) -> None:
        self.primary = primary
        self.name = primary.name

    def generate(
        self,
        lines: Sequence[TranscriptLine],
        template: NoteTemplateSpec,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedNote:
        try:
            return self.primary.generate(lines, template, on_progress=on_progress, should_cancel=should_cancel)
        except ModelUnavailable as exc:
            from tbdesktop.engine.notes.local import LocalNoteGenerator

            log.warning("note model unavailable; writing the transcript draft", extra={"generator": self.name})
            note = LocalNoteGenerator().generate(lines, template, on_progress=on_progress, should_cancel=should_cancel)
            reason = f"{exc.message} This note is a draft from transcript quotes instead."
            return GeneratedNote(note.generator, note.sections, note.summary, note.risk_flags, (reason, *note.warnings))
