"""Clinic mode in a session and on the Templates page: conflicts to review above the notes, a recording kept on
another workstation, and clinic templates a therapist may not change. Real widgets, real SQLite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver, make_window, open_session_view, show_session

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import (
    Client,
    Note,
    NoteAddendum,
    ProcessingStatus,
    SyncConflict,
    TherapySession,
    TranscriptSegment,
)
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.store.repositories import SystemSegmentWriter
from tbdesktop.ui.sessions_page.menu import SessionContextMenu
from tbdesktop.ui.templates import CLINIC_READ_ONLY, TemplatesPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[[QWidget, str], Path]
LINES = [
    ("therapist", "Good morning Jordan, how has your week been?"),
    ("client", "Busy at work, but I have been sleeping better since I started the breathing exercise."),
    ("therapist", "For homework, practise the breathing exercise every night before bed."),
]
LOST_PLAN = "Practise the breathing exercise each night; bring the sleep diary next week."
LOST_LINE = "Busy at work, but I have been sleeping much better since the breathing exercise."


def synced_session(ctx: AppContext, user: UserInfo, **row: Any) -> uuid.UUID:
    """A processed session as a pull from the clinic server leaves it: transcript and a draft SOAP note, no file."""
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.local import LocalNoteGenerator

    soap = TemplateService(ctx, user).get_sync("SOAP")
    lines = [TranscriptLine(i, i * 5.0, i * 5.0 + 4.5, "S", role, text) for i, (role, text) in enumerate(LINES)]
    note = LocalNoteGenerator().generate(lines, NoteTemplateSpec.from_content("SOAP", soap.content()))
    with ctx.db.unit_of_work() as s:
        client = Client(owner_id=user.id, name="Jordan Lee")
        s.add(client)
        s.flush()
        session = TherapySession(
            owner_id=user.id,
            client_id=client.id,
            session_date=date(2026, 12, 3),
            duration_mins=50.0,
            processing_status=ProcessingStatus.COMPLETED,
            speakers={"SPEAKER_00": {"role": "therapist"}, "SPEAKER_01": {"role": "client"}},
            **row,
        )
        s.add(session)
        s.flush()
        SystemSegmentWriter(s).replace(
            session.id,
            [
                TranscriptSegment(
                    session_id=session.id,
                    idx=i,
                    start_s=i * 5.0,
                    end_s=i * 5.0 + 4.5,
                    speaker="SPEAKER_00" if role == "therapist" else "SPEAKER_01",
                    role=role,
                    text=text,
                    words=[],
                )
                for i, (role, text) in enumerate(LINES)
            ],
        )
        SystemNoteWriter(s).add_version(session.id, soap.id, stored_sections(note.to_dict()), note.generator)
        return session.id


def add_conflict(ctx: AppContext, user: UserInfo, session_id: uuid.UUID, **values: Any) -> uuid.UUID:
    with ctx.db.unit_of_work() as s:
        conflict = SyncConflict(owner_id=user.id, session_id=session_id, lost_workstation="Room 2", **values)
        s.add(conflict)
        s.flush()
        return conflict.id


def note_row(ctx: AppContext, session_id: uuid.UUID) -> Note:
    with ctx.db.unit_of_work() as s:
        note = s.scalars(select(Note).where(Note.session_id == session_id)).one()
        s.expunge(note)
        return note


def conflict_row(ctx: AppContext, conflict_id: uuid.UUID) -> SyncConflict:
    with ctx.db.unit_of_work() as s:
        row = s.get(SyncConflict, conflict_id)
        assert row is not None
        s.expunge(row)
        return row


@pytest.fixture
def sessions(ui_ctx: AppContext, therapist: UserInfo) -> SessionService:
    return SessionService(ui_ctx, therapist)


# -- conflicts -----------------------------------------------------------------------------------------------------


def test_restore_puts_the_replaced_text_back_and_resolves_the_conflict(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, sessions: SessionService, screenshot: Shot
) -> None:
    session_id = synced_session(ui_ctx, therapist)
    note = note_row(ui_ctx, session_id)
    plan_key = next(k for k, v in note.sections.items() if v["title"] == "Plan")
    kept_plan = note.sections[plan_key]["text"]
    on_note = add_conflict(
        ui_ctx,
        therapist,
        session_id,
        table_name="notes",
        row_key={"id": str(note.id)},
        field=f"sections.{plan_key}",
        kept_text=kept_plan,
        lost_text=LOST_PLAN,
    )
    on_line = add_conflict(
        ui_ctx,
        therapist,
        session_id,
        table_name="transcript_segments",
        row_key={"session_id": str(session_id), "idx": 1},
        field="text",
        kept_text=LINES[1][1],
        lost_text=LOST_LINE,
    )
    view = open_session_view(qtbot, sessions)
    aio.run(show_session(view, sessions, session_id))
    panel = view.conflict_panel
    aio.run(aio.until(lambda: len(panel.items) == 2, message="the conflicts"))
    assert panel.objectName() == "conflictPanel" and panel.isVisible()
    assert panel.title_label.text() == "2 conflicts to review"
    first, second = panel.items
    assert first.findChild(QWidget, "conflictWhat").text() == "Note · Plan"  # type: ignore[union-attr]
    assert LOST_PLAN.split(";")[0] in first.lost_label.text() and "Room 2" in first.lost_label.text()
    assert second.findChild(QWidget, "conflictWhat").text() == "Transcript · line at 00:05 (words)"  # type: ignore[union-attr]
    assert set(first.buttons) == {"restore", "dismiss"}
    screenshot(view, "conflict_panel")

    first.buttons["restore"].click()
    aio.run(aio.until(lambda: len(panel.items) == 1, message="the view to reload"))
    assert note_row(ui_ctx, session_id).sections[plan_key]["text"] == LOST_PLAN
    assert conflict_row(ui_ctx, on_note).resolved_at is not None
    assert conflict_row(ui_ctx, on_line).resolved_at is None

    panel.items[0].buttons["dismiss"].click()
    aio.run(aio.until(lambda: not panel.items and panel.isHidden(), message="the last conflict to go"))
    assert conflict_row(ui_ctx, on_line).resolved_at is not None
    assert aio.run(asyncio.to_thread(sessions.transcript_sync, session_id))[1].text == LINES[1][1]  # kept


def test_an_edit_of_a_note_signed_elsewhere_is_added_as_an_addendum(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, sessions: SessionService
) -> None:
    session_id = synced_session(ui_ctx, therapist)
    NoteService(ui_ctx, therapist).sign_sync(session_id)
    note = note_row(ui_ctx, session_id)
    conflict_id = add_conflict(
        ui_ctx,
        therapist,
        session_id,
        table_name="notes",
        row_key={"id": str(note.id)},
        field="sections.plan",
        kind="signed_elsewhere",
        kept_text="Continue the breathing exercise.",
        lost_text=LOST_PLAN,
    )
    view = open_session_view(qtbot, sessions)
    aio.run(show_session(view, sessions, session_id))
    panel = view.conflict_panel
    aio.run(aio.until(lambda: len(panel.items) == 1, message="the conflict"))
    item = panel.items[0]
    assert set(item.buttons) == {"addendum", "dismiss"}  # a signed note is never restored over
    item.buttons["addendum"].click()
    aio.run(aio.until(lambda: panel.isHidden(), message="the conflict to be resolved"))
    with ui_ctx.db.unit_of_work() as s:
        addenda = s.scalars(select(NoteAddendum).where(NoteAddendum.note_id == note.id)).all()
        assert [a.text for a in addenda] == [LOST_PLAN]
    assert conflict_row(ui_ctx, conflict_id).resolved_at is not None
    shown = view.notes_panel.note
    assert shown is not None and [a.text for a in shown.addenda] == [LOST_PLAN]


# -- a recording kept on another workstation -------------------------------------------------------------------


def test_a_recording_kept_on_another_workstation_is_named_not_played(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, sessions: SessionService, screenshot: Shot
) -> None:
    session_id = synced_session(ui_ctx, therapist, recording_path=None, recording_host="Room 2")
    info = sessions.get_sync(session_id)
    assert info.recording_host == "Room 2" and not info.recording_here and info.recording_elsewhere == "Room 2"
    view = open_session_view(qtbot, sessions)
    aio.run(show_session(view, sessions, session_id))
    assert view.elsewhere_label.objectName() == "recordingElsewhere"
    assert view.elsewhere_label.isVisible() and view.elsewhere_label.text() == "Recording kept on Room 2"
    assert view.player.isHidden() and not view.player.loaded and view.recording_path is None
    assert view.rows() and "Good morning" in view.transcript.toPlainText()  # transcript and notes as usual
    assert view.notes_panel.note is not None
    assert not view.speaker_actions.rediarize_button.isEnabled()
    assert "Room 2" in view.speaker_actions.rediarize_button.toolTip()
    menu = SessionContextMenu(info)
    assert not menu.delete_recording_action.isEnabled()
    assert menu.delete_recording_action.toolTip() == "The recording is kept on Room 2"
    menu.deleteLater()
    screenshot(view, "recording_elsewhere")

    # Kept here (the file is on this workstation), or deleted: no such line.
    with ui_ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        row.recording_path = "recording.enc"
    here = sessions.get_sync(session_id)
    assert here.recording_here and here.recording_elsewhere is None
    with ui_ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        row.delete_recording()
    assert sessions.get_sync(session_id).recording_elsewhere is None


# -- clinic templates --------------------------------------------------------------------------------------------


def test_a_clinic_template_is_read_only_for_a_therapist_and_editable_for_a_manager(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    manager = ProfileService(ui_ctx).create_profile_sync("Pat Lee", "pat.lee@clinic.test", "practice_manager")
    content = {"sections": [{"key": "plan", "title": "Plan", "instructions": "Next steps agreed."}]}
    TemplateService(ui_ctx, manager).create_sync("Clinic intake", content, clinic_wide=True)

    def page_for(user: UserInfo) -> TemplatesPage:
        page = TemplatesPage(AppServices.compose(ui_ctx, user))
        qtbot.addWidget(page)
        page.resize(1024, 700)
        page.show()
        aio.run(aio.until(lambda: bool(page.templates()), message="the templates"))
        shared = next(t for t in page.templates() if t.name == "Clinic intake")
        assert page.select(shared.id)
        return page

    page = page_for(therapist)
    assert page.scope_label.text() == f"{CLINIC_READ_ONLY} · read-only"
    assert not page.edit_button.isEnabled() and not page.delete_button.isEnabled()
    page.edit_selected()
    assert page.editor is None

    managers = page_for(manager)
    assert CLINIC_READ_ONLY not in managers.scope_label.text()
    assert managers.edit_button.isEnabled()
    managers.edit_selected()
    aio.run(aio.until(lambda: managers.editor is not None and managers.editor.isVisible(), message="the editor"))
    assert managers.editor is not None and not managers.editor.name_edit.isReadOnly()
    managers.editor.reject()


# -- what a sync brings in ------------------------------------------------------------------------------------------


def test_a_pulled_sync_refreshes_the_list_and_the_open_session(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, sessions: SessionService
) -> None:
    import threading

    from tbdesktop.services.sync.service import SyncReport, SyncService
    from tbdesktop.ui.clinic_link import ClinicLink

    class Idle:
        def add_listener(self, listener: Any) -> Any:
            return lambda: None

        def wake(self) -> None:
            pass

        async def cancel(self, session_id: Any) -> bool:
            return False

    link = ClinicLink(SyncService(ui_ctx), therapist)
    window = make_window(qtbot, ui_ctx, therapist, Idle(), size=(1180, 720), sessions=sessions, clinic=link)
    aio.run(window.refresh())

    def report_from_the_sync_thread(**counts: int) -> None:
        thread = threading.Thread(target=link.loop_report, args=(SyncReport(**counts),))
        thread.start()
        thread.join()

    session_id = synced_session(ui_ctx, therapist, recording_path=None, recording_host="Room 2")  # as pulled
    assert window.sessions_page.card(session_id) is None
    report_from_the_sync_thread(pulled=4)
    aio.run(aio.until(lambda: window.sessions_page.card(session_id) is not None, message="the pulled session"))

    aio.run(window.open_session(session_id))
    assert window.stack.currentWidget() is window.session_view
    with ui_ctx.db.unit_of_work() as s:
        line = s.get(TranscriptSegment, (session_id, 0))
        assert line is not None
        line.text = "Good morning Jordan, how was the week?"  # written on another workstation
    report_from_the_sync_thread(pulled=1)
    aio.run(aio.until(lambda: "how was the week?" in view_text(window), message="the open session to reload"))

    with ui_ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        s.delete(row)  # deleted on another workstation
    report_from_the_sync_thread(deleted=1)
    aio.run(aio.until(lambda: window.stack.currentWidget() is window.sessions_page, message="back to the list"))
    aio.run(aio.until(lambda: window.sessions_page.card(session_id) is None, message="the card to go"))


def view_text(window: Any) -> str:
    return str(window.session_view.transcript.toPlainText())
