"""The arithmetic of speaker corrections, on plain data: the words of a line, where a split falls, the next free
speaker label, and how a fresh speaker separation is laid over the stored lines.

Line numbers (``idx``) are identities, never positions: notes and risk flags cite them, and signed notes can never
be rewritten. So a line is never renumbered or removed here: a split keeps the first part under the line's own
number and gives the rest the next free number (remembering where it came from); merging speakers relabels lines
without joining them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tbdesktop.engine.merge import assign_speakers
from tbdesktop.engine.roles import assign_roles
from tbdesktop.engine.types import Segment, SpeakerTurn, Word
from tbdesktop.services.convert import mask_name

SPEAKER_PREFIX = "SPEAKER_"
_LABEL = re.compile(r"^SPEAKER_(\d+)$")


@dataclass(frozen=True)
class Part:
    """One side of a split line."""

    start_s: float
    end_s: float
    text: str
    words: list[dict[str, Any]]


def _timed(text: str, words: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the word timings still match the line's words one to one (a corrected line has none)."""
    return bool(words) and [str(w.get("word", "")).strip() for w in words] == text.split()


def line_words(text: str) -> list[str]:
    """The words of a line as a split counts them: whitespace-separated, in order."""
    return text.split()


def split_parts(
    start_s: float, end_s: float, text: str, words: Sequence[Mapping[str, Any]], at_word: int
) -> tuple[Part, Part]:
    """The line cut before word ``at_word`` (0-based; 1 ≤ at_word < number of words)."""
    tokens = text.split()
    if not 1 <= at_word < len(tokens):
        raise ValueError("at_word must leave words on both sides")
    head_text, tail_text = " ".join(tokens[:at_word]), " ".join(tokens[at_word:])
    if _timed(text, words):
        head_words, tail_words = [dict(w) for w in words[:at_word]], [dict(w) for w in words[at_word:]]
        head_end = float(head_words[-1].get("end", start_s))
        tail_start = float(tail_words[0].get("start", head_end))
        return (
            Part(start_s, max(head_end, start_s), head_text, head_words),
            Part(min(tail_start, end_s), end_s, tail_text, tail_words),
        )
    # No usable timings: the cut falls where the characters before it put it, and timings that no longer match
    # the words are dropped (as a corrected line's are).
    share = len(head_text) / max(len(head_text) + len(tail_text), 1)
    cut = round(start_s + (end_s - start_s) * share, 3)
    return Part(start_s, cut, head_text, []), Part(cut, end_s, tail_text, [])


def stored_word_index(text: str, shown_index: int, hidden_name: str | None) -> int:
    """Where a split chosen at word ``shown_index`` of the line as shown (the client's name masked as one word in an
    anonymous session) falls in the stored words; the index itself when nothing is masked."""
    if not hidden_name:
        return shown_index
    tokens = text.split()
    shown_total = len(mask_name(text, hidden_name).split())
    for k in range(1, len(tokens)):
        head = len(mask_name(" ".join(tokens[:k]), hidden_name).split())
        tail = len(mask_name(" ".join(tokens[k:]), hidden_name).split())
        if head == shown_index and tail == shown_total - shown_index:
            return k
    raise ValueError("no stored word boundary matches the word shown")


def label_number(label: str) -> int | None:
    match = _LABEL.match(label)
    return int(match.group(1)) if match else None


def next_label(existing: Iterable[str]) -> str:
    """``SPEAKER_NN``, one past the highest number in use (labels that are not numbered are skipped)."""
    numbers = [n for n in (label_number(x) for x in existing) if n is not None]
    return f"{SPEAKER_PREFIX}{(max(numbers) + 1) if numbers else 0:02d}"


def cited_lines(cited: Iterable[int], lines: Iterable[tuple[int, int | None]]) -> set[int]:
    """The lines a citation of ``cited`` covers today: those lines and every line split from them since.

    ``lines`` are (idx, split_from) pairs."""
    covered = set(cited)
    parents = list(lines)
    grew = True
    while grew:
        grew = False
        for idx, parent in parents:
            if parent is not None and parent in covered and idx not in covered:
                covered.add(idx)
                grew = True
    return covered


# -- a fresh speaker separation over the stored lines -------------------------------------------------------


@dataclass(frozen=True)
class StoredLine:
    idx: int
    start_s: float
    end_s: float
    speaker: str
    text: str
    words: list[dict[str, Any]]
    manual: bool = False


@dataclass(frozen=True)
class NewLine:
    """A line after the re-run: ``idx`` is the stored line's own for its first part, a new one for the others."""

    idx: int
    start_s: float
    end_s: float
    speaker: str
    text: str
    words: list[dict[str, Any]]
    split_from: int | None = None


@dataclass
class Relabelled:
    lines: list[NewLine] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # stored lines whose speaker or shape changed
    roles: dict[str, str] = field(default_factory=dict)  # label → role derived from what each says
    labels: dict[str, str] = field(default_factory=dict)  # the separation's own label → the label kept


def _segment(line: StoredLine) -> Segment:
    words: tuple[Word, ...] = ()
    if _timed(line.text, line.words):
        words = tuple(Word.from_dict({"probability": 0.0, **w}) for w in line.words)
    return Segment(start=line.start_s, end=line.end_s, text=line.text, speaker=line.speaker, words=words)


def _by_speaker(parts: Sequence[Segment]) -> list[Segment]:
    """Consecutive pieces of one line with the same speaker joined again (only a change of voice splits a line)."""
    out: list[Segment] = []
    for part in parts:
        if out and out[-1].speaker == part.speaker:
            last = out[-1]
            words = last.words + part.words
            text = f"{last.text} {part.text}"
            out[-1] = Segment(start=last.start, end=part.end, text=text, speaker=last.speaker, words=words)
        else:
            out.append(part)
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def relabel(
    lines: Sequence[StoredLine], turns: Sequence[SpeakerTurn], *, speakers_hint: int | None = None
) -> Relabelled:
    """Speakers from ``turns`` for every line the therapist did not correct; corrected lines keep theirs.

    The separation's clusters are matched to the labels already in use by how much speech they share, the
    therapist's corrected lines counting three times (they are known to be right), so names and chosen roles stay
    with the voice they belong to; a cluster that matches none gets the next free label.
    """
    fresh = [SpeakerTurn(t.start, t.end, f"~{t.speaker}") for t in turns]  # never mistaken for a stored label
    pieces: dict[int, list[Segment]] = {}
    for line in lines:
        if line.manual:
            continue
        pieces[line.idx] = _by_speaker(assign_speakers([_segment(line)], fresh)) if fresh else [_segment(line)]

    shared: dict[tuple[str, str], float] = {}
    for line in lines:
        weight = 3.0 if line.manual else 1.0
        for turn in fresh:
            amount = _overlap(line.start_s, line.end_s, turn.start, turn.end)
            if amount > 0:
                shared[(turn.speaker, line.speaker)] = shared.get((turn.speaker, line.speaker), 0.0) + weight * amount
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for (new, old), _amount in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])):
        if new not in mapping and old not in taken:
            mapping[new] = old
            taken.add(old)
    in_use = {line.speaker for line in lines} | taken
    for new in sorted({t.speaker for t in fresh} | {p.speaker for ps in pieces.values() for p in ps}):
        if new.startswith("~") and new not in mapping:
            mapping[new] = next_label(in_use)
            in_use.add(mapping[new])

    out = Relabelled(labels={k[1:]: v for k, v in mapping.items()})
    next_idx = max((line.idx for line in lines), default=-1) + 1
    for line in lines:
        if line.manual:
            out.lines.append(NewLine(line.idx, line.start_s, line.end_s, line.speaker, line.text, line.words))
            continue
        parts = pieces[line.idx]
        if len(parts) == 1:
            speaker = mapping.get(parts[0].speaker, parts[0].speaker)
            out.lines.append(NewLine(line.idx, line.start_s, line.end_s, speaker, line.text, line.words))
            if speaker != line.speaker:
                out.changed.append(line.idx)
            continue
        out.changed.append(line.idx)
        for position, part in enumerate(parts):
            speaker = mapping.get(part.speaker, part.speaker)
            words = [w.to_dict() for w in part.words]
            text = " ".join(w.word.strip() for w in part.words) or part.text
            if position == 0:
                out.lines.append(NewLine(line.idx, part.start, part.end, speaker, text, words))
            else:
                out.lines.append(NewLine(next_idx, part.start, part.end, speaker, text, words, line.idx))
                next_idx += 1
    ordered = sorted(out.lines, key=lambda x: (x.start_s, x.idx))
    out.lines = ordered
    segments = [Segment(start=x.start_s, end=x.end_s, text=x.text, speaker=x.speaker) for x in ordered]
    out.roles = assign_roles(segments, speakers_hint=speakers_hint)
    return out
