"""Typed results the services hand to the GUI and the CLI (never ORM objects)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

ANONYMOUS_CLIENT = "Anonymous individual"


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class JsonMixin:
    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class UserInfo(JsonMixin):
    id: uuid.UUID
    display_name: str
    email: str | None
    role: str
    created_at: datetime


@dataclass(frozen=True)
class ClientInfo(JsonMixin):
    id: uuid.UUID
    name: str
    pronouns: str | None
    created_at: datetime


@dataclass(frozen=True)
class SessionInfo(JsonMixin):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str
    client_id: uuid.UUID | None
    client_name: str | None
    session_date: date
    duration_mins: float | None
    status: str
    progress: int
    stage_detail: str | None
    error: str | None
    eta_seconds: int | None
    is_anonymous: bool
    ai_summary: str | None
    recording_available: bool
    recording_deleted_at: datetime | None
    transcript_deleted_at: datetime | None
    consent_method: str | None
    consent_obtained_at: datetime | None
    created_at: datetime
    updated_at: datetime
    session_type: str = "individual"
    speakers: dict[str, Any] = field(default_factory=dict)
    # The most serious risk flag raised (high, moderate, low), and the kinds raised; a denial is not a risk.
    risk_level: str | None = None
    risk_kinds: tuple[str, ...] = ()
    # Who said what changed after the latest note (and its risk flags) was written: offer to regenerate it.
    needs_regeneration: bool = False
    # Clinic mode: the workstation that holds the recording, and whether that is this one (recordings never sync).
    recording_host: str | None = None
    recording_here: bool = True
    # The latest note's state: "draft", "signed", or None while the session has no note.
    note_state: str | None = None

    @property
    def recording_elsewhere(self) -> str | None:
        """The workstation that keeps the recording when it is not on this one (and was not deleted)."""
        if self.recording_here or self.recording_deleted_at is not None:
            return None
        return self.recording_host

    @property
    def display_client(self) -> str:
        if self.is_anonymous:
            return ANONYMOUS_CLIENT
        return self.client_name or "No client"


@dataclass(frozen=True)
class WordInfo(JsonMixin):
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class SegmentInfo(JsonMixin):
    idx: int
    start_s: float
    end_s: float
    speaker: str
    role: str | None
    text: str
    words: list[WordInfo] = field(default_factory=list)
    manual: bool = False  # the therapist set its speaker or words
    split_from: int | None = None  # the line it was split from


@dataclass(frozen=True)
class StatusInfo(JsonMixin):
    session_id: uuid.UUID
    status: str
    progress: int
    stage_detail: str | None
    eta_seconds: int | None
    error: str | None


@dataclass(frozen=True)
class ProgressEvent(JsonMixin):
    """Emitted by the processing runner for every state change and progress step of a session."""

    session_id: uuid.UUID
    job_id: uuid.UUID | None
    status: str
    progress: int
    stage_detail: str | None
    eta_seconds: int | None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in {"completed", "failed", "cancelled"}

    @classmethod
    def state(
        cls,
        session_id: uuid.UUID,
        status: str,
        detail: str,
        *,
        job_id: uuid.UUID | None = None,
        error: str | None = None,
    ) -> ProgressEvent:
        """A state without progress of its own: completed is 100 %, anything else starts at 0."""
        return cls(session_id, job_id, status, 100 if status == "completed" else 0, detail, None, error)


@dataclass(frozen=True)
class TemplateSectionInfo(JsonMixin):
    key: str
    title: str
    instructions: str
    max_words: int | None = None


@dataclass(frozen=True)
class TemplateInfo(JsonMixin):
    id: uuid.UUID
    name: str
    scope: str  # "builtin", "clinic" (clinic-wide) or "mine"
    sections: list[TemplateSectionInfo]
    is_default: bool  # my default (or the clinic's, when I have not chosen one)
    editable: bool  # whether the signed-in user may change or delete it
    created_at: datetime
    updated_at: datetime

    def content(self) -> dict[str, Any]:
        return {"sections": [_jsonable(asdict(s)) for s in self.sections]}


@dataclass(frozen=True)
class NoteSentenceInfo(JsonMixin):
    text: str
    evidence: list[int]


@dataclass(frozen=True)
class NoteSectionInfo(JsonMixin):
    key: str
    title: str
    text: str
    evidence: list[int]
    sentences: list[NoteSentenceInfo]
    edited: bool = False


@dataclass(frozen=True)
class AddendumInfo(JsonMixin):
    id: uuid.UUID
    text: str
    author_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class RiskFlagInfo(JsonMixin):
    kind: str
    severity: str
    quote: str
    segment_idx: int | None
    source: str = "rules"  # rules | model | rules+model
    detail: str = ""  # e.g. "passive ideation; denies a plan"
    start_s: float | None = None  # where the quoted line starts in the recording
    # Marked reviewed on the latest note version: by whom (display name) and when.
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    @property
    def denied(self) -> bool:
        """The client denied it: information for the reader, not a risk."""
        return self.severity == "denied"

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None

    @property
    def source_label(self) -> str:
        """Where the flag came from, as the window and the CLI say it: "rules", "model" or "rules + model"."""
        return " + ".join(part.strip() for part in (self.source or "rules").split("+"))


@dataclass(frozen=True)
class NoteInfo(JsonMixin):
    id: uuid.UUID
    session_id: uuid.UUID
    version: int
    template_id: uuid.UUID | None
    template_name: str | None
    generator: str
    status: str  # draft | signed
    sections: list[NoteSectionInfo]
    created_at: datetime
    updated_at: datetime | None
    signed_at: datetime | None
    addenda: list[AddendumInfo] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    removed_statements: int = 0  # statements the evidence check removed: not supported by the transcript
    warnings: list[str] = field(default_factory=list)

    @property
    def is_local_draft(self) -> bool:
        return self.generator == "local"

    @property
    def written_by(self) -> str:
        """Who wrote this version, as the window says it: the transcript draft, or the model's file name."""
        return generator_label(self.generator)

    @property
    def notices(self) -> list[str]:
        """What a reader checks first: how many statements the checks removed, then the other warnings."""
        out = []
        if self.removed_statements:
            noun = "statement" if self.removed_statements == 1 else "statements"
            out.append(f"{self.removed_statements} {noun} removed: not supported by the transcript.")
        for warning in self.warnings:
            if warning.rstrip(". ") not in (line.rstrip(". ") for line in out):
                out.append(warning)
        return out


def generator_label(generator: str) -> str:
    """``local`` → "Draft from transcript quotes"; ``llm:<file>`` / ``openai:<model>`` → "Written by <name>"."""
    kind, _, name = (generator or "local").partition(":")
    if kind == "local" or not name:
        return "Draft from transcript quotes"
    return f"Written by {name}"
