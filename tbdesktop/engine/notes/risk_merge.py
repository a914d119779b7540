"""Risk flags from the rule lexicon and from a language model, merged; and the risk content every note carries
when suicidal ideation or self-harm came up: the flags and the therapist's safety steps, each cited.

The rule lexicon is the floor: a model flag can add a kind or raise a severity, never remove a rule flag. Flags
on the same line and kind become one, at the higher severity, with the source ``rules+model``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from tbdesktop.engine.notes.evidence import check_support
from tbdesktop.engine.notes.types import (
    NoteSection,
    NoteSentence,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateSection,
    TranscriptLine,
)

_RANK = {"denied": 0, "low": 1, "moderate": 2, "high": 3}
SAFETY_KINDS = ("suicidal_ideation", "self_harm")
KIND_NAMES = {
    "suicidal_ideation": "Suicidal ideation",
    "self_harm": "Self-harm",
    "harm_to_others": "Harm to others",
    "abuse_neglect": "Abuse or neglect",
    "substance_use": "Substance use",
}
MAX_SAFETY_STEPS = 4
_RISK_SECTION = re.compile(r"\b(?:risk|safety)\b", re.IGNORECASE)
_ASSESSMENT = re.compile(r"\bassess", re.IGNORECASE)
# What a therapist says when taking a safety step: a plan, a crisis line, a follow-up, means, emergency contacts.
_SAFETY_STEP = re.compile(
    r"safety plan|crisis (?:line|number|team|text)|hot ?line|\b988\b|\b911\b|emergency|\bER\b|call (?:me|us|the)|"
    r"reach out|check in|follow[- ]up|see you (?:again|next|on)|next (?:session|appointment|week|\w+day)|"
    r"before (?:our|the) next|"
    r"(?:lock|remove|get rid of|put away|hand over)\b.{0,30}\b(?:pills|medication|gun|knife|razor|means)|"
    r"someone you trust|stay with|warning signs|coping (?:plan|steps|strategies)",
    re.IGNORECASE,
)


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


def flag_sentence(flag: RiskFlagResult, line: TranscriptLine | None) -> NoteSentence:
    """``Suicidal ideation (passive ideation; denies a plan): the client said "…".``"""
    qualifier = flag.detail or ("denied" if flag.severity == "denied" else f"{flag.severity} severity")
    who = _speaker(line)
    return NoteSentence(
        f'{KIND_NAMES.get(flag.kind, flag.kind)} ({qualifier}): {who} said "{flag.quote}".', (flag.segment_idx,)
    )


def safety_steps(lines: Sequence[TranscriptLine], after: int) -> list[NoteSentence]:
    """The therapist's safety steps from line ``after`` on, quoted and cited (at most ``MAX_SAFETY_STEPS``)."""
    steps: list[NoteSentence] = []
    for line in lines:
        if line.idx < after or line.role != "therapist" or not _SAFETY_STEP.search(line.text):
            continue
        quote = " ".join(line.text.split())
        steps.append(NoteSentence(f'Safety step: the therapist said "{quote}".', (line.idx,)))
        if len(steps) >= MAX_SAFETY_STEPS:
            break
    return steps


def risk_target(template: NoteTemplateSpec) -> TemplateSection:
    """The section that carries risk content: a risk or safety section, else the assessment, else the first."""
    for pattern in (_RISK_SECTION, _ASSESSMENT):
        for section in template.sections:
            if pattern.search(f"{section.key.replace('_', ' ')} {section.title}"):
                return section
    return template.sections[0]


def risk_content(
    sections: Sequence[NoteSection],
    template: NoteTemplateSpec,
    flags: Sequence[RiskFlagResult],
    lines: Sequence[TranscriptLine],
) -> list[NoteSection]:
    """``sections`` with the suicidal-ideation and self-harm flags and the safety steps added to the risk section
    (whatever the writer put there stays; a line already cited there is not repeated)."""
    safety = [f for f in flags if f.kind in SAFETY_KINDS]
    if not safety:
        return list(sections)
    by_idx = {line.idx: line for line in lines}
    target = risk_target(template)
    added = [flag_sentence(f, by_idx.get(f.segment_idx)) for f in safety]
    if any(f.severity != "denied" for f in safety):
        added += safety_steps(lines, min(f.segment_idx for f in safety))
    out: list[NoteSection] = []
    for section in sections:
        if section.key == target.key:
            cited = {i for s in section.sentences for i in s.evidence}
            extra = [s for s in added if not set(s.evidence) <= cited]
            section = NoteSection(section.key, section.title, tuple(extra) + section.sentences)
        out.append(section)
    return out


def _speaker(line: TranscriptLine | None) -> str:
    if line is None or line.role in (None, "client"):
        return "the client"
    return f"the {line.role}"


def checked_summary(summary: str, sections: Sequence[NoteSection], lines: Sequence[TranscriptLine]) -> str:
    """The summary's sentences that the lines the note cites support (a summary carries no evidence of its own)."""
    cited = {i for section in sections for i in section.evidence}
    texts = [line.text for line in lines if line.idx in cited]
    kept = [s for s in re.split(r"(?<=[.!?])\s+", summary.strip()) if s and check_support(s, texts).ok]
    return " ".join(kept)
