"""The offline note generator: an extractive, transcript-based draft built without a language model.

Method (docs/decisions/0006-local-notes.md): each template section is matched to clinical concepts (``_CONCEPTS``:
subjective, objective, plan, intervention, …) by trigger words in its key and title, or else its instructions.
Every sentence is scored per section: its distinct concept cue words (at most 3), plus the content words it
shares with the section's title and instructions (half weight; full weight where no concept matched), plus 0.5
for future wording in plan-like sections, times the concept's fit for the speaker's role (client concepts take
no therapist speech, interventions no client speech); questions count only as interventions, at half weight.
A short reply is scored and quoted with the question it answers. A segment offers each section its best
sentence and goes to the section where that scores highest (a section left empty takes its own best anyway);
a section keeps up to 5 sentences scoring at least 1.0, within ``max_words``, in transcript order. Sentences are
quoted without fillers and attributed (``Client: "…"``, ``Therapist suggested: "…"``), never paraphrased; a
section with none reads "Not discussed in this session." A risk or safety section quotes :func:`detect_risks`'
flags (a denial as said); without one, a section whose instructions ask about risk adds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes.risk import detect_risks, split_sentences
from tbdesktop.engine.notes.risk import phrases as _rx
from tbdesktop.engine.notes.summary import EMPTY_SUMMARY, content_stems, summarise
from tbdesktop.engine.notes.types import (
    STAGE,
    GeneratedNote,
    NoteSection,
    NoteSentence,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateSection,
    TranscriptLine,
    keep_supported,
)
from tbdesktop.engine.types import CancelCheck, ProgressCallback

THRESHOLD = 1.0
MAX_SENTENCES = 5
MAX_RISK_SENTENCES = 8
MAX_QUOTE_WORDS = 40
MIN_WORDS = 3
SHORT_ANSWER_WORDS = 10
MAX_CUE_HITS = 3


CLIENT_FIT: Mapping[str | None, float] = {"client": 1.0, "partner": 1.0, "participant": 0.9, "other": 0.5, None: 1.0}
THERAPIST_FIT: Mapping[str | None, float] = {"therapist": 1.0, None: 0.8}
ANY_FIT: Mapping[str | None, float] = {r: 1.0 for r in ("therapist", "client", "partner", "participant", None)}
MOSTLY_CLIENT_FIT: Mapping[str | None, float] = {**CLIENT_FIT, "therapist": 0.5}
MOSTLY_THERAPIST_FIT: Mapping[str | None, float] = {**ANY_FIT, "client": 0.8, "partner": 0.8, "participant": 0.8}


@dataclass(frozen=True)
class _Concept:
    name: str
    triggers: re.Pattern[str]  # words in a section's key, title (or instructions) that call for this concept
    cues: re.Pattern[str]  # words in a transcript sentence that fit it
    fit: Mapping[str | None, float]  # weight by speaker role; a role not listed weighs 0
    future: bool = False  # future wording ("next week", "will") adds to the score


# fmt: off
_FEELINGS = (
    r"feel\w*", "felt", r"sleep\w*", "slept", "insomnia", "tired", "exhausted", "anxious", "anxiety", r"worr\w*",
    r"stress\w*", "sad", r"depress\w*", "down", "mood", "angry", "anger", "irritable", "lonely", "hopeless",
    r"overwhelm\w*", r"panic\w*", r"cry\w*", "appetite", "energy", r"struggl\w*", "scared", "afraid", r"argu\w*",
    "fight", "fights", "nightmares?", "headaches?", "pain", "upset", r"frustrat\w*", r"guilt\w*", "ashamed",
    "numb", "worthless", r"motivat\w*", r"concentrat\w*", "lately", r"drink\w*", "alcohol", "wine", "beers?",
    r"suicid\w*", r"kill(?:ing)? myself", r"end(?:ing)? my life", r"(?:hurt|hurting|cut|cutting) myself", "want to die",
)
_OBSERVED = (
    r"scor\w*", "phq", r"phq-?9", r"gad-?7", "pcl", "bdi", "out of (?:ten|10)", "scale", "rated?", "rating",
    r"(?:you|he|she) (?:seem|look|appear)\w*", r"i notice\w*", "tearful", "eye contact", r"fidget\w*", "agitated",
    "restless", "dressed", r"minutes late", r"\d+ points",
)
_FUTURE = _rx(
    r"next (?:week|session|time|appointment)", "will", "i'll", "we'll", "you'll", "going to", "gonna", "this week",
    "tomorrow", "between now and", "before we meet", "from now on",
)
_CONCEPTS: tuple[_Concept, ...] = (
    _Concept("risk", _rx("risk", "safety", r"suicid\w*", r"self[- ]harm", "harm", r"danger\w*", "crisis", "lethality"),
             _rx("(?!)"), ANY_FIT),
    _Concept("subjective", _rx("subjective", "presenting", "concerns?", "complaints?", "client report",
                               r"self[- ]report", "symptoms?", "chief", "reported", "own words", "mood"),
             _rx(*_FEELINGS), CLIENT_FIT),
    _Concept("objective", _rx("objective", r"observ\w*", "mental status", "mse", "appearance", "affect", r"measur\w*",
                              "scores?", "vitals", r"orient\w*"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    _Concept("assessment", _rx(r"assess\w*", "impression", "formulation", "clinical", "progress", r"diagnos\w*",
                               "interpretation", "analysis"),
             _rx("progress", "better", r"improv\w*", "worse", r"worsen\w*", "since (?:last|we)", "compared to",
                 r"pattern\w*", "sounds like", "seems like", "it seems", r"connect\w*", "linked", "related to",
                 r"realiz\w*", "insight", "helped", "helping", "working", "changes?", "cycle", r"trigger\w*"),
             MOSTLY_THERAPIST_FIT),
    _Concept("plan", _rx("plan", "next steps?", "homework", r"referr\w*", r"follow[- ]?up", "next session",
                         r"recommend\w*", "tasks?", r"assign\w*"),
             _rx(r"next (?:week|session|time|appointment)", "homework", r"practi[cs]e", "try", "will", "i'll", "we'll",
                 "going to", r"schedul\w*", r"refer\w*", "appointment", "follow up", "before bed",
                 r"every (?:day|night|morning|evening)", "each (?:day|night)", "log", "journal", "diary", "worksheet",
                 r"track\w*", "see you next", "continue", "keep", "goal"),
             MOSTLY_THERAPIST_FIT, future=True),
    _Concept("data", _rx("data"), _rx(*_FEELINGS), CLIENT_FIT),
    _Concept("data", _rx("data"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    _Concept("behavior", _rx(r"behaviou?r\w*"),
             _rx(*_FEELINGS, r"i (?:did|went|started|stopped|tried|have been|'ve been|skipped|avoided)"), CLIENT_FIT),
    _Concept("behavior", _rx(r"behaviou?r\w*"), _rx(*_OBSERVED), MOSTLY_THERAPIST_FIT),
    _Concept("intervention", _rx("interventions?", "techniques?", "modality", "approach", "cbt", "dbt", "methods?",
                                 "treatment provided", "what the therapist did"),
             _rx("let's", "let us", "try", r"practi[cs]e", "exercises?", r"breath\w*", r"refram\w*", "thoughts?",
                 "evidence", "challenge", "skills?", r"mindful\w*", "grounding", r"validat\w*", "explore",
                 r"role[- ]?play", "psychoeducation", r"educat\w*", "worksheet", "cbt", "dbt", "what if",
                 "i want you to", "i'd like (?:you|us) to", "we could", "notice", r"relax\w*", "muscles?",
                 r"visuali[sz]\w*", "sleep hygiene", "routine", "cognitive", "activation", "exposure", "journal",
                 "homework", "imagine"), THERAPIST_FIT),
    _Concept("response", _rx("response", r"respond\w*", "reaction", "receptive", r"engag\w*", "outcome"),
             _rx("helpful", "helped", "makes sense", "i can try", "i'll try", "i will try", "i could", "that's true",
                 "i like", "good idea", "not sure", "hard to", "worth a try", "i guess", "agree", "calmer",
                 r"relax\w*", "felt better", "willing"), CLIENT_FIT),
    _Concept("goals", _rx("goals?", "aims?", "targets?", "hopes?"),
             _rx("goals?", "want to", "would like to", "i'd like to", "hope", "hoping", "work on", "achieve",
                 "get better at", r"improv\w*", "be able to"), MOSTLY_CLIENT_FIT),
    _Concept("problem", _rx("problems?", "issues?", r"difficult\w*", "needs?"), _rx(*_FEELINGS), CLIENT_FIT),
    _Concept("history", _rx("history", "background", "past", "childhood", "developmental"),
             _rx("used to", "when i was", "grew up", "growing up", "years ago", "childhood", r"as a (?:kid|child)",
                 "parents", "mother", "father", "mom", "dad", "in the past", "history", r"previous\w*",
                 r"divorc\w*", "school"), MOSTLY_CLIENT_FIT),
    _Concept("medications", _rx("medications?", "meds", r"prescri\w*", r"pharmac\w*", "psychiatric"),
             _rx("medications?", "meds", r"prescri\w*", "doses?", "dosage", "mg", "milligrams", "sertraline", "zoloft",
                 "prozac", "fluoxetine", "lexapro", "escitalopram", "citalopram", "celexa", "wellbutrin", "bupropion",
                 "effexor", "venlafaxine", "cymbalta", "duloxetine", "xanax", "alprazolam", "lorazepam", "ativan",
                 "klonopin", "clonazepam", "trazodone", "melatonin", "adderall", "ritalin", "lithium", "lamotrigine",
                 "seroquel", "quetiapine", "abilify", "antidepressants?", "psychiatrist", "pharmacy", "refills?",
                 "side effects", "pills?"), ANY_FIT),
    _Concept("substance", _rx("substances?", "alcohol", "drugs?", "drinking"),
             _rx(r"drink\w*", "drank", "drunk", "alcohol", "beers?", "wine", "vodka", "liquor", "shots", "weed",
                 "marijuana", "cannabis", "cocaine", "heroin", "meth", "opioids?", r"pills?", "high on", "sober",
                 r"smok\w*", "cigarettes?", r"vap\w*", "meds", "medications?", "caffeine", "coffee"),
             MOSTLY_CLIENT_FIT),
    _Concept("strengths", _rx("strengths?", "protective", "resources", "supports?", "coping", r"resilien\w*"),
             _rx(r"support\w*", "friends?", "helped", "helps", "proud", "good at", "managed", r"cop(?:ed|ing)",
                 r"walk\w*", r"exercis\w*", "gym", "church", "faith", r"pray\w*", r"enjoy\w*", r"hobb\w*", "sister",
                 "brother", r"volunteer\w*", "music", "reading", "dog", r"garden\w*"), MOSTLY_CLIENT_FIT),
    _Concept("focus", _rx("summary", "focus", "themes?", "topics?", "narrative"), _rx(*_FEELINGS), MOSTLY_CLIENT_FIT),
)
_RISK_IN_INSTRUCTIONS = _rx("risk", "safety", r"suicid\w*", r"self[- ]harm")
_SUGGESTION = _rx("try", r"practi[cs]e", "let's", "homework", "i'd like you", "i want you", "could you", "why don't",
                  r"suggest\w*", r"recommend\w*", "maybe you", "you could", "you might", "keep", "write")

# fmt: on
_FILLERS = (
    (re.compile(r",?\s*\b(?:um+|uh+|erm|uhm|hmm+|mm+)\b[,.]?", re.IGNORECASE), " "),
    (re.compile(r",?\s*\b(?:you know|i mean|like)\s*,", re.IGNORECASE), " "),
    (re.compile(r",\s*you know(?=[.!?]|$)", re.IGNORECASE), ""),
    (re.compile(r"\b(i|the|a|and|to|it|we|he|she|my|so|but)(?:\s+\1\b)+", re.IGNORECASE), r"\1"),
    (re.compile(r"\s+([,.!?])"), r"\1"),
    (re.compile(r"\s{2,}"), " "),
)
_LABELS = {"client": "Client", "partner": "Partner", "participant": "Participant", "other": "Other speaker"}


@dataclass(frozen=True)
class _Sentence:
    line: TranscriptLine
    text: str
    words: int
    stems: frozenset[str]
    question: bool
    asked: _Sentence | None = None  # the question a short answer replies to: scored and quoted with it


@dataclass(frozen=True)
class _Target:
    section: TemplateSection
    concepts: tuple[_Concept, ...]
    stems: frozenset[str]
    overlap_weight: float
    is_risk: bool


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
        units = _units(spoken)
        total = len(targets) + 1
        scored: list[dict[tuple[int, int], float]] = []
        for n, target in enumerate(targets):
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            scored.append({} if target.is_risk else _score_section(target, units))
            if on_progress is not None:
                on_progress(STAGE, (n + 1) / total, None)
        if should_cancel is not None and should_cancel():
            raise Cancelled()
        chosen = _assign(scored)
        has_risk_section = any(t.is_risk for t in targets)
        sections: list[NoteSection] = []
        for target, picks in zip(targets, chosen, strict=True):
            if target.is_risk:
                sentences = _risk_sentences(flags, units, target.section.max_words, MAX_RISK_SENTENCES)
            else:
                sentences = _render(target, picks, units)
                if not has_risk_section and _RISK_IN_INSTRUCTIONS.search(target.section.instructions):
                    limit, room = MAX_SENTENCES - len(sentences), target.section.max_words
                    if room is not None:
                        room -= sum(len(x.text.split()) for x in sentences)
                    sentences += _risk_sentences(flags, units, room, limit, worst_first=True)
            sections.append(NoteSection(target.section.key, target.section.title, keep_supported(sentences, spoken)))
        summary = summarise(spoken, sections, flags) if spoken else EMPTY_SUMMARY
        unlabelled = bool(spoken) and all(line.role is None for line in spoken)
        warnings = ("Speaker roles are not set, so quotes are attributed to speaker labels.",) if unlabelled else ()
        if on_progress is not None:
            on_progress(STAGE, 1.0, 0.0)
        return GeneratedNote(self.name, tuple(sections), summary, flags, warnings)


def _target(section: TemplateSection) -> _Target:
    heading = f"{section.key.replace('_', ' ')} {section.title}"
    concepts = tuple(c for c in _CONCEPTS if c.triggers.search(heading))
    if not concepts:
        concepts = tuple(c for c in _CONCEPTS if c.triggers.search(section.instructions) and c.name != "risk")
    stems = content_stems(f"{heading} {section.instructions}")
    names = {c.name for c in concepts}  # a "Safety plan" is a plan, not a list of flags
    return _Target(section, concepts, stems, 0.5 if concepts else 1.0, "risk" in names and "plan" not in names)


def _split(line: TranscriptLine) -> list[_Sentence]:
    return [_Sentence(line, t, len(t.split()), content_stems(t), t.endswith("?")) for t in split_sentences(line.text)]


def _units(lines: Sequence[TranscriptLine]) -> list[list[_Sentence]]:
    """Sentences per segment; a short reply to another speaker's question carries that question."""
    out: list[list[_Sentence]] = []
    for pos, line in enumerate(lines):
        sentences = _split(line)
        before = out[-1] if out else []
        replying = bool(before) and before[-1].question and lines[pos - 1].speaker != line.speaker
        if replying and sentences and line.role != "therapist" and sentences[0].words < SHORT_ANSWER_WORDS:
            sentences[0] = replace(sentences[0], asked=before[-1])
        out.append(sentences)
    return out


def _score(target: _Target, unit: _Sentence) -> float:
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
        raw = hits + overlap + (0.5 if concept.future and hits and _FUTURE.search(text) else 0.0)
        best = max(best, raw * fit)
    return best


def _score_section(target: _Target, units: Sequence[Sequence[_Sentence]]) -> dict[tuple[int, int], float]:
    """(segment position, sentence position) → score of each segment's best sentence at or over the threshold."""
    found: dict[tuple[int, int], float] = {}
    for pos, sentences in enumerate(units):
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
    target: _Target, picks: Sequence[tuple[int, int]], units: Sequence[Sequence[_Sentence]]
) -> list[NoteSentence]:
    concept = target.concepts[0].name if target.concepts else ""
    chosen: list[tuple[tuple[int, int], NoteSentence]] = []
    budget = target.section.max_words
    used = 0
    for pos, i in picks:
        if len(chosen) >= MAX_SENTENCES:
            break
        sentences = units[pos]
        unit = sentences[i]
        text = unit.text
        if unit.words < 6 and len(sentences) > 1:  # a very short sentence keeps its neighbour for context
            text = f"{text} {sentences[i + 1].text}" if i + 1 < len(sentences) else f"{sentences[i - 1].text} {text}"
        rendered = _quoted(unit, _condense(text, target), concept, None if budget is None else budget - used)
        if rendered is not None:
            used += len(rendered.text.split())
            chosen.append(((pos, i), rendered))
    return [s for _, s in sorted(chosen, key=lambda c: c[0])]


def _quoted(unit: _Sentence, quote: str, concept: str, budget: int | None) -> NoteSentence | None:
    """The attributed quote, after the question it answers when it has one, within ``budget`` words."""
    text = _attributed(_label(unit, concept), quote, budget)
    if text is None:
        return None
    if unit.asked is not None:
        asked = _attributed(_label(unit.asked, concept), _condense(unit.asked.text), None) or ""
        if budget is None or len(asked.split()) + len(text.split()) <= budget:
            return NoteSentence(f"{asked} {text}", (unit.asked.line.idx, unit.line.idx))
    return NoteSentence(text, (unit.line.idx,))


def _label(unit: _Sentence, concept: str) -> str:
    role = unit.line.role
    if role == "therapist":
        if unit.question:
            return "Therapist asked"
        if concept in ("plan", "intervention") and _SUGGESTION.search(unit.text):
            return "Therapist suggested"
        return "Therapist"
    if role is None:
        return unit.line.speaker.strip() or "Speaker"
    return _LABELS.get(role, "Speaker")


def _condense(text: str, target: _Target | None = None) -> str:
    """The speaker's words without fillers; a long sentence keeps the words around its first cue."""
    for pattern, repl in _FILLERS:
        text = pattern.sub(repl, text)
    text = text.strip(" ,;").replace('"', "'")
    words = text.split()
    if len(words) > MAX_QUOTE_WORDS:
        at = 0
        if target is not None:
            lowered = [w.strip(".,!?;:'").lower() for w in words]
            at = next((n for n, w in enumerate(lowered) if any(w.startswith(s) for s in target.stems)), 0)
        start = max(0, min(at - MAX_QUOTE_WORDS // 3, len(words) - MAX_QUOTE_WORDS))
        piece = " ".join(words[start : start + MAX_QUOTE_WORDS])
        text = ("… " if start else "") + piece + (" …" if start + MAX_QUOTE_WORDS < len(words) else "")
    return text[:1].upper() + text[1:] if text else text


def _attributed(label: str, quote: str, budget: int | None) -> str | None:
    """``Label: "quote"`` within ``budget`` words (the quote is cut, or the label dropped, to fit)."""
    if not quote or (budget is not None and budget <= 0):
        return None
    text = f'{label}: "{quote}"'
    if budget is None or len(text.split()) <= budget:
        return text
    label_words = len(label.split())
    if budget > label_words + 1:
        return f'{label}: "{" ".join(quote.split()[: budget - label_words - 1])} …"'
    return f'"{" ".join(quote.split()[: max(budget - 1, 1)])} …"'


def _risk_sentences(
    flags: Sequence[RiskFlagResult],
    units: Sequence[Sequence[_Sentence]],
    budget: int | None,
    limit: int,
    *,
    worst_first: bool = False,
) -> list[NoteSentence]:
    """The flagged words as said; a short answer ("Yes", "No, never") comes after the question it answers."""
    by_idx = {sentences[0].line.idx: sentences for sentences in units if sentences}
    rank = {"high": 0, "moderate": 1, "low": 2, "denied": 3}
    order = sorted(flags, key=lambda f: (rank.get(f.severity, 4), f.segment_idx)) if worst_first else list(flags)
    out: list[tuple[int, NoteSentence]] = []
    used = 0
    for flag in order:
        sentences = by_idx.get(flag.segment_idx)
        if len(out) >= limit or not sentences:
            continue
        first = sentences[0]
        asked = first.asked if first.asked is not None and flag.quote.startswith(first.text) else None
        unit = _Sentence(first.line, flag.quote, len(flag.quote.split()), frozenset(), False, asked)
        rendered = _quoted(unit, _condense(flag.quote), "", None if budget is None else budget - used)
        if rendered is not None:
            used += len(rendered.text.split())
            out.append((flag.segment_idx, rendered))
    return [s for _, s in sorted(out, key=lambda o: o[0])] if worst_first else [s for _, s in out]
