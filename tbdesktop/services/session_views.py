"""How a session is shown to its owner (the ``SessionInfo`` the session services return) and the owner's consent
setting: shared by SessionService and the collaborators it holds (lifecycle, speaker editing)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from tbdesktop.policy import Policy
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
    """The session as its owner ``user`` sees it: client name, risk badges, whether its note is out of date, and
    the state of its latest note."""
    return describe_all(s, user, [row])[0]


def describe_all(s: Session, user: UserInfo, rows: Sequence[TherapySession]) -> list[SessionInfo]:
    """Each of ``rows`` as ``describe`` shows it, with a fixed number of queries for the whole list."""
    repo = SessionRepository(s, user.id)
    notes = NoteRepository(s, user.id)
    ids = {r.id for r in rows}
    names = repo.client_names({r.client_id for r in rows if r.client_id})
    flags = repo.risk_summary(ids)
    due = regeneration_due_among(notes, rows)
    states = notes.latest_states(ids)
    return [
        replace(
            session_info(
                r,
                owner_name=user.display_name,
                client_name=names.get(r.client_id) if r.client_id else None,
                flags=flags.get(r.id, []),
                needs_regeneration=r.id in due,
            ),
            note_state=states.get(r.id),
        )
        for r in rows
    ]


def consent_required(s: Session, user_id: uuid.UUID, policy: Policy) -> bool:
    """Whether a session needs recorded consent before it is processed: the clinic policy (``ctx.settings.policy``)
    or the user's own setting (on by default)."""
    user = UserRepository(s).get(user_id)
    return policy.requires_consent(bool((user.settings or {}).get("consent_required", True)))
