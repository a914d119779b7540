"""Builds the note generator the settings name (plain data in: the options cross a process boundary)."""

from __future__ import annotations

from typing import Any

from tbdesktop.engine.notes.types import NoteGenerator, NotesError


def make_generator(options: dict[str, Any]) -> NoteGenerator:
    """``{"backend": "local"}`` or ``{"backend": "openai", "base_url", "model", "api_key"?, "timeout_s"?}``."""
    backend = str(options.get("backend") or "local")
    if backend == "local":
        from tbdesktop.engine.notes.local import LocalNoteGenerator

        return LocalNoteGenerator()
    if backend == "openai":
        base_url, model = str(options.get("base_url") or ""), str(options.get("model") or "")
        if not base_url or not model:
            raise NotesError("Notes are set to use a server, but its address or model is not configured.")
        from tbdesktop.engine.notes.openai_backend import OpenAINoteGenerator

        return OpenAINoteGenerator(
            base_url, model, options.get("api_key"), timeout_s=float(options.get("timeout_s") or 120.0)
        )
    raise NotesError(f"Unknown notes backend '{backend}' (use local or openai).")
