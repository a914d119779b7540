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
        return {
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "role": self.role,
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
        }

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
class SpeakerTurn:
    """An exclusive stretch of one speaker's voice (diarization output)."""

    start: float
    end: float
    speaker: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "speaker": self.speaker}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerTurn:
        return cls(start=float(data["start"]), end=float(data["end"]), speaker=str(data["speaker"]))


@dataclass(frozen=True)
class DiarizationResult:
    turns: tuple[SpeakerTurn, ...]
    speakers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"turns": [t.to_dict() for t in self.turns], "speakers": list(self.speakers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiarizationResult:
        return cls(
            turns=tuple(SpeakerTurn.from_dict(t) for t in data.get("turns", ())),
            speakers=tuple(str(s) for s in data.get("speakers", ())),
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
class SpeakerInfo:
    id: str
    role: str | None
    talk_time_s: float
    words: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "talk_time_s": self.talk_time_s, "words": self.words}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerInfo:
        role = data.get("role")
        return cls(
            id=str(data["id"]),
            role=None if role is None else str(role),
            talk_time_s=float(data.get("talk_time_s") or 0.0),
            words=int(data.get("words") or 0),
        )


@dataclass(frozen=True)
class PipelineResult:
    duration_s: float
    language: str
    segments: tuple[Segment, ...]
    timings: dict[str, float] = field(default_factory=dict)
    speakers: tuple[SpeakerInfo, ...] = ()
    turns: tuple[SpeakerTurn, ...] = ()
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "language": self.language,
            "speakers": [s.to_dict() for s in self.speakers],
            "turns": [t.to_dict() for t in self.turns],
            "segments": [s.to_dict() for s in self.segments],
            "timings": dict(self.timings),
            "resources": {"peak_rss_mb": dict(self.peak_rss_mb)},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineResult:
        resources = dict(data.get("resources") or {})
        return cls(
            duration_s=float(data["duration_s"]),
            language=str(data["language"]),
            segments=tuple(Segment.from_dict(s) for s in data.get("segments", ())),
            timings={str(k): float(v) for k, v in dict(data.get("timings", {})).items()},
            speakers=tuple(SpeakerInfo.from_dict(s) for s in data.get("speakers", ())),
            turns=tuple(SpeakerTurn.from_dict(t) for t in data.get("turns", ())),
            peak_rss_mb={str(k): float(v) for k, v in dict(resources.get("peak_rss_mb") or {}).items()},
            warnings=tuple(str(w) for w in data.get("warnings", ())),
        )
