"""Clinic sync between workstations through a real PostgreSQL server (a private cluster with SCRAM logins and
row-level security): what reaches the other workstation, who wins a conflict, and that faults lose nothing and
double nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from clinic_support import PASSWORDS, Clinic, add_session, shared_session
from sqlalchemy import select, text

from tbdesktop.errors import PermissionDeniedError, ValidationError
from tbdesktop.services.notes import NoteService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.sync import pull as pull_module
from tbdesktop.services.sync import push as push_module
from tbdesktop.services.sync.schema_check import SchemaMismatchError
from tbdesktop.services.sync.service import ClinicSignInError, ClinicUnreachableError
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import (
    AuditEvent,
    Note,
    NoteAddendum,
    NoteTemplate,
    RiskFlag,
    SyncConflict,
    SyncOutbox,
    TherapySession,
    TranscriptSegment,
    User,
)

pytestmark = pytest.mark.postgres

T1 = "t1@clinic.example"
T2 = "t2@clinic.example"
PM = "pm@clinic.example"
TEMPLATE = {"sections": [{"key": "summary", "title": "Summary", "instructions": "What happened."}]}


def _section(ws: Any, note_id: uuid.UUID, key: str) -> str:
    with ws.ctx.db.unit_of_work() as s:
        note = s.get(Note, note_id)
        assert note is not None
        return str(note.sections[key]["text"])


def _note_id(ws: Any, session_id: uuid.UUID) -> uuid.UUID:
    with ws.ctx.db.unit_of_work() as s:
        return s.scalars(select(Note.id).where(Note.session_id == session_id)).one()


def test_profile_data_from_before_joining_reaches_a_second_workstation(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    b = workstations("Room 4")
    # a local profile with the same email, used before the clinic existed: the server adopts its id
    local = a.ctx.db
    with local.unit_of_work() as s:
        s.add(User(display_name="T1", email=T1))
    with local.unit_of_work() as s:
        user_id = s.scalars(select(User.id).where(User.email == T1)).one()
    session_id = add_session(a, user_id)
    with a.ctx.db.unit_of_work() as s:
        s.add(RiskFlag(session_id=session_id, kind="passive_si", severity="high", quote="Line 1"))

    joined = a.join(clinic, T1)
    assert joined.id == user_id
    assert clinic.count("therapy_sessions") == 1 and clinic.count("transcript_segments") == 3
    assert a.sync.pending() == 0

    b_user = b.join(clinic, T1)
    assert b_user.id == user_id
    with b.ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        assert row.recording_host == "Room 2" and row.recording_path is None and row.recording_key is None
        assert row.ai_summary == "Discussed sleep and work stress."
        assert [seg.text for seg in row.segments] == [f"Line {i} about sleep and work." for i in range(3)]
        assert s.scalars(select(RiskFlag.kind).where(RiskFlag.session_id == session_id)).all() == ["passive_si"]
    note = NoteService(b.ctx, b_user).get_sync(session_id)
    assert {sec.key: sec.text for sec in note.sections}["plan"] == "Meet next week."
    # the recording stays on Room 2: Room 4 says where it is instead of failing vaguely
    with pytest.raises(ValidationError, match="kept on Room 2"):
        SessionService(b.ctx, b_user).open_recording_sync(session_id)
    # the server never holds a recording or its key
    assert clinic.count("therapy_sessions", "WHERE recording_path IS NOT NULL OR recording_key IS NOT NULL") == 0


def test_an_edit_on_one_workstation_is_seen_on_the_other(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "Meet in two weeks; sleep diary.")
    SessionService(b.ctx, b_user).fix_segment_sync(session_id, 1, text="Line 1, corrected on Room 4.")
    assert b.sync.pending() > 0
    b.sync.sync_now()
    a.sync.sync_now()
    note_id = _note_id(a, session_id)
    assert _section(a, note_id, "plan") == "Meet in two weeks; sleep diary."
    with a.ctx.db.unit_of_work() as s:
        seg = s.get(TranscriptSegment, (session_id, 1))
        assert seg is not None and seg.text == "Line 1, corrected on Room 4."
    # what came from the server is not sent back: nothing waits on A
    assert a.sync.pending() == 0
    assert a.sync.status().state == "synced"


def test_a_delete_wins_over_an_offline_edit(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    # B edits while offline (not synced yet); A deletes the session and syncs first
    NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "Offline plan")
    SessionService(a.ctx, user).delete_session_sync(session_id)
    a.sync.sync_now()
    report = b.sync.sync_now()
    assert report.dropped_deleted >= 1
    assert b.count(TherapySession) == 0 and b.count(TranscriptSegment) == 0 and b.count(Note) == 0
    assert clinic.count("therapy_sessions") == 0 and clinic.count("notes") == 0
    assert b.sync.pending() == 0


def test_concurrent_edits_of_one_section_keep_the_losing_text(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    NoteService(a.ctx, user).update_section_sync(session_id, "subjective", "A: sleeps five hours.")
    NoteService(b.ctx, b_user).update_section_sync(session_id, "subjective", "B: sleeps badly.")
    NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "B: sleep diary.")
    a.sync.sync_now()
    report = b.sync.sync_now()  # B arrives last: its text wins, A's is kept in a conflict record
    assert report.conflicts == 1
    a.sync.sync_now()
    note_id = _note_id(a, session_id)
    for ws in (a, b):
        assert _section(ws, note_id, "subjective") == "B: sleeps badly."
        assert _section(ws, note_id, "plan") == "B: sleep diary."
        conflicts = ws.sync.conflicts(user.id, session_id)
        assert [(c.field, c.kept_text, c.lost_text) for c in conflicts] == [
            ("sections.subjective", "B: sleeps badly.", "A: sleeps five hours.")
        ]
    assert a.sync.status().state == "conflicts"
    # restored on A: the restored text is an edit like any other, and reaches B
    a.sync.resolve_conflict(user.id, a.sync.conflicts(user.id, session_id)[0].id, "restore")
    shown = {sec.key: sec for sec in NoteService(a.ctx, user).get_sync(session_id).sections}["subjective"]
    assert shown.text == "A: sleeps five hours." and shown.edited
    assert [sentence.text for sentence in shown.sentences] == ["A: sleeps five hours."]
    a.sync.sync_now()
    b.sync.sync_now()
    assert _section(b, note_id, "subjective") == "A: sleeps five hours."
    assert b.sync.conflicts(user.id, session_id) == []


def test_concurrent_edits_of_different_sections_merge_without_conflict(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    NoteService(a.ctx, user).update_section_sync(session_id, "subjective", "Edited on A")
    NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "Edited on B")
    a.sync.sync_now()
    assert b.sync.sync_now().conflicts == 0
    a.sync.sync_now()
    note_id = _note_id(a, session_id)
    for ws in (a, b):
        assert (_section(ws, note_id, "subjective"), _section(ws, note_id, "plan")) == ("Edited on A", "Edited on B")


def test_concurrent_transcript_line_edits_keep_the_losing_text(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    SessionService(a.ctx, user).fix_segment_sync(session_id, 2, text="Heard on A.")
    SessionService(b.ctx, b_user).fix_segment_sync(session_id, 2, text="Heard on B.")
    b.sync.sync_now()
    assert a.sync.sync_now().conflicts == 1
    b.sync.sync_now()
    [conflict] = b.sync.conflicts(user.id, session_id)
    assert (conflict.field, conflict.kept_text, conflict.lost_text) == ("text", "Heard on A.", "Heard on B.")
    b.sync.resolve_conflict(user.id, conflict.id, "dismiss")
    b.sync.sync_now()
    a.sync.sync_now()
    assert a.sync.conflicts(user.id, session_id) == []


def test_an_offline_edit_of_a_note_signed_elsewhere_becomes_an_addendum_draft(
    clinic: Clinic, workstations: Any
) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    NoteService(a.ctx, user).sign_sync(session_id)
    NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "Plan written offline on B.")
    a.sync.sync_now()
    assert b.sync.sync_now().conflicts == 1
    note_id = _note_id(b, session_id)
    with b.ctx.db.unit_of_work() as s:
        note = s.get(Note, note_id)
        assert note is not None and note.status == "signed"
        assert note.sections["plan"]["text"] == "Meet next week."  # the signed text, everywhere
    [kept] = b.sync.conflicts(user.id, session_id)
    assert kept.kind == "signed_elsewhere" and kept.lost_text == "Plan written offline on B."
    assert kept.lost_workstation == "Room 4"
    with pytest.raises(ValidationError):
        b.sync.resolve_conflict(user.id, kept.id, "restore")
    b.sync.resolve_conflict(user.id, kept.id, "addendum")
    b.sync.sync_now()
    a.sync.sync_now()
    with a.ctx.db.unit_of_work() as s:
        assert s.scalars(select(NoteAddendum.text).where(NoteAddendum.note_id == note_id)).all() == [
            "Plan written offline on B."
        ]
    assert clinic.count("notes", "WHERE status = 'signed'") == 1


def test_a_duplicated_push_changes_nothing_twice(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    user = a.join(clinic, T1)
    add_session(a, user.id, lines=20)
    with a.ctx.db.engine.connect() as conn:
        queued = conn.execute(text("SELECT * FROM sync_outbox ORDER BY seq")).all()
    assert len(queued) >= 23
    a.sync.sync_now()
    before = {t: clinic.count(t) for t in ("transcript_segments", "notes", "audit_events", "therapy_sessions")}
    # as if the app died after the server committed and before the outbox was trimmed: the same ops again
    with a.ctx.db.engine.begin() as conn:
        for row in queued:
            conn.execute(
                text(
                    "INSERT INTO sync_outbox (seq, owner_id, table_name, row_key, op, fields, old, schema_rev, "
                    "created_at) VALUES (:seq, :owner_id, :table_name, :row_key, :op, :fields, :old, :schema_rev, "
                    ":created_at)"
                ),
                dict(row._mapping),
            )
    report = a.sync.sync_now()
    assert report.pushed == 0
    assert {t: clinic.count(t) for t in before} == before
    assert a.sync.pending() == 0


def test_server_stopped_mid_push_and_mid_pull_loses_and_doubles_nothing(
    clinic: Clinic, clinic_cluster: Any, workstations: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = workstations("Room 2"), workstations("Room 4")
    user = a.join(clinic, T1)
    b.join(clinic, T1)
    for _ in range(3):
        add_session(a, user.id, lines=30)
    waiting = a.sync.pending()
    monkeypatch.setattr(push_module, "BATCH_OPS", 20)
    real_batch = push_module.push_batch
    calls = {"n": 0}

    def stop_after_first(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            clinic_cluster.stop()
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(push_module, "push_batch", stop_after_first)
    try:
        with pytest.raises(ClinicUnreachableError):
            a.sync.sync_now()
    finally:
        clinic_cluster.start()
    assert 0 < a.sync.pending() < waiting  # the first batch landed, the rest waits
    assert a.sync.status().state == "offline"
    monkeypatch.setattr(push_module, "push_batch", real_batch)
    a.sync.sync_now()
    assert a.sync.pending() == 0

    # mid-pull: the server goes away after B read the snapshot position, before the rows
    real_fetch = pull_module.fetch

    def stop_then_fetch(server: Any, *args: Any) -> Any:
        clinic_cluster.stop()
        return real_fetch(server, *args)

    monkeypatch.setattr(pull_module, "fetch", stop_then_fetch)
    try:
        with pytest.raises(ClinicUnreachableError):
            b.sync.sync_now()
    finally:
        clinic_cluster.start()
    assert b.count(TherapySession) == 0
    monkeypatch.setattr(pull_module, "fetch", real_fetch)
    b.sync.sync_now()
    for table, model in (("therapy_sessions", TherapySession), ("transcript_segments", TranscriptSegment)):
        assert b.count(model) == a.count(model) == clinic.count(table)
    assert clinic.count("transcript_segments") == 90 and clinic.count("notes") == 3


def test_clinic_template_reaches_every_workstation_and_only_a_manager_writes_it(
    clinic: Clinic, workstations: Any
) -> None:
    office, room = workstations("Office"), workstations("Room 2")
    pm = office.join(clinic, PM)
    template = TemplateService(office.ctx, pm).create_sync("Intake (clinic)", TEMPLATE, clinic_wide=True)
    office.sync.sync_now()
    therapist = room.join(clinic, T1)
    names = [t.name for t in TemplateService(room.ctx, therapist).list_sync()]
    assert "Intake (clinic)" in names
    with pytest.raises(PermissionDeniedError):
        TemplateService(room.ctx, therapist).update_sync(template.id, name="Changed by a therapist")
    # even a change that went around the app's check is refused by the server and counted
    with room.ctx.db.unit_of_work() as s:
        s.execute(
            text("INSERT INTO sync_outbox (owner_id, table_name, row_key, op, fields, old, schema_rev) VALUES "
                 "(:o, 'note_templates', :k, 'upsert', NULL, NULL, "
                 "(SELECT version_num FROM alembic_version))"),
            {"o": therapist.id.hex, "k": json.dumps({"id": template.id.hex})},
        )  # fmt: skip
        s.execute(text("UPDATE note_templates SET name = 'Forged' WHERE id = :i"), {"i": template.id.hex})
    report = room.sync.sync_now()
    assert report.rejected == 1
    assert clinic.sql("SELECT name FROM note_templates WHERE id = :i", i=template.id)[0][0] == "Intake (clinic)"
    assert room.sync.status().rejected == 1
    # and this workstation shows the clinic's version again, not the refused change
    assert TemplateService(room.ctx, therapist).get_sync(template.id).name == "Intake (clinic)"


def test_a_clinician_never_receives_another_clinicians_rows(clinic: Clinic, workstations: Any) -> None:
    a, c = workstations("Room 2"), workstations("Room 5")
    t1 = a.join(clinic, T1)
    add_session(a, t1.id)
    a.sync.sync_now()
    t2 = c.join(clinic, T2)
    assert c.count(TherapySession) == 0 and c.count(TranscriptSegment) == 0 and c.count(Note) == 0
    # the directory (names and roles) is shared; passwords are never stored anywhere in it
    with c.ctx.db.unit_of_work() as s:
        emails = set(s.scalars(select(User.email)))
        assert {T1, T2, PM} <= emails
        assert s.scalars(select(User.password_hash).where(User.id == t1.id)).one() is None
    assert t2.id != t1.id


def test_schema_revision_mismatch_pauses_sync_and_keeps_changes(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    user = a.join(clinic, T1)
    add_session(a, user.id)
    waiting = a.sync.pending()
    (rev,) = clinic.sql("SELECT version_num FROM alembic_version")[0]
    clinic.sql("UPDATE alembic_version SET version_num = '9999_newer_release'")
    try:
        with pytest.raises(SchemaMismatchError, match="update TherapyBridge on this workstation"):
            a.sync.sync_now()
        status = a.sync.status()
        assert status.state == "paused" and "this workstation" in status.text
        assert a.sync.pending() == waiting
    finally:
        clinic.sql("UPDATE alembic_version SET version_num = :r", r=rev)
    # an op written under a revision the server does not have yet
    with a.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE sync_outbox SET schema_rev = '9999_newer_release'"))
    with pytest.raises(SchemaMismatchError, match="update TherapyBridge on the server"):
        a.sync.sync_now()
    assert a.sync.pending() == waiting
    with a.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE sync_outbox SET schema_rev = :r"), {"r": rev})
    a.sync.sync_now()
    assert a.sync.pending() == 0 and a.sync.status().state == "synced"


def test_wrong_password_and_unreachable_server_are_clear(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    with pytest.raises(ClinicSignInError, match="did not accept the password"):
        a.sync.join(clinic.url, T1, "not-the-password")
    closed = clinic.url.rsplit(":", 1)[0] + ":1/" + clinic.url.rsplit("/", 1)[1]
    with pytest.raises(ClinicUnreachableError, match="Could not reach the clinic server"):
        a.sync.join(closed, T1, PASSWORDS[T1])
    assert a.sync.status().state == "off"


def test_leave_refuses_while_changes_wait_and_wipe_removes_local_data(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    user = a.join(clinic, T1)
    add_session(a, user.id)
    with pytest.raises(ValidationError, match="have not reached the clinic server"):
        a.sync.leave(user.id)
    a.sync.sync_now()
    a.sync.leave(user.id, wipe=True)
    assert a.count(TherapySession) == 0 and a.count(SyncOutbox) == 0
    assert a.sync.status().state == "off"
    assert clinic.count("therapy_sessions") == 1  # the clinic keeps it
    # joining again brings it back
    a.join(clinic, T1)
    assert a.count(TherapySession) == 1


def test_audit_events_are_appended_to_the_clinic_log(clinic: Clinic, workstations: Any) -> None:
    a = workstations("Room 2")
    user = a.join(clinic, T1)
    session_id = add_session(a, user.id)
    SessionService(a.ctx, user).set_anonymous_sync(session_id, True)
    a.sync.sync_now()
    actions = {r[0] for r in clinic.sql("SELECT action FROM audit_events WHERE user_id = :u", u=user.id)}
    assert {"clinic.join", "session.anonymous_on"} <= actions
    local = a.count(AuditEvent, AuditEvent.user_id == user.id)
    assert clinic.count("audit_events", f"WHERE user_id = '{user.id}'") == local
    assert a.count(SyncConflict) == 0
    assert clinic.count("therapy_sessions", "WHERE is_anonymous") == 1
    assert a.count(NoteTemplate, NoteTemplate.builtin.is_(False)) == 0


def test_two_offline_note_versions_with_one_number_are_both_kept(clinic: Clinic, workstations: Any) -> None:
    a, b, user, _, session_id = shared_session(clinic, workstations)
    made = {}
    for ws in (a, b):  # each writes version 2 while the other cannot see it (as a regeneration would)
        with ws.ctx.db.unit_of_work() as s:
            note = Note(session_id=session_id, version=2, sections={"plan": {"text": f"From {ws.name}"}})
            s.add(note)
            s.flush()
            made[ws.name] = note.id
    a.sync.sync_now()
    b.sync.sync_now()
    a.sync.sync_now()
    expected = {made["Room 2"]: 2, made["Room 4"]: 3}
    for ws in (a, b):
        with ws.ctx.db.unit_of_work() as s:
            versions = dict(s.execute(select(Note.id, Note.version).where(Note.session_id == session_id)).all())
        assert {k: v for k, v in versions.items() if k in expected} == expected
        assert sorted(versions.values()) == [1, 2, 3]
    assert clinic.count("notes") == 3
