"""Accuracy metrics for `make eval` and `make bench`: WER, DER, speaker count and role accuracy.

Conventions (kept in one place so every report means the same thing):

- Text is normalised before WER: lowercase, punctuation dropped, apostrophes removed (``don't`` → ``dont``),
  hyphens split words, digits spelt out (``12`` → ``twelve``, ``3rd`` → ``third``, ``50%`` → ``fifty percent``),
  a few spellings unified (``ok`` → ``okay``) and hesitation fillers (um, uh, mm, hmm, mm-hmm…) removed from
  both sides, because Whisper drops them by design.
- WER is jiwer's word error rate over the whole session (all turns joined), pooled over sessions by summing
  errors and reference words. cpWER (``cp_word_errors``) scores each truth speaker's words against the
  hypothesis speaker they are paired with (the pairing that minimises the errors), so words given to the
  wrong speaker are errors too.
- DER is pyannote.metrics ``DiarizationErrorRate`` over the whole file (UEM = 0 … duration) with overlap scored.
  pyannote's ``collar`` is the *total* width of the no-score zone around each reference boundary, so
  ``collar=0.25`` forgives ±0.125 s (the NIST convention of 0.25 s each side would be ``collar=0.5``).
- Speakers are matched truth→hypothesis by optimal one-to-one total overlap (Hungarian assignment).
  Speaker role accuracy: the fraction of truth speakers whose matched hypothesis speaker carries the truth
  role (an unmatched truth speaker counts as wrong).
- Word role accuracy: reference and hypothesis word sequences are aligned (jiwer); over the reference words
  aligned to a hypothesis word (hits and substitutions; deleted words are WER's business), the fraction whose
  hypothesis segment role equals the truth turn's role. ``coverage`` says how many reference words took part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Turn = Mapping[str, Any]
"""``{"start", "end", "speaker", ...}``; truth turns also carry ``"role"`` and ``"text"``."""

FILLERS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "ah", "hm", "hmm", "mm", "mmm", "mhm", "mmhmm", "huh"})
_SPELLING = {"ok": "okay", "alright": "all right", "gonna": "going to", "wanna": "want to"}
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """Cardinal English words for 0 ≤ n < 10**12 (``1990`` → ``one thousand nine hundred ninety``)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, rest = divmod(n, 10)
        return _TENS[tens] + ("" if rest == 0 else " " + _ONES[rest])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            high, rest = divmod(n, size)
            return number_to_words(high) + " " + name + ("" if rest == 0 else " " + number_to_words(rest))
    raise ValueError(n)


def _ordinal(words: str) -> str:
    *head, last = words.split()
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _spell_number(match: re.Match[str]) -> str:
    digits, suffix = match.group(1).replace(",", ""), (match.group(2) or "").lower()
    if "." in digits:
        whole, frac = digits.split(".", 1)
        out = number_to_words(int(whole or 0)) + " point " + " ".join(_ONES[int(d)] for d in frac)
    else:
        value = int(digits)
        out = number_to_words(value) if value < 10**12 else " ".join(_ONES[int(d)] for d in digits)
        if suffix in ("st", "nd", "rd", "th"):
            out = _ordinal(out)
        elif suffix == "s":
            out = out + "s"
    return f" {out} "


def normalise(text: str) -> str:
    """Text as scored for WER: lowercase words separated by single spaces (see the module docstring)."""
    text = text.lower()
    text = re.sub(r"\[.*?\]|\(.*?\)", " ", text)  # annotations such as [laughs]
    text = text.replace("%", " percent ").replace("&", " and ")
    text = re.sub(r"[’'`]", "", text)
    text = re.sub(r"\$(\d[\d,.]*)", r"\1 dollars", text)
    text = re.sub(r"(\d[\d,]*(?:\.\d+)?)((?:st|nd|rd|th|s)(?![a-z]))?", _spell_number, text)
    text = re.sub(r"\bmm+[- ]?hmm+\b|\buh[- ]?huh\b", " ", text)
    words = re.findall(r"[a-z]+", text)
    out: list[str] = []
    for word in words:
        if word in FILLERS:
            continue
        out.extend(_SPELLING.get(word, word).split())
    return " ".join(out)


@dataclass(frozen=True)
class WordErrors:
    errors: int
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int
    hyp_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else (0.0 if self.hyp_words == 0 else 1.0)

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(
            self.errors + other.errors,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.ref_words + other.ref_words,
            self.hyp_words + other.hyp_words,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "wer": self.wer,
            "errors": self.errors,
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "ref_words": self.ref_words,
            "hyp_words": self.hyp_words,
        }


NO_WORDS = WordErrors(0, 0, 0, 0, 0, 0)


def word_errors(reference: str | Iterable[str], hypothesis: str | Iterable[str]) -> WordErrors:
    """WER counts of ``hypothesis`` against ``reference`` (texts or sequences of texts), after ``normalise``."""
    import jiwer

    ref = normalise(reference if isinstance(reference, str) else " ".join(reference))
    hyp = normalise(hypothesis if isinstance(hypothesis, str) else " ".join(hypothesis))
    if not ref or not hyp:  # jiwer refuses empty strings
        n_ref, n_hyp = len(ref.split()), len(hyp.split())
        return WordErrors(n_ref + n_hyp, 0, n_ref, n_hyp, n_ref, n_hyp)
    out = jiwer.process_words(ref, hyp)
    errors = out.substitutions + out.deletions + out.insertions
    return WordErrors(errors, out.substitutions, out.deletions, out.insertions, len(ref.split()), len(hyp.split()))


def texts_by_speaker(items: Iterable[Turn]) -> dict[str, str]:
    """Each speaker's texts joined in order of start time (turns or segments with ``speaker`` and ``text``)."""
    out: dict[str, list[str]] = {}
    for item in sorted(items, key=lambda t: float(t["start"])):
        out.setdefault(str(item.get("speaker")), []).append(str(item.get("text") or ""))
    return {speaker: " ".join(texts) for speaker, texts in out.items()}


@dataclass(frozen=True)
class CpWordErrors:
    """cpWER: word errors under the speaker mapping (truth → hypothesis, None: unmatched) that minimises them."""

    errors: WordErrors
    mapping: dict[str, str | None]

    @property
    def wer(self) -> float:
        return self.errors.wer

    def to_dict(self) -> dict[str, Any]:
        return {**self.errors.to_dict(), "mapping": dict(self.mapping)}


def cp_word_errors(reference: Iterable[Turn], hypothesis: Iterable[Turn]) -> CpWordErrors:
    """Concatenated minimum-permutation WER: each truth speaker's words against one hypothesis speaker's.

    Both sides are concatenated per speaker (in time order) and normalised as for WER; speakers are paired
    one-to-one to minimise the total errors (the costs add up, so the Hungarian assignment is exact). A truth
    speaker left without a partner counts all its words as deletions; an extra hypothesis speaker, all its
    words as insertions. Words given to the wrong speaker therefore count twice, as in the CHiME-6 definition.
    """
    from scipy.optimize import linear_sum_assignment

    ref, hyp = texts_by_speaker(reference), texts_by_speaker(hypothesis)
    n = max(len(ref), len(hyp), 1)
    ref_ids: list[str | None] = [*sorted(ref), *[None] * (n - len(ref))]
    hyp_ids: list[str | None] = [*sorted(hyp), *[None] * (n - len(hyp))]
    cells = [
        [word_errors(ref[r] if r is not None else "", hyp[h] if h is not None else "") for h in hyp_ids]
        for r in ref_ids
    ]
    rows, cols = linear_sum_assignment([[c.errors for c in row] for row in cells])
    total, mapping = NO_WORDS, {}
    for r, c in zip(rows, cols, strict=True):
        total = total + cells[r][c]
        if ref_ids[r] is not None:
            mapping[str(ref_ids[r])] = hyp_ids[c]
    return CpWordErrors(total, mapping)


# --- diarization -----------------------------------------------------------------------------------------


def to_annotation(turns: Iterable[Turn], uri: str = "session") -> Any:
    from pyannote.core import Annotation, Segment

    annotation = Annotation(uri=uri)
    for index, turn in enumerate(turns):
        start, end = float(turn["start"]), float(turn["end"])
        if end > start:
            annotation[Segment(start, end), index] = str(turn["speaker"])
    return annotation


@dataclass
class DiarizationScore:
    """Accumulates pyannote DER components over sessions; ``der`` is total error / total reference speech."""

    collar: float
    missed: float = 0.0
    false_alarm: float = 0.0
    confusion: float = 0.0
    total: float = 0.0

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0

    def __add__(self, other: DiarizationScore) -> DiarizationScore:
        return DiarizationScore(
            self.collar,
            self.missed + other.missed,
            self.false_alarm + other.false_alarm,
            self.confusion + other.confusion,
            self.total + other.total,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "der": self.der,
            "collar_total_width_s": self.collar,
            "missed_s": self.missed,
            "false_alarm_s": self.false_alarm,
            "confusion_s": self.confusion,
            "reference_speech_s": self.total,
        }


def diarization_error(
    reference: Iterable[Turn], hypothesis: Iterable[Turn], duration_s: float, collar: float = 0.0
) -> DiarizationScore:
    """pyannote.metrics DER over ``0 … duration_s``; ``collar`` is the total no-score width (0.25 → ±0.125 s)."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    uem = Timeline([Segment(0.0, float(duration_s))])
    components = metric(to_annotation(reference), to_annotation(hypothesis), uem=uem, detailed=True)
    return DiarizationScore(
        collar=collar,
        missed=float(components["missed detection"]),
        false_alarm=float(components["false alarm"]),
        confusion=float(components["confusion"]),
        total=float(components["total"]),
    )


def speech_only(turns: Iterable[Turn]) -> list[dict[str, Any]]:
    """Turns split at their recorded ``pauses`` (``[[start, end], …]``): a reference that covers only sound."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        start = float(turn["start"])
        for p0, p1 in sorted(turn.get("pauses", ())):
            if p0 > start:
                out.append({**turn, "start": start, "end": float(p0)})
            start = max(start, float(p1))
        if float(turn["end"]) > start:
            out.append({**turn, "start": start, "end": float(turn["end"])})
    return out


def overlap_matrix(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> tuple[list[str], list[str], Any]:
    """Seconds each truth speaker (rows) and hypothesis speaker (columns) talk at the same time."""
    import numpy as np

    ref_ids = sorted({str(t["speaker"]) for t in reference})
    hyp_ids = sorted({str(t["speaker"]) for t in hypothesis})
    matrix = np.zeros((len(ref_ids), len(hyp_ids)))
    hyp_sorted = sorted(hypothesis, key=lambda t: float(t["start"]))
    for r in reference:
        r0, r1, ri = float(r["start"]), float(r["end"]), ref_ids.index(str(r["speaker"]))
        for h in hyp_sorted:
            h0, h1 = float(h["start"]), float(h["end"])
            if h0 >= r1:
                break
            if h1 > r0:
                matrix[ri, hyp_ids.index(str(h["speaker"]))] += min(r1, h1) - max(r0, h0)
    return ref_ids, hyp_ids, matrix


def map_speakers(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> dict[str, str | None]:
    """Truth speaker → hypothesis speaker by optimal one-to-one total overlap (``None`` when unmatched)."""
    from scipy.optimize import linear_sum_assignment

    ref_ids, hyp_ids, matrix = overlap_matrix(reference, hypothesis)
    mapping: dict[str, str | None] = {r: None for r in ref_ids}
    if not hyp_ids:
        return mapping
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    for r, c in zip(rows, cols, strict=True):
        if matrix[r, c] > 0:
            mapping[ref_ids[r]] = hyp_ids[c]
    return mapping


@dataclass
class RoleScore:
    speakers_correct: int = 0
    speakers_total: int = 0
    words_correct: int = 0
    words_scored: int = 0
    words_total: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def speaker_accuracy(self) -> float:
        return self.speakers_correct / self.speakers_total if self.speakers_total else 0.0

    @property
    def word_accuracy(self) -> float:
        return self.words_correct / self.words_scored if self.words_scored else 0.0

    def __add__(self, other: RoleScore) -> RoleScore:
        return RoleScore(
            self.speakers_correct + other.speakers_correct,
            self.speakers_total + other.speakers_total,
            self.words_correct + other.words_correct,
            self.words_scored + other.words_scored,
            self.words_total + other.words_total,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker_accuracy": self.speaker_accuracy,
            "speakers_correct": self.speakers_correct,
            "speakers_total": self.speakers_total,
            "word_accuracy": self.word_accuracy,
            "words_correct": self.words_correct,
            "words_scored": self.words_scored,
            "words_total": self.words_total,
            "word_coverage": self.words_scored / self.words_total if self.words_total else 0.0,
            **self.details,
        }


def hypothesis_roles(result: Mapping[str, Any]) -> dict[str, str | None]:
    """Hypothesis speaker → role, from ``speakers`` (falling back to the segments' roles)."""
    roles: dict[str, str | None] = {}
    for speaker in result.get("speakers", ()):
        roles[str(speaker["id"])] = speaker.get("role")
    for segment in result.get("segments", ()):
        roles.setdefault(str(segment.get("speaker")), segment.get("role"))
    return roles


def _role_tokens(items: Iterable[tuple[str, str | None]]) -> tuple[list[str], list[str | None]]:
    tokens: list[str] = []
    roles: list[str | None] = []
    for text, role in items:
        words = normalise(text).split()
        tokens += words
        roles += [role] * len(words)
    return tokens, roles


def role_accuracy(
    truth_turns: Sequence[Turn],
    truth_roles: Mapping[str, str],
    hyp_turns: Sequence[Turn],
    hyp_roles: Mapping[str, str | None],
    hyp_segments: Sequence[Mapping[str, Any]],
) -> RoleScore:
    """Speaker-level and word-level role accuracy (see the module docstring for the definitions)."""
    import jiwer

    score = RoleScore()
    mapping = map_speakers(truth_turns, hyp_turns)
    per_speaker: dict[str, Any] = {}
    for truth_speaker, truth_role in sorted(truth_roles.items()):
        hyp = mapping.get(truth_speaker)
        got = hyp_roles.get(hyp) if hyp is not None else None
        score.speakers_total += 1
        score.speakers_correct += int(got == truth_role)
        per_speaker[truth_speaker] = {"truth_role": truth_role, "hyp_speaker": hyp, "hyp_role": got}
    score.details["speakers"] = per_speaker

    ordered_truth = sorted(truth_turns, key=lambda t: float(t["start"]))
    ref_tokens, ref_roles = _role_tokens((str(t.get("text", "")), str(t["role"])) for t in ordered_truth)
    ordered_hyp = sorted(hyp_segments, key=lambda s: float(s["start"]))
    hyp_tokens, hyp_seg_roles = _role_tokens(
        (str(s.get("text", "")), s.get("role") or hyp_roles.get(str(s.get("speaker")))) for s in ordered_hyp
    )
    score.words_total = len(ref_tokens)
    if ref_tokens and hyp_tokens:
        out = jiwer.process_words(" ".join(ref_tokens), " ".join(hyp_tokens))
        for chunk in out.alignments[0]:
            if chunk.type not in ("equal", "substitute"):
                continue
            for offset in range(chunk.ref_end_idx - chunk.ref_start_idx):
                ri, hi = chunk.ref_start_idx + offset, chunk.hyp_start_idx + offset
                score.words_scored += 1
                score.words_correct += int(hyp_seg_roles[hi] == ref_roles[ri])
    return score


def speaker_count(turns: Iterable[Turn]) -> int:
    return len({str(t["speaker"]) for t in turns})


@dataclass(frozen=True)
class SessionScore:
    """Everything `make eval` reports for one session."""

    wer: WordErrors
    der: DiarizationScore
    der_collar: DiarizationScore
    roles: RoleScore
    speakers_found: int
    speakers_truth: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "wer": self.wer.to_dict(),
            "der": self.der.to_dict(),
            "der_collar": self.der_collar.to_dict(),
            "roles": self.roles.to_dict(),
            "speakers_found": self.speakers_found,
            "speakers_truth": self.speakers_truth,
        }


def score_session(truth: Mapping[str, Any], result: Mapping[str, Any], collar: float = 0.25) -> SessionScore:
    """Score a pipeline result dict (``PipelineResult.to_dict()``) against a truth dict (eval_fixtures format)."""
    truth_turns = list(truth["turns"])
    duration = float(truth.get("duration_s") or result.get("duration_s") or max(t["end"] for t in truth_turns))
    hyp_turns = list(result.get("turns", ()))
    segments = list(result.get("segments", ()))
    if not hyp_turns:  # a result without diarization turns: use its speaker-labelled segments
        hyp_turns = [{"start": s["start"], "end": s["end"], "speaker": s["speaker"]} for s in segments]
    return SessionScore(
        wer=word_errors([str(t.get("text", "")) for t in truth_turns], [str(s.get("text", "")) for s in segments]),
        der=diarization_error(truth_turns, hyp_turns, duration, collar=0.0),
        der_collar=diarization_error(truth_turns, hyp_turns, duration, collar=collar),
        roles=role_accuracy(truth_turns, dict(truth["roles"]), hyp_turns, hypothesis_roles(result), segments),
        speakers_found=speaker_count(hyp_turns),
        speakers_truth=len(truth["roles"]),
    )


def truth_as_result(truth: Mapping[str, Any]) -> dict[str, Any]:
    """A perfect pipeline result built from the truth (for self-checks of the metric code)."""
    turns = [{"start": t["start"], "end": t["end"], "speaker": t["speaker"]} for t in truth["turns"]]
    segments = [
        {"start": t["start"], "end": t["end"], "speaker": t["speaker"], "role": t["role"], "text": t["text"]}
        for t in truth["turns"]
    ]
    speakers = [{"id": s, "role": r} for s, r in truth["roles"].items()]
    return {"duration_s": truth.get("duration_s"), "turns": turns, "segments": segments, "speakers": speakers}
