"""Progress notes: versions, edits while draft, signing, addenda, regeneration, risk flags — owner-only, audited."""

from __future__ import annotations

import uuid
from typing import Any

from tbdesktop.engine.notes import NOT_DISCUSSED, TranscriptLine
from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import (
    AddendumInfo,
    NoteInfo,
    NoteSectionInfo,
    NoteSentenceInfo,
    RiskFlagInfo,
    UserInfo,
)
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import (
    ACTIVE_STATUSES,
    JobKind,
    Note,
    NoteAddendum,
    NoteTemplate,
    TranscriptSegment,
    User,
    utcnow,
)
from tbdesktop.store.note_repositories import NoteRepository
from tbdesktop.store.processing_state import queue
from tbdesktop.store.repositories import AuditRepository, SessionRepository, SystemJobRepository

MAX_SECTION_TEXT = 20_000
MAX_ADDENDUM_TEXT = 20_000


def stored_sections(result: dict[str, Any]) -> dict[str, Any]:
    """A generated note (``GeneratedNote.to_dict()``) as stored: key → title, position, text, sentences."""
    out: dict[str, Any] = {}
    for position, section in enumerate(result.get("sections", [])):
        sentences: list[dict[str, Any]] = [
            {"text": str(x["text"]), "evidence": [int(i) for i in x.get("evidence", [])]}
            for x in section.get("sentences", [])
        ]
        out[str(section["key"])] = {
            "title": str(section.get("title") or section["key"]),
            "position": position,
            "text": " ".join(x["text"] for x in sentences) if sentences else NOT_DISCUSSED,
            "evidence": sorted({i for x in sentences for i in x["evidence"]}),
            "sentences": sentences,
            "edited": False,
        }
    return out


def transcript_lines(segments: list[TranscriptSegment], speakers: dict[str, Any]) -> list[TranscriptLine]:
    """The stored transcript as the note generators read it (roles as corrected by the user)."""
    lines = []
    for seg in segments:
        role = (speakers.get(seg.speaker) or {}).get("role") or seg.role
        lines.append(TranscriptLine(seg.idx, seg.start_s, seg.end_s, seg.speaker, role, seg.text))
    return lines


def set_section_text(note: Note, key: str, text: str) -> bool:
    """The therapist's own words in one section of a draft note: kept with the evidence the draft had, marked as
    edited. Returns whether the text changed. A signed note takes an addendum instead."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A section cannot be empty; write “Not discussed in this session.” instead.")
    if len(text) > MAX_SECTION_TEXT:
        raise ValidationError(f"A section can hold at most {MAX_SECTION_TEXT} characters.")
    if note.status == "signed":
        raise ValidationError("This note is signed and cannot be changed; add an addendum instead.")
    sections = dict(note.sections or {})
    if key not in sections:
        raise NotFoundError(f"This note has no section '{key}'.")
    section = dict(sections[key])
    if section.get("text") == text:
        return False
    section.update(text=text, sentences=[{"text": text, "evidence": list(section.get("evidence", []))}], edited=True)
    sections[key] = section
    note.sections = sections
    note.updated_at = utcnow()
    return True


class NoteService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    def _audit(self, s: Any, action: str, object_id: uuid.UUID) -> None:
        AuditRepository(s, self.user.id, self.ctx.workstation).record(action, "note", object_id)

    # -- reading ------------------------------------------------------------------------------------------

    def get_sync(self, session_id: uuid.UUID | str, version: int | None = None) -> NoteInfo:
        """The latest note of a session (or the given version), with its addenda and the list of versions."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.get(session_id, version)
            info = self.note_info(s, repo, note)
            self._audit(s, "note.view", note.id)
            return info

    get = off_loop(get_sync)

    def session_id(self, ref: uuid.UUID | str) -> uuid.UUID:
        return parse_session_id(ref)

    def latest_or_none_sync(self, session_id: uuid.UUID | str) -> NoteInfo | None:
        """The latest note, or None while the session has none."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.find(session_id)
            if note is None:
                return None
            self._audit(s, "note.view", note.id)
            return self.note_info(s, repo, note)

    def risk_flags_sync(self, session_id: uuid.UUID | str) -> list[RiskFlagInfo]:
        """The session's risk flags, each with where its line starts and whether it was reviewed on the latest
        note version."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            return self._flags(s, NoteRepository(s, self.user.id), session_id)

    risk_flags = off_loop(risk_flags_sync)

    def mark_flag_reviewed_sync(
        self, session_id: uuid.UUID | str, kind: str, segment_idx: int | None
    ) -> list[RiskFlagInfo]:
        """Mark one risk flag reviewed on the latest note version (I reviewed it now); audited with the flag's kind,
        never its quote. Marking it again changes nothing. Returns the session's flags as they now stand."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.get(session_id)
            raised = {(f.kind, f.segment_idx) for f in repo.risk_flags(session_id)}
            if (kind, segment_idx) not in raised:
                raise NotFoundError("That risk flag is no longer on this session's note.")
            if repo.add_flag_review(note, kind, segment_idx, self.user.id):
                AuditRepository(s, self.user.id, self.ctx.workstation).record(
                    "note.flag_review", f"risk_flag:{kind}"[:64], note.id
                )
            return self._flags(s, repo, session_id)

    mark_flag_reviewed = off_loop(mark_flag_reviewed_sync)

    def _flags(self, s: Any, repo: NoteRepository, session_id: uuid.UUID) -> list[RiskFlagInfo]:
        sessions = SessionRepository(s, self.user.id)
        hidden = sessions.hidden_client_name(session_id)
        flags = repo.risk_flags(session_id)
        wanted = {f.segment_idx for f in flags if f.segment_idx is not None}
        starts = repo.line_starts(session_id, wanted)
        note = repo.find(session_id)
        reviews = repo.flag_reviews(note.id) if note is not None else {}
        out = []
        for f in flags:
            review = reviews.get((f.kind, -1 if f.segment_idx is None else f.segment_idx))
            out.append(
                RiskFlagInfo(
                    kind=f.kind,
                    severity=f.severity,
                    quote=mask_name(f.quote, hidden),
                    segment_idx=f.segment_idx,
                    source=f.source,
                    detail=f.detail,
                    start_s=starts.get(f.segment_idx) if f.segment_idx is not None else None,
                    reviewed_by=review[0] if review is not None else None,
                    reviewed_at=review[1] if review is not None else None,
                )
            )
        return out

    # -- editing and signing ------------------------------------------------------------------------------

    def update_section_sync(self, session_id: uuid.UUID | str, key: str, text: str) -> NoteInfo:
        """Edit one section of the latest note while it is a draft; a signed note takes an addendum instead."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.get(session_id)
            if set_section_text(note, key, text):
                s.flush()
                self._audit(s, "note.edit", note.id)
            return self.note_info(s, repo, note)

    update_section = off_loop(update_section_sync)

    def sign_sync(self, session_id: uuid.UUID | str) -> NoteInfo:
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.get(session_id)
            if note.status == "signed":
                raise ValidationError("This note is already signed.")
            note.status = "signed"
            note.signed_at = utcnow()
            note.signed_by = self.user.id
            s.flush()
            self._audit(s, "note.sign", note.id)
            return self.note_info(s, repo, note)

    sign = off_loop(sign_sync)

    def add_addendum_sync(self, session_id: uuid.UUID | str, text: str) -> NoteInfo:
        session_id = parse_session_id(session_id)
        text = (text or "").strip()
        if not text:
            raise ValidationError("An addendum needs some text.")
        if len(text) > MAX_ADDENDUM_TEXT:
            raise ValidationError(f"An addendum can hold at most {MAX_ADDENDUM_TEXT} characters.")
        with self.ctx.db.unit_of_work() as s:
            repo = NoteRepository(s, self.user.id)
            note = repo.get(session_id)
            if note.status != "signed":
                raise ValidationError("This note is still a draft: edit it directly; addenda are for signed notes.")
            s.add(NoteAddendum(note_id=note.id, author_id=self.user.id, text=text))
            s.flush()
            self._audit(s, "note.addendum", note.id)
            return self.note_info(s, repo, note)

    add_addendum = off_loop(add_addendum_sync)

    # -- regeneration -------------------------------------------------------------------------------------

    def regenerate_sync(self, session_id: uuid.UUID | str, template: uuid.UUID | str | None = None) -> uuid.UUID:
        """Queue a new note version written from the stored transcript with ``template`` (my default if None).

        Earlier versions stay. Returns the job id."""
        session_id = parse_session_id(session_id)
        templates = TemplateService(self.ctx, self.user)
        chosen = templates.get_sync(template) if template is not None else templates.default_sync()
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            if row.transcript_deleted_at is not None:
                raise ValidationError("The transcript of this session was deleted, so its notes cannot be regenerated.")
            if row.processing_status in ACTIVE_STATUSES:
                raise ValidationError("This session is still being processed; try again when it has finished.")
            has_text = s.query(TranscriptSegment.idx).filter(TranscriptSegment.session_id == session_id).first()
            if has_text is None:
                raise ValidationError("This session has no transcript yet, so there is nothing to write notes from.")
            job = SystemJobRepository(s).enqueue(
                session_id, JobKind.REGENERATE_NOTES.value, {"template_id": str(chosen.id)}
            )
            queue(row, "Waiting to write notes")
            AuditRepository(s, self.user.id, self.ctx.workstation).record("note.regenerate", "session", session_id)
            return job.id

    regenerate = off_loop(regenerate_sync)

    # -- helpers ------------------------------------------------------------------------------------------

    def note_info(self, s: Any, repo: NoteRepository, note: Note) -> NoteInfo:
        """A note as the notes panel shows it, read inside the caller's unit of work: sections, addenda, author,
        versions, removed-statement count, the hidden client name masked."""
        hidden = SessionRepository(s, self.user.id).hidden_client_name(note.session_id)

        def m(text: str) -> str:
            return mask_name(text, hidden)

        template = s.get(NoteTemplate, note.template_id) if note.template_id else None
        ordered = sorted((note.sections or {}).items(), key=lambda kv: int(kv[1].get("position", 0)))
        sections = [
            NoteSectionInfo(
                key=key,
                title=str(value.get("title") or key),
                text=m(str(value.get("text") or NOT_DISCUSSED)),
                evidence=[int(i) for i in value.get("evidence", [])],
                sentences=[
                    NoteSentenceInfo(text=m(str(x.get("text", ""))), evidence=[int(i) for i in x.get("evidence", [])])
                    for x in value.get("sentences", [])
                ],
                edited=bool(value.get("edited")),
            )
            for key, value in ordered
        ]
        addenda = []
        for a in repo.addenda(note.id):
            author = s.get(User, a.author_id) if a.author_id else None
            addenda.append(AddendumInfo(a.id, m(a.text), author.display_name if author else None, a.created_at))
        versions = [n.version for n in repo.versions(note.session_id)]
        return NoteInfo(
            id=note.id,
            session_id=note.session_id,
            version=note.version,
            template_id=note.template_id,
            template_name=template.name if template is not None else None,
            generator=note.generator,
            status=note.status,
            sections=sections,
            created_at=note.created_at,
            updated_at=note.updated_at,
            signed_at=note.signed_at,
            addenda=addenda,
            versions=versions,
            removed_statements=note.removed_statements,
            warnings=list(note.warnings or []),
        )
