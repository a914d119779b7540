"""How a session is shown to its owner (the ``SessionInfo`` the session services return) and the owner's consent
setting: shared by SessionService and the collaborators it holds (lifecycle, speaker editing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from tbdesktop.services.convert import session_info
from tbdesktop.services.dto import SessionInfo, UserInfo
from tbdesktop.store.models import TherapySession
from tbdesktop.store.note_repositories import NoteRepository
from tbdesktop.store.repositories import SessionRepository, UserRepository


def regeneration_due_among(notes: NoteRepository, rows: Sequence[TherapySession]) -> set[uuid.UUID]:
    """Of these sessions, those whose latest note predates the last change of who said what (one query)."""
    edited = {row.id: row.transcript_edited_at for row in rows if row.transcript_edited_at is not None}
    if not edited:
        return set()
    due = set()
    for session_id, written in notes.latest_written(edited).items():
        changed: datetime | None = edited.get(session_id)
        if changed is None:
            continue
        if written.tzinfo is None and changed.tzinfo is not None:  # SQLite reads back naive values through max()
            changed = changed.replace(tzinfo=None)
        if written < changed:
            due.add(session_id)
    return due


def describe(s: Session, user: UserInfo, row: TherapySession) -> SessionInfo:
    """The session as its owner ``user`` sees it: client name, risk badges, whether its note is out of date."""
    repo = SessionRepository(s, user.id)
    names = repo.client_names({row.client_id} if row.client_id else set())
    return session_info(
        row,
        owner_name=user.display_name,
        client_name=names.get(row.client_id) if row.client_id else None,
        flags=repo.risk_summary({row.id}).get(row.id, []),
        needs_regeneration=row.id in regeneration_due_among(NoteRepository(s, user.id), [row]),
    )


def consent_required(s: Session, user_id: uuid.UUID) -> bool:
    """The user's setting: whether a session needs recorded consent before it is processed (on by default)."""
    user = UserRepository(s).get(user_id)
    return bool((user.settings or {}).get("consent_required", True))
