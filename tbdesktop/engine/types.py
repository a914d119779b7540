"""Plain result types of the engine; frozen so results can be shared between threads safely."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ProgressCallback = Callable[[str, float, float | None], None]
"""``(stage, fraction 0..1, eta_seconds or None) -> None``."""

CancelCheck = Callable[[], bool]
"""Returns True when the caller wants processing to stop."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "word": self.word, "probability": self.probability}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            word=str(data["word"]),
            probability=float(data["probability"]),
        )


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str
    words: tuple[Word, ...] = ()
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
        }
        if self.role is not None:
            out["role"] = self.role
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        role = data.get("role")
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            speaker=str(data["speaker"]),
            words=tuple(Word.from_dict(w) for w in data.get("words", ())),
            role=None if role is None else str(role),
        )


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    channels: int
    sample_rate: int
    codec: str
    container: str


@dataclass(frozen=True)
class TranscriptResult:
    language: str
    language_probability: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class PipelineResult:
    duration_s: float
    language: str
    segments: tuple[Segment, ...]
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "language": self.language,
            "segments": [s.to_dict() for s in self.segments],
            "timings": dict(self.timings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineResult:
        return cls(
            duration_s=float(data["duration_s"]),
            language=str(data["language"]),
            segments=tuple(Segment.from_dict(s) for s in data.get("segments", ())),
            timings={str(k): float(v) for k, v in dict(data.get("timings", {})).items()},
        )
