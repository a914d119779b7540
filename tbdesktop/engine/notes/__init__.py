"""Progress notes from a transcript: templates, generators (local draft, OpenAI-compatible), risk flags, summary.

Every sentence of a note carries the transcript segment indexes that support it (``NoteSentence.evidence``);
sentences whose evidence does not exist are dropped, and a section with nothing to say reads
"Not discussed in this session." (``NOT_DISCUSSED``).
"""

from tbdesktop.engine.notes.types import (
    NOT_DISCUSSED,
    RISK_KINDS,
    RISK_SEVERITIES,
    RISK_SOURCES,
    STAGE,
    GeneratedNote,
    ModelUnavailable,
    NoteGenerator,
    NoteSection,
    NoteSentence,
    NotesError,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateError,
    TemplateSection,
    TranscriptLine,
    keep_supported,
)

__all__ = [
    "NOT_DISCUSSED",
    "RISK_KINDS",
    "RISK_SEVERITIES",
    "RISK_SOURCES",
    "STAGE",
    "GeneratedNote",
    "ModelUnavailable",
    "NoteGenerator",
    "NoteSection",
    "NoteSentence",
    "NoteTemplateSpec",
    "NotesError",
    "RiskFlagResult",
    "TemplateError",
    "TemplateSection",
    "TranscriptLine",
    "keep_supported",
]
