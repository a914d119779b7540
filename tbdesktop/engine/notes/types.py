"""What the note generators take and give: templates, transcript lines, sections with evidence, risk flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from tbdesktop.engine.errors import EngineError
from tbdesktop.engine.types import CancelCheck, ProgressCallback

STAGE = "generating_notes"
NOT_DISCUSSED = "Not discussed in this session."

MAX_SECTIONS = 20
MAX_KEY_LEN = 40
MAX_TITLE_LEN = 120
MAX_INSTRUCTIONS_LEN = 2000
MAX_NAME_LEN = 200
MAX_SECTION_WORDS = 2000

RISK_KINDS = ("suicidal_ideation", "self_harm", "harm_to_others", "abuse_neglect", "substance_use")
# "denied": the transcript holds an explicit denial (e.g. "no thoughts of hurting myself"), never assumed.
RISK_SEVERITIES = ("denied", "low", "moderate", "high")
# Where a flag came from: the rule lexicon (always run, the floor) or the language model's risk pass.
RISK_SOURCES = ("rules", "model", "rules+model")


class TemplateError(EngineError):
    """A note template is malformed (its message says what to fix)."""


class NotesError(EngineError):
    """A note could not be generated (its message is safe to show)."""


class ModelUnavailable(NotesError):
    """The note model cannot be used at all (missing, not a model, damaged, too big to load)."""


@dataclass(frozen=True)
class TemplateSection:
    key: str
    title: str
    instructions: str
    max_words: int | None = None


@dataclass(frozen=True)
class NoteTemplateSpec:
    """A validated template: an ordered list of sections."""

    name: str
    sections: tuple[TemplateSection, ...]

    @classmethod
    def from_content(cls, name: str, content: Mapping[str, Any]) -> NoteTemplateSpec:
        """Validate ``{"sections": [{"key", "title", "instructions", "max_words"?}, …]}``."""
        name = str(name or "").strip()
        if not name:
            raise TemplateError("The template needs a name.")
        if len(name) > MAX_NAME_LEN:
            raise TemplateError(f"The template name is longer than {MAX_NAME_LEN} characters.")
        if not isinstance(content, Mapping):
            raise TemplateError("The template must be a JSON object with a list of sections.")
        raw = content.get("sections")
        if not isinstance(raw, list) or not raw:
            raise TemplateError("The template needs at least one section.")
        if len(raw) > MAX_SECTIONS:
            raise TemplateError(f"The template has {len(raw)} sections; at most {MAX_SECTIONS} are allowed.")
        sections: list[TemplateSection] = []
        seen: set[str] = set()
        for n, item in enumerate(raw, start=1):
            if not isinstance(item, Mapping):
                raise TemplateError(f"Section {n} must be an object with key, title and instructions.")
            key = str(item.get("key") or "").strip()
            title = str(item.get("title") or "").strip()
            instructions = str(item.get("instructions") or "").strip()
            if not key or not key.replace("_", "").isalnum() or not key.isascii():
                raise TemplateError(f"Section {n} needs a key of letters, digits or underscores.")
            if len(key) > MAX_KEY_LEN:
                raise TemplateError(f"Section {n}'s key is longer than {MAX_KEY_LEN} characters.")
            if key in seen:
                raise TemplateError(f"Two sections share the key '{key}'; keys must be unique.")
            seen.add(key)
            if not title or len(title) > MAX_TITLE_LEN:
                raise TemplateError(f"Section {n} needs a title of 1–{MAX_TITLE_LEN} characters.")
            if not instructions or len(instructions) > MAX_INSTRUCTIONS_LEN:
                raise TemplateError(f"Section {n} needs instructions of 1–{MAX_INSTRUCTIONS_LEN} characters.")
            max_words = item.get("max_words")
            if max_words is not None:
                if isinstance(max_words, bool) or not isinstance(max_words, int):
                    raise TemplateError(f"Section {n}'s max_words must be a whole number.")
                if not 1 <= max_words <= MAX_SECTION_WORDS:
                    raise TemplateError(f"Section {n}'s max_words must be between 1 and {MAX_SECTION_WORDS}.")
            sections.append(TemplateSection(key, title, instructions, max_words))
        return cls(name=name, sections=tuple(sections))

    def to_content(self) -> dict[str, Any]:
        return {
            "sections": [
                {k: v for k, v in asdict(s).items() if v is not None or k != "max_words"} for s in self.sections
            ]
        }


@dataclass(frozen=True)
class TranscriptLine:
    """One transcript segment as the generators see it; ``idx`` is the segment index evidence refers to."""

    idx: int
    start: float
    end: float
    speaker: str
    role: str | None
    text: str


@dataclass(frozen=True)
class NoteSentence:
    text: str
    evidence: tuple[int, ...]


@dataclass(frozen=True)
class NoteSection:
    key: str
    title: str
    sentences: tuple[NoteSentence, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences) if self.sentences else NOT_DISCUSSED

    @property
    def evidence(self) -> tuple[int, ...]:
        return tuple(sorted({i for s in self.sentences for i in s.evidence}))


@dataclass(frozen=True)
class RiskFlagResult:
    kind: str  # one of RISK_KINDS
    severity: str  # one of RISK_SEVERITIES
    quote: str  # words of the transcript, verbatim
    segment_idx: int
    source: str = "rules"  # one of RISK_SOURCES
    detail: str = ""  # a short qualifier a clinician reads first, e.g. "passive ideation; denies a plan"


@dataclass(frozen=True)
class GeneratedNote:
    generator: str  # "local" or "openai:<model>"
    sections: tuple[NoteSection, ...]
    summary: str
    risk_flags: tuple[RiskFlagResult, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # Statements the generator wrote that the evidence check removed (not supported by the cited lines).
    removed_statements: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "summary": self.summary,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "text": s.text,
                    "evidence": list(s.evidence),
                    "sentences": [{"text": x.text, "evidence": list(x.evidence)} for x in s.sentences],
                }
                for s in self.sections
            ],
            "risk_flags": [asdict(f) for f in self.risk_flags],
            "warnings": list(self.warnings),
            "removed_statements": self.removed_statements,
        }


class NoteGenerator(Protocol):
    name: str

    def generate(
        self,
        lines: Sequence[TranscriptLine],
        template: NoteTemplateSpec,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedNote: ...


def keep_supported(sentences: Sequence[NoteSentence], lines: Sequence[TranscriptLine]) -> tuple[NoteSentence, ...]:
    """Sentences whose evidence all exists; a sentence citing no segment, or a missing one, is dropped."""
    known = {line.idx for line in lines}
    kept: list[NoteSentence] = []
    for sentence in sentences:
        text = sentence.text.strip()
        evidence = tuple(dict.fromkeys(int(i) for i in sentence.evidence))
        if text and evidence and all(i in known for i in evidence):
            kept.append(NoteSentence(text, evidence))
    return tuple(kept)
