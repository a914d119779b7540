"""Marking a risk flag reviewed: stored per note version and flag, owner-only, audited without the quote; and the
note state every session listing carries (Draft / Signed / none) — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select
from tests_support import session_with_transcript

from tbdesktop.errors import NotFoundError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import AuditEvent, RiskFlagReview
from tbdesktop.store.note_repositories import SystemNoteWriter

LINES = [
    ("therapist", "How was the week?"),
    ("client", "Some nights I cut my arm when it gets too much."),
    ("therapist", "Have you had thoughts of ending your life?"),
    ("client", "No, never, I would not do that."),
]
QUOTE = "I cut my arm when it gets too much"
FLAGS = [
    {"kind": "self_harm", "severity": "high", "quote": QUOTE, "segment_idx": 1, "source": "rules", "detail": ""},
    {
        "kind": "suicidal_ideation",
        "severity": "denied",
        "quote": "No, never, I would not do that.",
        "segment_idx": 3,
        "source": "rules",
        "detail": "",
    },
]


@pytest.fixture
def db_ctx(db_url: str, make_settings: Any) -> Iterator[AppContext]:
    ctx = AppContext.open(make_settings(database_url=db_url if db_url.startswith("postgresql") else ""))
    yield ctx
    ctx.close()


def _write_note(ctx: AppContext, user: UserInfo, session_id: uuid.UUID) -> None:
    soap = TemplateService(ctx, user).get_sync("SOAP")
    sections = stored_sections(
        {"sections": [{"key": "subjective", "title": "Subjective", "sentences": [{"text": "Cuts.", "evidence": [1]}]}]}
    )
    with ctx.db.unit_of_work() as s:
        writer = SystemNoteWriter(s)
        writer.add_version(session_id, soap.id, sections, "local")
        writer.replace_flags(session_id, FLAGS)


def test_a_flag_review_is_stored_per_version_owner_only_and_audited_without_the_quote(
    db_ctx: AppContext, audio_files: dict[str, Any]
) -> None:
    ctx = db_ctx
    me = ProfileService(ctx).create_profile_sync("Dr. Ana Ortiz", "ana@clinic.test")
    other = ProfileService(ctx).create_profile_sync("Dr. Ben Cole", "ben@clinic.test")
    info = session_with_transcript(ctx, me, audio_files["session"], LINES)
    _write_note(ctx, me, info.id)
    notes = NoteService(ctx, me)

    flags = notes.risk_flags_sync(info.id)
    assert [(f.kind, f.reviewed) for f in flags] == [("self_harm", False), ("suicidal_ideation", False)]
    assert flags[0].start_s == 5.0 and flags[1].denied  # the line's time in the recording

    flags = notes.mark_flag_reviewed_sync(info.id, "self_harm", 1)
    reviewed = next(f for f in flags if f.kind == "self_harm")
    assert reviewed.reviewed_by == "Dr. Ana Ortiz" and reviewed.reviewed_at is not None
    assert not next(f for f in flags if f.kind == "suicidal_ideation").reviewed
    assert notes.risk_flags_sync(info.id)[0].reviewed  # read back from the database

    # Marking it again changes nothing and writes no second audit event.
    notes.mark_flag_reviewed_sync(info.id, "self_harm", 1)
    with ctx.db.unit_of_work() as s:
        rows = s.scalars(select(RiskFlagReview)).all()
        assert len(rows) == 1 and rows[0].flag_kind == "self_harm" and rows[0].segment_idx == 1
        assert rows[0].reviewed_by == me.id
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "note.flag_review")).all()
        assert len(events) == 1
        event = events[0]
        assert event.user_id == me.id and event.object_type == "risk_flag:self_harm" and event.at is not None
        assert all("cut" not in str(v).lower() for v in (event.action, event.object_type, event.object_id))

    # A flag the note does not have, and someone else's session: refused.
    with pytest.raises(NotFoundError):
        notes.mark_flag_reviewed_sync(info.id, "harm_to_others", 1)
    with pytest.raises(NotFoundError):
        NoteService(ctx, other).mark_flag_reviewed_sync(info.id, "suicidal_ideation", 3)
    with pytest.raises(NotFoundError):
        NoteService(ctx, other).risk_flags_sync(info.id)

    # A new version of the note brings its flags up for review again.
    _write_note(ctx, me, info.id)
    assert not any(f.reviewed for f in notes.risk_flags_sync(info.id))


def test_sessions_carry_the_state_of_their_latest_note(db_ctx: AppContext, audio_files: dict[str, Any]) -> None:
    ctx = db_ctx
    me = ProfileService(ctx).create_profile_sync("Dr. Ana Ortiz", "ana@clinic.test")
    sessions = SessionService(ctx, me)
    with_note = session_with_transcript(ctx, me, audio_files["session"], LINES)
    without = session_with_transcript(ctx, me, audio_files["session"], LINES)
    _write_note(ctx, me, with_note.id)

    states = {s.id: s.note_state for s in sessions.list_sessions_sync()}
    assert states == {with_note.id: "draft", without.id: None}
    NoteService(ctx, me).sign_sync(with_note.id)
    assert sessions.get_sync(with_note.id).note_state == "signed"
    assert {s.id: s.note_state for s in sessions.list_sessions_sync()}[with_note.id] == "signed"
    _write_note(ctx, me, with_note.id)  # a newer draft version is what the card shows
    assert sessions.get_sync(with_note.id).note_state == "draft"


def test_the_reviews_table_migrates_up_and_down(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine)
        assert "risk_flag_reviews" in inspect(db.engine).get_table_names()
        migrate.downgrade(db.engine, "0008_clinic_sync")
        assert "risk_flag_reviews" not in inspect(db.engine).get_table_names()
        migrate.upgrade(db.engine)
        columns = {c["name"] for c in inspect(db.engine).get_columns("risk_flag_reviews")}
        assert {"note_id", "flag_kind", "segment_idx", "reviewed_by", "reviewed_at"} <= columns
    finally:
        db.dispose()
