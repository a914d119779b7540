"""The offline note generator: an extractive, transcript-based draft built without a language model.

Method (docs/decisions/0006-local-notes.md): each template section is matched to clinical concepts
(:data:`~tbdesktop.engine.notes.local.concepts.CONCEPTS`: subjective, objective, plan, intervention, …) by trigger
words in its key and title, or else its instructions. Every sentence is scored per section: its distinct concept cue
words (at most 3), plus the content words it shares with the section's title and instructions (half weight; full
weight where no concept matched), times the concept's fit for the speaker's role (client concepts take no therapist
speech, interventions no client speech); questions count only as interventions, at half weight. A short reply is
scored and quoted with the question it answers. A segment offers each section its best sentence and goes to the
section where that scores highest (a section left empty takes its own best anyway); a section keeps up to 5
sentences scoring at least 1.0, within ``max_words``, in transcript order. Sentences are quoted without fillers and
attributed (``Client: "…"``, ``Therapist suggested: "…"``), never paraphrased; a section with none reads
"Not discussed in this session."

Two parts are not scored (:mod:`.clinical`): a plan section holds the therapist's proposals and the client's
agreement; the risk section (else the assessment) holds the suicidal-ideation and self-harm flags and the
therapist's safety steps, and a risk section every flag (a denial as said).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes.local.clinical import plan_sentences, risk_sentences
from tbdesktop.engine.notes.local.concepts import CONCEPTS, RISK_IN_INSTRUCTIONS, SUGGESTION, Concept
from tbdesktop.engine.notes.local.quotes import Sentence, condense, content_stems, quoted, speaker_label, units
from tbdesktop.engine.notes.risk import detect_risks
from tbdesktop.engine.notes.summary import EMPTY_SUMMARY, SAFETY_KINDS, summarise
from tbdesktop.engine.notes.types import (
    RISK_KINDS,
    STAGE,
    GeneratedNote,
    NoteSection,
    NoteSentence,
    NoteTemplateSpec,
    TemplateSection,
    TranscriptLine,
    keep_supported,
)
from tbdesktop.engine.types import CancelCheck, ProgressCallback

THRESHOLD = 1.0
MAX_SENTENCES = 5
MAX_RISK_SENTENCES = 8
MIN_WORDS = 3
MAX_CUE_HITS = 3


@dataclass(frozen=True)
class _Target:
    section: TemplateSection
    concepts: tuple[Concept, ...]
    stems: frozenset[str]
    overlap_weight: float
    is_risk: bool
    is_plan: bool


class LocalNoteGenerator:
    """A transcript-based draft: each section quotes the utterances that fit it best, with their segments."""

    name = "local"

    def generate(
        self,
        lines: Sequence[TranscriptLine],
        template: NoteTemplateSpec,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedNote:
        spoken = [line for line in lines if line.text.strip()]
        targets = [_target(s) for s in template.sections]
        flags = detect_risks(spoken)
        sentences_of = units(spoken)
        total = len(targets) + 1
        scored: list[dict[tuple[int, int], float]] = []
        for n, target in enumerate(targets):
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            fixed = target.is_risk or target.is_plan
            scored.append({} if fixed else _score_section(target, sentences_of))
            if on_progress is not None:
                on_progress(STAGE, (n + 1) / total, None)
        if should_cancel is not None and should_cancel():
            raise Cancelled()
        chosen = _assign(scored)
        carrier = _risk_carrier(targets)
        # a proposal the plan quotes is not also an intervention or a progress remark
        planned = (
            {i for s in plan_sentences(spoken, None) for i in s.evidence} if any(t.is_plan for t in targets) else set()
        )
        sections: list[NoteSection] = []
        for n, (target, picks) in enumerate(zip(targets, chosen, strict=True)):
            room = target.section.max_words
            if target.is_risk:
                sentences = risk_sentences(
                    flags, sentences_of, spoken, kinds=None, brief=False, budget=room, limit=MAX_RISK_SENTENCES
                )
            elif target.is_plan:
                sentences = plan_sentences(spoken, room)
            else:
                asks_risk = RISK_IN_INSTRUCTIONS.search(target.section.instructions) is not None
                kinds: tuple[str, ...] | None = () if carrier < 0 else (SAFETY_KINDS if n == carrier else ())
                if carrier >= 0 and asks_risk:  # no risk section: a section asking about risk quotes the flags
                    kinds = None if n == carrier else tuple(k for k in RISK_KINDS if k not in SAFETY_KINDS)
                risk = (
                    risk_sentences(
                        flags, sentences_of, spoken, kinds=kinds, brief=True, budget=room, limit=MAX_RISK_SENTENCES
                    )
                    if kinds != ()
                    else []
                )
                cited = {i for s in risk for i in s.evidence}
                if room is not None:
                    room -= sum(len(x.text.split()) for x in risk)
                rest = [p for p in picks if sentences_of[p[0]][0].line.idx not in cited | planned]
                limit = max(MAX_SENTENCES - len(risk), 2) if risk else MAX_SENTENCES
                sentences = risk + _render(target, rest, sentences_of, room, limit)
            sections.append(NoteSection(target.section.key, target.section.title, keep_supported(sentences, spoken)))
        summary = summarise(spoken, sections, flags) if spoken else EMPTY_SUMMARY
        unlabelled = bool(spoken) and all(line.role is None for line in spoken)
        warnings = ("Speaker roles are not set, so quotes are attributed to speaker labels.",) if unlabelled else ()
        if on_progress is not None:
            on_progress(STAGE, 1.0, 0.0)
        return GeneratedNote(self.name, tuple(sections), summary, flags, warnings)


def _target(section: TemplateSection) -> _Target:
    heading = f"{section.key.replace('_', ' ')} {section.title}"
    concepts = tuple(c for c in CONCEPTS if c.triggers.search(heading))
    if not concepts:
        concepts = tuple(c for c in CONCEPTS if c.triggers.search(section.instructions) and c.name != "risk")
    stems = content_stems(f"{heading} {section.instructions}")
    names = {c.name for c in concepts}  # a "Safety plan" is a plan, not a list of flags
    weight = 0.5 if concepts else 1.0
    return _Target(section, concepts, stems, weight, "risk" in names and "plan" not in names, "plan" in names)


def _risk_carrier(targets: Sequence[_Target]) -> int:
    """Where suicidal-ideation and self-harm content goes when there is no risk section: the assessment, else a
    section whose instructions ask about risk, else the first section that is not the plan (-1: a risk section)."""
    if any(t.is_risk for t in targets):
        return -1
    candidates = [(n, t) for n, t in enumerate(targets) if not t.is_plan]
    for n, target in candidates:
        if any(c.name == "assessment" for c in target.concepts):
            return n
    for n, target in candidates:
        if RISK_IN_INSTRUCTIONS.search(target.section.instructions):
            return n
    if candidates:
        return candidates[0][0]
    return 0


def _score(target: _Target, unit: Sentence) -> float:
    text, stems, words = unit.text, unit.stems, unit.words
    if unit.asked is not None:
        text, stems, words = f"{unit.asked.text} {text}", stems | unit.asked.stems, words + unit.asked.words
    if words < MIN_WORDS:
        return 0.0
    overlap = min(len(target.stems & stems), 2) * target.overlap_weight
    if not target.concepts:
        return 0.0 if unit.question else overlap
    best = 0.0
    for concept in target.concepts:
        fit = concept.fit.get(unit.line.role, 0.0)
        if unit.question:  # asking is not reporting; only an intervention may be a question
            fit *= 0.5 if concept.name == "intervention" else 0.0
        if fit == 0.0:
            continue
        hits = min(len({m.group(0).lower() for m in concept.cues.finditer(text)}), MAX_CUE_HITS)
        best = max(best, (hits + overlap) * fit)
    return best


def _score_section(target: _Target, sentences_of: Sequence[Sequence[Sentence]]) -> dict[tuple[int, int], float]:
    """(segment position, sentence position) → score of each segment's best sentence at or over the threshold."""
    found: dict[tuple[int, int], float] = {}
    for pos, sentences in enumerate(sentences_of):
        scores = [_score(target, s) for s in sentences]
        if scores and max(scores) >= THRESHOLD:
            best = scores.index(max(scores))
            found[(pos, best)] = scores[best]
    return found


def _assign(scored: Sequence[dict[tuple[int, int], float]]) -> list[list[tuple[int, int]]]:
    """Each segment goes where its best sentence scores highest; a section left empty keeps its own candidates."""
    home: dict[int, tuple[float, int]] = {}
    for n, found in enumerate(scored):
        for (pos, _), score in found.items():
            if pos not in home or score > home[pos][0]:
                home[pos] = (score, n)
    own = [[k for k in found if home[k[0]][1] == n] or list(found) for n, found in enumerate(scored)]
    # best first; equal scores keep transcript order (sorting is stable, also in reverse)
    return [sorted(sorted(keys), key=found.__getitem__, reverse=True) for found, keys in zip(scored, own, strict=True)]


def _render(
    target: _Target,
    picks: Sequence[tuple[int, int]],
    sentences_of: Sequence[Sequence[Sentence]],
    budget: int | None,
    limit: int,
) -> list[NoteSentence]:
    concept = target.concepts[0].name if target.concepts else ""
    chosen: list[tuple[tuple[int, int], NoteSentence]] = []
    used = 0
    for pos, i in picks:
        if len(chosen) >= limit:
            break
        sentences = sentences_of[pos]
        unit = sentences[i]
        text = unit.text
        if unit.words < 6 and len(sentences) > 1:  # a very short sentence keeps its neighbour for context
            text = f"{text} {sentences[i + 1].text}" if i + 1 < len(sentences) else f"{sentences[i - 1].text} {text}"
        suggestion = concept == "intervention" and SUGGESTION.search(unit.text) is not None
        label = speaker_label(unit, suggestion)
        rendered = quoted(unit, condense(text, target.stems), label, None if budget is None else budget - used)
        if rendered is not None:
            used += len(rendered.text.split())
            chosen.append(((pos, i), rendered))
    return [s for _, s in sorted(chosen, key=lambda c: c[0])]
