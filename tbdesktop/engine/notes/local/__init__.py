"""The offline, transcript-based draft note (no language model): see :mod:`.generator`."""

from tbdesktop.engine.notes.local.generator import MAX_RISK_SENTENCES, MAX_SENTENCES, LocalNoteGenerator

__all__ = ["MAX_RISK_SENTENCES", "MAX_SENTENCES", "LocalNoteGenerator"]
