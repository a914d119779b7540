"""Sentences as the draft sees them (with the question a short reply answers), and how they are quoted:
the speaker's words without fillers, attributed (``Client: "…"``) and cited by segment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tbdesktop.engine.notes.risk import split_sentences
from tbdesktop.engine.notes.types import NoteSentence, TranscriptLine

MAX_QUOTE_WORDS = 40
SHORT_ANSWER_WORDS = 10

_STOP = frozenset(
    """a about above after again against all also always am an and any anyone anything are aren't around as at
    be because been before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else even ever every everyone everything few for from further
    get gets getting got gonna had hadn't has hasn't have haven't having he he'd he'll he's her here hers herself
    him himself his how i i'd i'll i'm i've if in into is isn't it it's its itself just let's lot lots me might
    mine more most much must my myself need needs neither never no nor not nothing now of off often oh ok okay
    on once one only or other others our ours ourselves out over own per quite rather really right same she
    she'd she'll she's should shouldn't so some someone something sometimes still such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've thing things this those
    though through to too under until up upon us very was wasn't we we'd we'll we're we've well were weren't what
    what's when where which while who whom whose why will with without won't would wouldn't yeah yes yet you
    you'd you'll you're you've your yours yourself um uh uhm erm hmm mm mhm like know mean guess kind sort
    actually pretty maybe probably basically literally totally definitely anyway stuff way yep nope
    client clients client's therapist session sessions include including includes relevant words their such e.g
    etc note notes section describe brief any""".split()
)
_WORD = re.compile(r"[a-z][a-z'’]*")
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
class Sentence:
    line: TranscriptLine
    text: str
    words: int
    stems: frozenset[str]
    question: bool
    asked: Sentence | None = None  # the question a short answer replies to: scored and quoted with it


def stem(word: str) -> str:
    """A crude, deterministic stem: enough to match "sleeping" with "sleep" and "worries" with "worry"."""
    word = word.replace("’", "'").removesuffix("'s")
    for suffix, repl, keep in (("ies", "y", 3), ("ied", "y", 3), ("ing", "", 3), ("ed", "", 3)):
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)] + repl
    if word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def content_stems(text: str) -> frozenset[str]:
    """Stems of a text's content words (stop words, fillers and very short words left out)."""
    return frozenset(stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP)


def split(line: TranscriptLine) -> list[Sentence]:
    return [Sentence(line, t, len(t.split()), content_stems(t), t.endswith("?")) for t in split_sentences(line.text)]


def units(lines: Sequence[TranscriptLine]) -> list[list[Sentence]]:
    """Sentences per segment; a short reply to another speaker's question carries that question."""
    out: list[list[Sentence]] = []
    for pos, line in enumerate(lines):
        sentences = split(line)
        before = out[-1] if out else []
        replying = bool(before) and before[-1].question and lines[pos - 1].speaker != line.speaker
        if replying and sentences and line.role != "therapist" and sentences[0].words < SHORT_ANSWER_WORDS:
            sentences[0] = replace(sentences[0], asked=before[-1])
        out.append(sentences)
    return out


def quoted(unit: Sentence, quote: str, label: str, budget: int | None) -> NoteSentence | None:
    """The attributed quote, after the question it answers when it has one, within ``budget`` words."""
    text = attributed(label, quote, budget)
    if text is None:
        return None
    if unit.asked is not None:
        asked = attributed(speaker_label(unit.asked), condense(unit.asked.text), None) or ""
        if budget is None or len(asked.split()) + len(text.split()) <= budget:
            return NoteSentence(f"{asked} {text}", (unit.asked.line.idx, unit.line.idx))
    return NoteSentence(text, (unit.line.idx,))


def speaker_label(unit: Sentence, suggestion: bool = False) -> str:
    """The label a quote is attributed to: "Client", "Therapist asked", "Therapist suggested", … (or the speaker)."""
    role = unit.line.role
    if role == "therapist":
        if unit.question:
            return "Therapist asked"
        return "Therapist suggested" if suggestion else "Therapist"
    if role is None:
        return unit.line.speaker.strip() or "Speaker"
    return _LABELS.get(role, "Speaker")


def condense(text: str, stems: frozenset[str] = frozenset()) -> str:
    """The speaker's words without fillers; a long sentence keeps the words around its first cue (``stems``)."""
    for pattern, repl in _FILLERS:
        text = pattern.sub(repl, text)
    text = text.strip(" ,;").replace('"', "'")
    words = text.split()
    if len(words) > MAX_QUOTE_WORDS:
        lowered = [w.strip(".,!?;:'").lower() for w in words]
        at = next((n for n, w in enumerate(lowered) if any(w.startswith(s) for s in stems)), 0)
        start = max(0, min(at - MAX_QUOTE_WORDS // 3, len(words) - MAX_QUOTE_WORDS))
        piece = " ".join(words[start : start + MAX_QUOTE_WORDS])
        text = ("… " if start else "") + piece + (" …" if start + MAX_QUOTE_WORDS < len(words) else "")
    return text[:1].upper() + text[1:] if text else text


def attributed(label: str, quote: str, budget: int | None) -> str | None:
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
