"""What the OpenAI-compatible note generator sends (prompts, JSON schemas, the numbered transcript), and how it
reads an answer back and checks it: evidence that exists, risk-flag quotes found in their segment, word limits."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tbdesktop.engine.notes.evidence import check_support
from tbdesktop.engine.notes.types import (
    NOT_DISCUSSED,
    RISK_KINDS,
    RISK_SEVERITIES,
    NoteSentence,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateSection,
    TranscriptLine,
    keep_supported,
)

CHARS_PER_TOKEN = 4
RESERVED_NAMES = ("risk_flags", "summary")  # answer properties a section key must not shadow
SUMMARY_MAX_CHARS = 300

SYSTEM_PROMPT = f"""\
You are a clinical documentation assistant for a licensed therapist. You draft the progress note of one \
therapy session from its transcript; the therapist reviews, edits and signs it.

Rules:
1. Write only what the transcript supports. Never infer, embellish or add anything that was not said.
2. Every sentence cites in "evidence" the numbers of the transcript segments it comes from (the number in \
square brackets at the start of each line). Do not write a sentence you cannot cite.
3. When the transcript holds nothing for a section, give that section exactly one sentence, \
"{NOT_DISCUSSED}", with an empty evidence list.
4. Never write default or "normal" findings (such as a normal mental status, euthymic mood, intact judgement \
or no risk) unless the transcript states them.
5. Risk flags come only from what was said: for each, quote the exact words from one segment and give that \
segment's number. Use the severity "denied" only when the transcript contains an explicit denial; otherwise \
choose low, moderate or high from the words used. When a risk topic did not come up, give no flag for it.
6. Write plain, professional clinical prose in the third person ("the client", "the therapist"), and keep \
each section within its word limit.
7. The summary is one or two sentences about the session, at most {SUMMARY_MAX_CHARS} characters."""

SUMMARY_PROMPT = f"""\
You are a clinical documentation assistant for a licensed therapist. Summarise the progress note you are \
given in one or two sentences, at most {SUMMARY_MAX_CHARS} characters, using only what the note says."""

_ROLE_LABELS = {"therapist": "Therapist", "client": "Client", "partner": "Partner", "participant": "Participant"}
_QUOTE_EDGES = " \t\n\"'“”‘’.,;:!?…-"
_QUOTE_CLASSES = {"'": "['’‘]", "’": "['’‘]", "‘": "['’‘]", '"': '["“”]', "“": '["“”]', "”": '["“”]'}
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


class InvalidAnswer(Exception):
    """The server's answer is not a note of the requested shape; ``reason`` names what was wrong (no text)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RawNote:
    """An answer read as the schema says, before evidence and quotes are checked."""

    sections: dict[str, tuple[NoteSentence, ...]]  # by template key
    risk_flags: tuple[RiskFlagResult, ...]
    summary: str


def property_names(template: NoteTemplateSpec) -> dict[str, str]:
    """The answer property for each section key: the key itself unless it would clash with a reserved one."""
    names: dict[str, str] = {}
    taken = set(RESERVED_NAMES) | {s.key for s in template.sections if s.key not in RESERVED_NAMES}
    for section in template.sections:
        name = section.key
        if name in RESERVED_NAMES:
            name = f"section_{section.key}"
            n = 2
            while name in taken:
                name, n = f"section_{section.key}_{n}", n + 1
            taken.add(name)
        names[section.key] = name
    return names


def note_schema(template: NoteTemplateSpec, names: Mapping[str, str]) -> dict[str, Any]:
    """A strict JSON schema: one object per section (sentences with evidence), then risk flags, then summary."""
    sentence = _object({"text": {"type": "string"}, "evidence": {"type": "array", "items": {"type": "integer"}}})
    section = _object({"sentences": {"type": "array", "items": sentence}})
    flag = _object(
        {
            "kind": {"type": "string", "enum": list(RISK_KINDS)},
            "severity": {"type": "string", "enum": list(RISK_SEVERITIES)},
            "quote": {"type": "string"},
            "segment_idx": {"type": "integer"},
        }
    )
    properties: dict[str, Any] = {names[s.key]: section for s in template.sections}
    properties["risk_flags"] = {"type": "array", "items": flag}
    properties["summary"] = {"type": "string"}
    return _object(properties)


def summary_schema() -> dict[str, Any]:
    return _object({"summary": {"type": "string"}})


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def render_line(line: TranscriptLine) -> str:
    """``[12] (Client) 03:07: text``; minutes keep counting past the hour."""
    seconds = max(int(line.start), 0)
    return f"[{line.idx}] ({_speaker(line)}) {seconds // 60:02d}:{seconds % 60:02d}: {' '.join(line.text.split())}"


def _speaker(line: TranscriptLine) -> str:
    if line.role in _ROLE_LABELS:
        return _ROLE_LABELS[line.role]
    tail = (line.speaker or "").rsplit("_", 1)[-1]
    return f"Speaker {int(tail) + 1}" if tail.isdigit() else "Speaker"


def user_message(
    template: NoteTemplateSpec, names: Mapping[str, str], transcript: str, part: int = 1, parts: int = 1
) -> str:
    """The template's sections, then the numbered transcript (or one part of it)."""
    rows = []
    for s in template.sections:
        limit = f", at most {s.max_words} words" if s.max_words else ""
        rows.append(f'- "{names[s.key]}": {s.title}{limit}. {s.instructions}')
    scope = (
        f"This is part {part} of {parts} of the session's transcript: write the note from this part only."
        if parts > 1
        else "The session's transcript:"
    )
    return (
        f"Write the progress note with these sections (answer property, title, word limit, instructions):\n"
        f"{chr(10).join(rows)}\n\n{scope}\n{transcript}"
    )


def summary_message(sections: Sequence[tuple[str, str]]) -> str:
    """The combined note, one ``title: text`` paragraph per section."""
    return "The progress note:\n\n" + "\n\n".join(f"{title}: {text}" for title, text in sections)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + 1


def answer_tokens(template: NoteTemplateSpec) -> int:
    """Room for the answer: ~2 tokens a word covers the JSON around the prose and the evidence lists."""
    return 400 + sum(2 * (s.max_words or 300) for s in template.sections)


def plan_chunks(rendered: Sequence[str], budget_tokens: int) -> list[range]:
    """Consecutive line ranges of at most ``budget_tokens`` each (a single longer line stands alone): as few as
    greedy filling needs, with the lines shared out evenly so the last part is not a scrap."""
    sizes = [estimate_tokens(r) for r in rendered]
    if not sizes:
        return []
    parts = len(_greedy(sizes, budget_tokens))
    share = sum(sizes) / parts
    groups: list[list[int]] = [[] for _ in range(parts)]
    done = 0
    for i, size in enumerate(sizes):
        groups[min(int((done + size / 2) / share), parts - 1)].append(i)  # by where the line's middle falls
        done += size
    even = [range(g[0], g[-1] + 1) for g in groups if g]
    if all(len(r) == 1 or sum(sizes[r.start : r.stop]) <= budget_tokens for r in even):
        return even
    return _greedy(sizes, budget_tokens)


def _greedy(sizes: Sequence[int], limit: int) -> list[range]:
    chunks: list[range] = []
    start, used = 0, 0
    for i, size in enumerate(sizes):
        if i > start and used + size > limit:
            chunks.append(range(start, i))
            start, used = i, 0
        used += size
    if start < len(sizes):
        chunks.append(range(start, len(sizes)))
    return chunks


def load_json(content: str, truncated: bool) -> Any:
    text = content.strip()
    fenced = _FENCE.match(text)  # some servers wrap JSON in a Markdown fence despite the schema
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        raise InvalidAnswer("it was cut off before the end" if truncated else "it is not JSON") from None


def parse_note(data: Any, template: NoteTemplateSpec, names: Mapping[str, str]) -> RawNote:
    """Read an answer of the note schema; anything missing or of the wrong type raises `InvalidAnswer`."""
    if not isinstance(data, Mapping):
        raise InvalidAnswer("it is not a JSON object")
    sections: dict[str, tuple[NoteSentence, ...]] = {}
    for s in template.sections:
        value = data.get(names[s.key])
        if not isinstance(value, Mapping) or not isinstance(value.get("sentences"), list):
            raise InvalidAnswer(f"section '{names[s.key]}' is missing or has no sentence list")
        sections[s.key] = tuple(_sentence(item, names[s.key]) for item in value["sentences"])
    raw_flags = data.get("risk_flags")
    if not isinstance(raw_flags, list):
        raise InvalidAnswer("the risk flags are missing or not a list")
    flags = tuple(_flag(item) for item in raw_flags)
    return RawNote(sections, flags, parse_summary(data))


def parse_summary(data: Any) -> str:
    summary = data.get("summary") if isinstance(data, Mapping) else None
    if not isinstance(summary, str):
        raise InvalidAnswer("the summary is missing or not text")
    return summary


def _sentence(item: Any, name: str) -> NoteSentence:
    if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
        raise InvalidAnswer(f"a sentence of section '{name}' has no text")
    evidence = item.get("evidence")
    if not isinstance(evidence, list) or not all(_is_int(i) for i in evidence):
        raise InvalidAnswer(f"a sentence of section '{name}' has no list of segment numbers")
    return NoteSentence(str(item["text"]), tuple(int(i) for i in evidence))


def _flag(item: Any) -> RiskFlagResult:
    if not isinstance(item, Mapping) or not all(isinstance(item.get(k), str) for k in ("kind", "severity", "quote")):
        raise InvalidAnswer("a risk flag lacks its kind, severity or quote")
    if not _is_int(item.get("segment_idx")):
        raise InvalidAnswer("a risk flag lacks its segment number")
    return RiskFlagResult(item["kind"], item["severity"], item["quote"], int(item["segment_idx"]))


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def trim_summary(text: str) -> str:
    """At most ``SUMMARY_MAX_CHARS``, cut after a whole sentence (or, for one long sentence, a whole word)."""
    text = " ".join(text.split())
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if len(f"{kept} {sentence}".strip()) > SUMMARY_MAX_CHARS:
            break
        kept = f"{kept} {sentence}".strip()
    if kept:
        return kept
    return text[: SUMMARY_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;: ") + "…"


@dataclass(frozen=True)
class Part:
    """One part's note after the evidence and quote checks."""

    sections: dict[str, tuple[NoteSentence, ...]]
    risk_flags: tuple[RiskFlagResult, ...]
    summary: str


@dataclass
class Dropped:
    unsupported: int = 0  # citing no existing segment
    unfaithful: int = 0  # citing segments that do not support it (evidence.check_support)
    unknown_flags: int = 0
    unquoted_flags: int = 0
    over_limit: int = 0
    summary_fallback: bool = False

    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.removed:
            out.append(f"{_count(self.removed, 'statement')} removed: not supported by the transcript.")
        if self.unknown_flags:
            out.append(f"Left out {_count(self.unknown_flags, 'risk flag')} of an unknown kind or severity.")
        if self.unquoted_flags:
            out.append(f"Left out {_count(self.unquoted_flags, 'risk flag')} not quoting its transcript segment.")
        if self.over_limit:
            out.append(f"Left out {_count(self.over_limit, 'sentence')} over a section's word limit.")
        if self.summary_fallback:
            out.append("The summary covers only the first part of the session.")
        return tuple(out)

    @property
    def removed(self) -> int:
        """Statements the note was written with but that the checks removed."""
        return self.unsupported + self.unfaithful


def check_part(raw: RawNote, lines: Sequence[TranscriptLine], dropped: Dropped) -> Part:
    """Keep sentences whose evidence is in ``lines`` (the part the server saw) and flags quoting their segment."""
    kept: dict[str, tuple[NoteSentence, ...]] = {}
    texts = {line.idx: line.text for line in lines}
    for key, sentences in raw.sections.items():
        said = [s for s in sentences if not _is_not_discussed(s.text)]
        cited = keep_supported(said, lines)
        dropped.unsupported += len(said) - len(cited)
        kept[key] = tuple(s for s in cited if check_support(s.text, [texts[i] for i in s.evidence]).ok)
        dropped.unfaithful += len(cited) - len(kept[key])
    flags: list[RiskFlagResult] = []
    for flag in raw.risk_flags:
        if flag.kind not in RISK_KINDS or flag.severity not in RISK_SEVERITIES:
            dropped.unknown_flags += 1
            continue
        quote = find_quote(flag.quote, texts[flag.segment_idx]) if flag.segment_idx in texts else None
        if quote is None:
            dropped.unquoted_flags += 1
            continue
        flags.append(RiskFlagResult(flag.kind, flag.severity, quote, flag.segment_idx, source="model"))
    return Part(kept, tuple(flags), raw.summary)


def find_quote(quote: str, text: str) -> str | None:
    """The words of ``text`` that ``quote`` gives, ignoring case, spacing, quote styles and edge punctuation."""
    words = quote.strip(_QUOTE_EDGES).split()
    if not words:
        return None
    pattern = r"\s+".join("".join(_QUOTE_CLASSES.get(c, re.escape(c)) for c in word) for word in words)
    match = re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE)
    return match.group(0) if match else None


def _is_not_discussed(text: str) -> bool:
    return " ".join(text.split()).rstrip(".").lower() == NOT_DISCUSSED.rstrip(".").lower()


def trim_words(
    sentences: Sequence[NoteSentence], section: TemplateSection, dropped: Dropped
) -> tuple[NoteSentence, ...]:
    """Whole sentences up to the section's ``max_words`` (the first is always kept), dropped from the end."""
    max_words = section.max_words
    if max_words is None:
        return tuple(sentences)
    kept: list[NoteSentence] = []
    words = 0
    for sentence in sentences:
        words += len(sentence.text.split())
        if kept and words > max_words:
            break
        kept.append(sentence)
    dropped.over_limit += len(sentences) - len(kept)
    return tuple(kept)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
