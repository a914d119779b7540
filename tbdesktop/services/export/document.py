"""A progress note as an exported document: plain data every renderer (text, DOCX, PDF, print) lays out the same.

Built from the typed results the services already hand out, with the client's name masked wherever it could
appear when the session is anonymous. No Qt, no database here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import ANONYMOUS_CLIENT, NoteInfo, SegmentInfo, SessionInfo

FORMATS = ("pdf", "docx", "txt")
TITLE = "Progress note"
DRAFT_MARK = "DRAFT"
DRAFT_STATUS = "Draft — not signed"
ROLE_WORDS = {
    "therapist": "Therapist",
    "client": "Client",
    "partner": "Partner",
    "participant": "Participant",
    "other": "Other",
}
SESSION_TYPES = {"individual": "Individual", "couples": "Couples", "family": "Family", "group": "Group"}


@dataclass(frozen=True)
class HeaderField:
    label: str
    value: str


@dataclass(frozen=True)
class NoteSection:
    title: str
    text: str
    edited: bool = False


@dataclass(frozen=True)
class Addendum:
    heading: str  # "Addendum — 5 Dec 2026 09:12 UTC — Dana Reyes"
    text: str


@dataclass(frozen=True)
class TranscriptRow:
    label: str  # the speaker's role ("Therapist"), or "Speaker 2" when unknown
    time: str  # from the start of the recording: "01:23" or "1:02:03"
    text: str


@dataclass(frozen=True)
class ExportDocument:
    """What a note export holds, in reading order: header fields, notices, sections, the signature and addenda
    (signed notes), then the transcript when it was asked for."""

    session_id: uuid.UUID
    session_date: date
    version: int
    signed: bool
    fields: tuple[HeaderField, ...]
    notices: tuple[str, ...]
    sections: tuple[NoteSection, ...]
    signature: str | None
    addenda: tuple[Addendum, ...]
    transcript: tuple[TranscriptRow, ...] | None = None
    title: str = TITLE

    @property
    def draft(self) -> bool:
        return not self.signed

    @property
    def footer(self) -> str:
        """The running footer of each page beside its number: nothing that names the client."""
        return f"{self.title} · {self.session_date.isoformat()} · version {self.version}" + (
            "" if self.signed else f" · {DRAFT_MARK}"
        )

    def file_name(self, fmt: str) -> str:
        return default_file_name(self.session_date, self.session_id, fmt)


def default_file_name(session_date: date, session_id: uuid.UUID, fmt: str) -> str:
    """A name that says which session without saying whose: ``session-2026-12-04-1a2b3c4d.pdf``."""
    return f"session-{session_date.isoformat()}-{session_id.hex[:8]}.{fmt}"


# -- formatting ---------------------------------------------------------------------------------------------------


def local_time(value: datetime) -> datetime:
    """A stored time (UTC; SQLite may hand it back without a zone) in this computer's time zone."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone()


def date_words(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def time_words(value: datetime) -> str:
    """``4 Dec 2026 14:05 CET`` in local time."""
    here = local_time(value)
    zone = here.tzname() or ""
    return f"{here.day} {here:%b %Y %H:%M} {zone}".rstrip()


def duration_words(minutes: float | None) -> str:
    if minutes is None:
        return "Not known"
    if minutes < 1:
        return "Under 1 minute"
    whole = int(minutes + 0.5)
    hours, mins = divmod(whole, 60)
    if hours:
        return f"{hours} h {mins:02d} min"
    return "1 minute" if whole == 1 else f"{whole} minutes"


def clock(seconds: float, *, with_hours: bool = False) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours or with_hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def session_when(info: SessionInfo) -> str:
    """The session's date, with the time it was recorded or imported when that was the same day (a recording
    imported later has only its date)."""
    words = date_words(info.session_date)
    created = local_time(info.created_at)
    if created.date() == info.session_date:
        return f"{words}, {created:%H:%M} {created.tzname() or ''}".rstrip()
    return words


def speaker_role_label(segment: SegmentInfo, speakers: dict[str, Any], *, hide_names: bool) -> str:
    """``Client``, ``Client (Jordan)`` when the speaker was named (never in an anonymous session), or
    ``Speaker 2`` when no role is known."""
    entry = speakers.get(segment.speaker)
    entry = entry if isinstance(entry, dict) else {}
    role = str(entry.get("role") or segment.role or "")
    tail = segment.speaker.rsplit("_", 1)[-1]
    base = ROLE_WORDS.get(role, role.title()) if role else (f"Speaker {int(tail) + 1}" if tail.isdigit() else "")
    base = base or segment.speaker or "Speaker"
    name = str(entry.get("name") or "").strip()
    if name and not hide_names:
        return f"{base} ({name})"
    return base


# -- building -----------------------------------------------------------------------------------------------------


def build_document(
    session: SessionInfo,
    note: NoteInfo,
    *,
    clinician: str,
    signed_by: str | None,
    practice: str = "",
    segments: Sequence[SegmentInfo] | None = None,
    hidden_name: str | None = None,
) -> ExportDocument:
    """The export of ``note`` (of ``session``). ``hidden_name`` is the client's name of an anonymous session: it
    is masked in every piece of text taken from the session (the note, addenda, transcript, speaker labels)."""

    def m(text: str) -> str:
        return mask_name(text, hidden_name) if hidden_name else text

    client = ANONYMOUS_CLIENT if session.is_anonymous else (session.client_name or "No client recorded")
    signed = note.status == "signed"
    latest = note.versions[-1] if note.versions else note.version
    version = f"{note.version} of {latest}" if latest != note.version else str(note.version)
    written = note.written_by
    if note.removed_statements:
        noun = "statement" if note.removed_statements == 1 else "statements"
        written += f" ({note.removed_statements} {noun} removed: not supported by the transcript)"
    fields = [
        *([HeaderField("Practice", practice)] if practice else []),
        HeaderField("Clinician", clinician),
        HeaderField("Client", client),
        HeaderField("Date and time", session_when(session)),
        HeaderField("Duration", duration_words(session.duration_mins)),
        HeaderField("Session type", SESSION_TYPES.get(session.session_type, session.session_type.title())),
        HeaderField("Template", note.template_name or "None"),
        HeaderField("Note version", version),
        HeaderField("Drafted by", written),
        HeaderField("Status", "Signed" if signed else DRAFT_STATUS),
    ]
    removed_line = next((line for line in note.notices if line.endswith("not supported by the transcript.")), None)
    notices = tuple(m(line) for line in note.notices if line != removed_line)
    sections = tuple(NoteSection(s.title, m(s.text), s.edited) for s in note.sections)
    signature = None
    if signed and note.signed_at is not None:
        signature = f"Electronically signed by {signed_by or 'an unknown clinician'} on {time_words(note.signed_at)}"
    addenda = tuple(
        Addendum(
            "Addendum — " + time_words(a.created_at) + (f" — {a.author_name}" if a.author_name else ""), m(a.text)
        )
        for a in note.addenda
    )
    transcript = None
    if segments is not None:
        hours = any(seg.start_s >= 3600 for seg in segments)
        transcript = tuple(
            TranscriptRow(
                m(speaker_role_label(seg, session.speakers, hide_names=session.is_anonymous)),
                clock(seg.start_s, with_hours=hours),
                m(seg.text),
            )
            for seg in segments
        )
    return ExportDocument(
        session_id=session.id,
        session_date=session.session_date,
        version=note.version,
        signed=signed,
        fields=tuple(fields),
        notices=notices,
        sections=sections,
        signature=signature,
        addenda=addenda,
        transcript=transcript,
    )
