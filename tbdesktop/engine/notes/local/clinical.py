"""The two parts of the draft a clinician must be able to trust: the plan (what the therapist proposed and the
client agreed, never a client's stray "I will …") and the risk content (flags with their qualifier, then the
therapist's safety steps), each quoted verbatim and cited by segment."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tbdesktop.engine.notes.local.concepts import SUGGESTION
from tbdesktop.engine.notes.local.quotes import Sentence, attributed, condense, quoted, speaker_label
from tbdesktop.engine.notes.risk import split_sentences
from tbdesktop.engine.notes.risk_lexicon import phrases
from tbdesktop.engine.notes.summary import SAFETY_KINDS, SAFETY_STEPS, PlanStep, plan_steps
from tbdesktop.engine.notes.types import NoteSentence, RiskFlagResult, TranscriptLine

MAX_PLAN_ITEMS = 5
MAX_SAFETY_STEPS = 4
MAX_OTHER_FLAGS = 3
MAX_AGREEMENT_WORDS = 20
MIN_COMMITMENT_WORDS = 3
MIN_CUT_WORDS = 4

_RANK = {"high": 0, "moderate": 1, "low": 2, "denied": 3}
KIND_NAMES = {
    "suicidal_ideation": "Suicidal ideation",
    "self_harm": "Self-harm",
    "harm_to_others": "Harm to others",
    "abuse_neglect": "Abuse or neglect",
    "substance_use": "Substance use",
}
# A therapist question that asks the client for their plan; the answer is the client's commitment.
_ASKS_PLAN = phrases(
    r"next steps?",
    "your plan",
    "your goal",
    r"what (?:will|are) you (?:going to )?do",
    "first step",
    r"what (?:would|could|will) you do differently",
    r"where do you want to go (?:from here|with)",
    r"how (?:will|would) you (?:start|make|get)",
    "how do you want to proceed",
)
_DECLINES = re.compile(
    r"^\W*(?:no\b|nope|nah|not really|i don['’]t know|i['’]m not sure|i can['’]t|i won['’]t)", re.IGNORECASE
)


def plan_sentences(lines: Sequence[TranscriptLine], budget: int | None) -> list[NoteSentence]:
    """What the therapist proposed, each with ``Client agreed: "…"`` when the client's reply agreed, and the
    client's answer to a question about their plan; the most concrete first, shown in transcript order."""
    items: list[tuple[float, int, NoteSentence]] = []
    for step in plan_steps(lines):
        rendered = _step_sentence(step, "", None)
        score = len(step.kinds) + (1.5 if step.agreement is not None else 0.0) + step.line.idx / (10 * len(lines))
        items.append((score, step.line.idx, rendered))
    stepped = {i for _, _, s in items for i in s.evidence}
    for pos, line in enumerate(lines[:-1]):
        reply = lines[pos + 1]
        asked = split_sentences(line.text)[-1:] if line.role == "therapist" else []
        if not asked or not asked[0].endswith("?") or not _ASKS_PLAN.search(asked[0]) or line.idx in stepped:
            continue
        if reply.role in (None, "therapist") or _DECLINES.match(reply.text) or reply.idx in stepped:
            continue
        answer = _first_words(reply.text, MAX_AGREEMENT_WORDS * 2)
        if len(answer.split()) >= MIN_COMMITMENT_WORDS:
            text = f'Therapist asked: "{condense(asked[0])}" {speaker_label(_unit(reply))}: "{answer}"'
            items.append((1.0, line.idx, NoteSentence(text, (line.idx, reply.idx))))
    chosen = sorted(items, key=lambda item: (-item[0], item[1]))[:MAX_PLAN_ITEMS]
    return _within([s for _, _, s in sorted(chosen, key=lambda item: item[1])], budget)


def risk_sentences(
    flags: Sequence[RiskFlagResult],
    units: Sequence[Sequence[Sentence]],
    lines: Sequence[TranscriptLine],
    *,
    kinds: Sequence[str] | None,
    brief: bool,
    budget: int | None,
    limit: int,
) -> list[NoteSentence]:
    """The flags of ``kinds`` (all when None) as said, each after its kind and qualifier; when suicidal ideation
    or self-harm was raised above "denied", the therapist's safety steps from then on follow."""
    picked = [f for f in flags if kinds is None or f.kind in kinds]
    if brief:  # in a section that is not about risk: suicide and self-harm, then the worst few others
        others = sorted((f for f in picked if f.kind not in SAFETY_KINDS), key=lambda f: _RANK[f.severity])
        kept = {id(f) for f in others[:MAX_OTHER_FLAGS]}
        picked = [f for f in picked if f.kind in SAFETY_KINDS] + [f for f in picked if id(f) in kept]
    by_idx = {sentences[0].line.idx: sentences for sentences in units if sentences}
    out: list[NoteSentence] = []
    for flag in picked:
        sentences = by_idx.get(flag.segment_idx)
        if sentences:
            out.append(_flag_sentence(flag, sentences[0]))
    raised = [f.segment_idx for f in flags if f.kind in SAFETY_KINDS and f.severity != "denied"]
    if raised and (kinds is None or set(kinds) & set(SAFETY_KINDS)):
        steps = [s for s in plan_steps(lines) if s.line.idx >= min(raised) and set(s.kinds) & SAFETY_STEPS]
        for step in steps[:MAX_SAFETY_STEPS]:
            names = "; ".join(k for k in step.kinds if k in SAFETY_STEPS)
            out.append(_step_sentence(step, f"Safety step ({names}) —", None))
    return _within(out[:limit], budget)


def _flag_sentence(flag: RiskFlagResult, first: Sentence) -> NoteSentence:
    """``Suicidal ideation (moderate; passive ideation) — Client: "…"`` after the question a short reply answers."""
    qualifier = "; ".join(q for q in (flag.severity, flag.detail.strip()) if q)
    asked = first.asked if first.asked is not None and flag.quote.startswith(first.text) else None
    unit = Sentence(first.line, flag.quote, len(flag.quote.split()), frozenset(), False, asked)
    said = quoted(unit, condense(flag.quote), speaker_label(unit), None)
    assert said is not None  # a flag always quotes some words
    return NoteSentence(f"{KIND_NAMES.get(flag.kind, flag.kind)} ({qualifier}) — {said.text}", said.evidence)


def _step_sentence(step: PlanStep, prefix: str, budget: int | None) -> NoteSentence:
    unit = _unit(step.line, step.question)
    label = speaker_label(unit, suggestion=SUGGESTION.search(step.text) is not None)
    text = f"{prefix} {attributed(label, condense(step.text), budget)}".strip()
    if step.agreement is None:
        return NoteSentence(text, (step.line.idx,))
    who = speaker_label(_unit(step.agreement))
    agreed = f'{who} agreed: "{_first_words(step.agreement.text, MAX_AGREEMENT_WORDS)}"'
    return NoteSentence(f"{text} {agreed}", (step.line.idx, step.agreement.idx))


def _unit(line: TranscriptLine, question: bool = False) -> Sentence:
    return Sentence(line, line.text, len(line.text.split()), frozenset(), question)


def _first_words(text: str, limit: int) -> str:
    """Whole sentences from the start, verbatim without fillers, as many as fit in ``limit`` words (at least one)."""
    kept: list[str] = []
    for sentence in split_sentences(condense(text)):
        if kept and len(" ".join([*kept, sentence]).split()) > limit:
            break
        kept.append(sentence)
    return condense(" ".join(kept))


def _within(sentences: Sequence[NoteSentence], budget: int | None) -> list[NoteSentence]:
    """The sentences within ``budget`` words, in order; one that does not fit is cut short (quote closed)."""
    if budget is None:
        return list(sentences)
    kept: list[NoteSentence] = []
    for sentence in sentences:
        words = sentence.text.split()
        if len(words) > budget:
            if budget < MIN_CUT_WORDS:
                break
            cut = " ".join(words[: budget - 1])
            words = (cut + (' …"' if cut.count('"') % 2 else " …")).split()
            sentence = NoteSentence(" ".join(words), sentence.evidence)
        kept.append(sentence)
        budget -= len(words)
    return kept
