"""The transcript of a session: one row per line (time, speaker, words), the line being played, the lines a note
sentence rests on, and per-line corrections (words, speaker)."""

from tbdesktop.ui.transcript.delegate import LAYOUT_BATCH, LineDelegate
from tbdesktop.ui.transcript.fix_dialog import LineFixDialog
from tbdesktop.ui.transcript.line_list import LineList
from tbdesktop.ui.transcript.lines import (
    ROLE_CHOICES,
    SPEAKER_COLOURS,
    Line,
    build_lines,
    line_labels,
    role_text,
    segment_row,
    speaker_choices,
    speaker_colours,
    speaker_label,
    speaker_name,
    speaker_number,
)
from tbdesktop.ui.transcript.view import TranscriptView

__all__ = [
    "LAYOUT_BATCH",
    "ROLE_CHOICES",
    "SPEAKER_COLOURS",
    "Line",
    "LineDelegate",
    "LineFixDialog",
    "LineList",
    "TranscriptView",
    "build_lines",
    "line_labels",
    "role_text",
    "segment_row",
    "speaker_choices",
    "speaker_colours",
    "speaker_label",
    "speaker_name",
    "speaker_number",
]
