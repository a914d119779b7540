"""Risk flags from the rule lexicon and from a language model, merged; and the risk content every note carries
when suicidal ideation or self-harm came up: the flags and the therapist's safety steps, quoted and cited as the
transcript draft writes them (``local.clinical.risk_sentences``), whoever wrote the rest of the note.

The rule lexicon is the floor: a model flag can add a kind or raise a severity, never remove a rule flag. Flags
on the same line and kind become one, at the higher severity, with the source ``rules+model``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from tbdesktop.engine.notes.evidence import check_support
from tbdesktop.engine.notes.local.clinical import risk_sentences
from tbdesktop.engine.notes.local.quotes import units
from tbdesktop.engine.notes.summary import SAFETY_KINDS
from tbdesktop.engine.notes.types import (
    NoteSection,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateSection,
    TranscriptLine,
)

_RANK = {"denied": 0, "low": 1, "moderate": 2, "high": 3}
MAX_RISK_CONTENT = 8
_RISK_SECTION = re.compile(r"\b(?:risk|safety)\b", re.IGNORECASE)
_ASSESSMENT = re.compile(r"\bassess", re.IGNORECASE)
_PLAN = re.compile(r"\bplan\b", re.IGNORECASE)
_SUICIDE = re.compile(r"suicid|self[- ]harm", re.IGNORECASE)


def merge_flags(rules: Sequence[RiskFlagResult], model: Sequence[RiskFlagResult]) -> tuple[RiskFlagResult, ...]:
    """One flag per kind and line, ordered by line; a rule flag is never dropped or lowered."""
    merged: dict[tuple[str, int], RiskFlagResult] = {}
    for flag in rules:
        merged.setdefault((flag.kind, flag.segment_idx), replace(flag, source="rules"))
    for flag in model:
        key = (flag.kind, flag.segment_idx)
        known = merged.get(key)
        if known is None:
            merged[key] = replace(flag, source="model")
            continue
        severity = flag.severity if _RANK[flag.severity] > _RANK[known.severity] else known.severity
        merged[key] = replace(known, severity=severity, source="rules+model")
    return tuple(sorted(merged.values(), key=lambda f: (f.segment_idx, f.kind)))


def risk_target(template: NoteTemplateSpec) -> TemplateSection:
    """The section that carries risk content: a risk section (a "safety plan" is a plan), else the assessment,
    else a section whose instructions ask about risk, else the first that is not the plan."""

    def heading(section: TemplateSection) -> str:
        return f"{section.key.replace('_', ' ')} {section.title}"

    others = [s for s in template.sections if not _PLAN.search(heading(s))] or list(template.sections)
    for found in (
        [s for s in others if _RISK_SECTION.search(heading(s))],
        [s for s in others if _ASSESSMENT.search(heading(s))],
        [s for s in others if _RISK_SECTION.search(s.instructions) or _SUICIDE.search(s.instructions)],
    ):
        if found:
            return found[0]
    return others[0]


def risk_content(
    sections: Sequence[NoteSection],
    template: NoteTemplateSpec,
    flags: Sequence[RiskFlagResult],
    lines: Sequence[TranscriptLine],
) -> list[NoteSection]:
    """``sections`` with the suicidal-ideation and self-harm flags and the safety steps added to the risk section
    (whatever the writer put there stays; a line already cited there is not repeated)."""
    if not any(f.kind in SAFETY_KINDS for f in flags):
        return list(sections)
    target = risk_target(template)
    spoken = [line for line in lines if line.text.strip()]
    added = risk_sentences(
        flags, units(spoken), spoken, kinds=SAFETY_KINDS, brief=False, budget=None, limit=MAX_RISK_CONTENT
    )
    out: list[NoteSection] = []
    for section in sections:
        if section.key == target.key:
            cited = {i for s in section.sentences for i in s.evidence}
            extra = [s for s in added if not set(s.evidence) <= cited]
            section = NoteSection(section.key, section.title, tuple(extra) + section.sentences)
        out.append(section)
    return out


def checked_summary(summary: str, sections: Sequence[NoteSection], lines: Sequence[TranscriptLine]) -> str:
    """The summary's sentences that the lines the note cites support (a summary carries no evidence of its own)."""
    cited = {i for section in sections for i in section.evidence}
    texts = [line.text for line in lines if line.idx in cited]
    kept = [s for s in re.split(r"(?<=[.!?])\s+", summary.strip()) if s and check_support(s, texts).ok]
    return " ".join(kept)
