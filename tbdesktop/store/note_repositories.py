"""Templates and notes. Templates a user can see: built-ins, clinic-wide ones and their own. Notes are reached
only through a session the user owns."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from tbdesktop.errors import NotFoundError
from tbdesktop.store.models import (
    Note,
    NoteAddendum,
    NoteTemplate,
    RiskFlag,
    RiskFlagReview,
    TherapySession,
    TranscriptSegment,
    User,
)


class TemplateRepository:
    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.s = session
        self.user_id = user_id

    def _visible(self) -> Select[NoteTemplate]:
        return select(NoteTemplate).where(or_(NoteTemplate.user_id.is_(None), NoteTemplate.user_id == self.user_id))

    def list(self) -> Sequence[NoteTemplate]:
        return self.s.scalars(
            self._visible().order_by(
                NoteTemplate.builtin.desc(), NoteTemplate.user_id.is_not(None), func.lower(NoteTemplate.name)
            )
        ).all()

    def get(self, template_id: uuid.UUID) -> NoteTemplate:
        found = self.s.scalar(self._visible().where(NoteTemplate.id == template_id))
        if found is None:
            raise NotFoundError("That template does not exist or belongs to someone else.")
        return found

    def find_by_name(self, name: str) -> NoteTemplate | None:
        """Mine first, then clinic-wide, then built-in."""
        rows = self.s.scalars(self._visible().where(func.lower(NoteTemplate.name) == name.strip().lower())).all()
        rows = sorted(rows, key=lambda t: (t.user_id is None, t.builtin, t.created_at))
        return rows[0] if rows else None

    def clinic_default(self) -> NoteTemplate | None:
        rows = self.s.scalars(
            select(NoteTemplate).where(NoteTemplate.user_id.is_(None), NoteTemplate.is_default.is_(True))
        ).all()
        rows = sorted(rows, key=lambda t: (t.builtin, t.created_at))  # a clinic's own default beats the built-in
        return rows[0] if rows else None

    def add(self, template: NoteTemplate) -> NoteTemplate:
        self.s.add(template)
        self.s.flush()
        return template

    def delete(self, template: NoteTemplate) -> None:
        self.s.delete(template)
        self.s.flush()


class NoteRepository:
    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.s = session
        self.user_id = user_id

    def _owned_session(self, session_id: uuid.UUID) -> TherapySession:
        found = self.s.scalar(
            select(TherapySession).where(TherapySession.id == session_id, TherapySession.owner_id == self.user_id)
        )
        if found is None:
            raise NotFoundError("That session does not exist or belongs to someone else.")
        return found

    def versions(self, session_id: uuid.UUID) -> Sequence[Note]:
        self._owned_session(session_id)
        return self.s.scalars(select(Note).where(Note.session_id == session_id).order_by(Note.version)).all()

    def find(self, session_id: uuid.UUID, version: int | None = None) -> Note | None:
        """The latest note (or the given version); None when there is none. The session must be mine."""
        self._owned_session(session_id)
        q = select(Note).where(Note.session_id == session_id)
        q = q.where(Note.version == version) if version is not None else q.order_by(Note.version.desc()).limit(1)
        return self.s.scalar(q)

    def get(self, session_id: uuid.UUID, version: int | None = None) -> Note:
        found = self.find(session_id, version)
        if found is None:
            if version is None:
                raise NotFoundError("This session has no note yet.")
            raise NotFoundError(f"This session has no note version {version}.")
        return found

    def addenda(self, note_id: uuid.UUID) -> Sequence[NoteAddendum]:
        return self.s.scalars(
            select(NoteAddendum).where(NoteAddendum.note_id == note_id).order_by(NoteAddendum.created_at)
        ).all()

    def risk_flags(self, session_id: uuid.UUID) -> Sequence[RiskFlag]:
        self._owned_session(session_id)
        return self.s.scalars(select(RiskFlag).where(RiskFlag.session_id == session_id).order_by(RiskFlag.id)).all()

    def latest_written(self, session_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, datetime]:
        """When the latest note of each of these sessions of mine was written (sessions with no note, or someone
        else's, are left out). One query for a whole list."""
        if not session_ids:
            return {}
        rows = self.s.execute(
            select(Note.session_id, func.max(Note.created_at))
            .join(TherapySession, TherapySession.id == Note.session_id)
            .where(TherapySession.owner_id == self.user_id, Note.session_id.in_(list(session_ids)))
            .group_by(Note.session_id)
        ).all()
        return {session_id: written for session_id, written in rows if written is not None}

    def line_starts(self, session_id: uuid.UUID, indexes: Collection[int]) -> dict[int, float]:
        """Where these transcript lines of a session of mine start in the recording (seconds)."""
        self._owned_session(session_id)
        if not indexes:
            return {}
        rows = self.s.execute(
            select(TranscriptSegment.idx, TranscriptSegment.start_s).where(
                TranscriptSegment.session_id == session_id, TranscriptSegment.idx.in_(list(indexes))
            )
        ).all()
        return {int(idx): float(start) for idx, start in rows}

    def latest_states(self, session_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The status (draft | signed) of the latest note of each of these sessions of mine; sessions with no note,
        or someone else's, are left out. One query for a whole list."""
        if not session_ids:
            return {}
        latest = (
            select(Note.session_id.label("session_id"), func.max(Note.version).label("version"))
            .join(TherapySession, TherapySession.id == Note.session_id)
            .where(TherapySession.owner_id == self.user_id, Note.session_id.in_(list(session_ids)))
            .group_by(Note.session_id)
            .subquery()
        )
        rows = self.s.execute(
            select(Note.session_id, Note.status).join(
                latest, and_(Note.session_id == latest.c.session_id, Note.version == latest.c.version)
            )
        ).all()
        return {session_id: str(status) for session_id, status in rows}

    def flag_reviews(self, note_id: uuid.UUID) -> dict[tuple[str, int], tuple[str | None, datetime]]:
        """The reviewed flags of a note version of mine: (kind, line or -1) → (reviewer's name, when)."""
        rows = self.s.execute(
            select(RiskFlagReview.flag_kind, RiskFlagReview.segment_idx, User.display_name, RiskFlagReview.reviewed_at)
            .join(Note, Note.id == RiskFlagReview.note_id)
            .join(TherapySession, TherapySession.id == Note.session_id)
            .outerjoin(User, User.id == RiskFlagReview.reviewed_by)
            .where(RiskFlagReview.note_id == note_id, TherapySession.owner_id == self.user_id)
        ).all()
        return {(kind, int(idx)): (name, at) for kind, idx, name, at in rows}

    def add_flag_review(self, note: Note, kind: str, segment_idx: int | None, reviewer: uuid.UUID) -> bool:
        """Mark a flag of ``note`` (a note of mine, as ``get`` returned it) reviewed; False when it already was."""
        self._owned_session(note.session_id)
        idx = -1 if segment_idx is None else int(segment_idx)
        found = self.s.scalar(
            select(RiskFlagReview.id).where(
                RiskFlagReview.note_id == note.id, RiskFlagReview.flag_kind == kind, RiskFlagReview.segment_idx == idx
            )
        )
        if found is not None:
            return False
        self.s.add(RiskFlagReview(note_id=note.id, flag_kind=kind, segment_idx=idx, reviewed_by=reviewer))
        self.s.flush()
        return True


class SystemNoteWriter:
    """Writes a generated note as a new version, with its risk flags (system-level: the processing runner)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def add_version(
        self,
        session_id: uuid.UUID,
        template_id: uuid.UUID | None,
        sections: dict[str, Any],
        generator: str,
        *,
        removed_statements: int = 0,
        warnings: Sequence[str] = (),
    ) -> Note:
        latest = self.s.scalar(select(func.max(Note.version)).where(Note.session_id == session_id))
        note = Note(
            session_id=session_id,
            template_id=template_id,
            version=int(latest or 0) + 1,
            sections=sections,
            status="draft",
            generator=generator,
            removed_statements=int(removed_statements),
            warnings=[str(w) for w in warnings],
        )
        self.s.add(note)
        self.s.flush()
        return note

    def replace_flags(self, session_id: uuid.UUID, flags: Sequence[dict[str, Any]]) -> None:
        self.s.execute(delete(RiskFlag).where(RiskFlag.session_id == session_id))
        for flag in flags:
            self.s.add(
                RiskFlag(
                    session_id=session_id,
                    kind=str(flag["kind"]),
                    severity=str(flag["severity"]),
                    quote=str(flag["quote"]),
                    segment_idx=flag.get("segment_idx"),
                    source=str(flag.get("source") or "rules"),
                    detail=str(flag.get("detail") or "")[:200],
                )
            )
        self.s.flush()
