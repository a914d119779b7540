"""The main window as a new therapist meets it: signing asks first and the card shows the note's state; finished
processing never changes the page; risk flags are one line each, denials are information, and a flag can be marked
reviewed; search hits show where they matched and open at that line; honest ETAs; the processing dialog's title;
the template editor's fields; Ctrl+Q. Real widgets, real services, a real SQLite database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver, make_window, services_support

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent, SessionInfo, UserInfo
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.processing.runner import ProcessingRunner
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import AuditEvent, RiskFlagReview
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.ui.formatting import eta_words
from tbdesktop.ui.notes_panel import SIGN_QUESTION
from tbdesktop.ui.processing_dialog import ProcessingDialog
from tbdesktop.ui.sessions_page.card import SessionCard
from tbdesktop.ui.window.main_window import MainWindow

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[..., Path]
LINES = [
    ("therapist", "How have you been since we last met?"),
    ("client", "Some nights I cut my arm when it all gets too much."),
    ("therapist", "Have you had any thoughts of ending your life?"),
    ("client", "No, never. I have been drinking a bit more on weekends though."),
    ("therapist", "Let's talk about the weekends next time."),
]
FLAGS = [
    {
        "kind": "self_harm",
        "severity": "high",
        "quote": "Some nights I cut my arm when it all gets too much.",
        "segment_idx": 1,
        "source": "rules",
        "detail": "recent cutting",
    },
    {
        "kind": "suicidal_ideation",
        "severity": "denied",
        "quote": "No, never.",
        "segment_idx": 3,
        "source": "rules",
        "detail": "",
    },
    {
        "kind": "substance_use",
        "severity": "low",
        "quote": "drinking a bit more on weekends",
        "segment_idx": 3,
        "source": "model",
        "detail": "",
    },
]


def _write_note(ctx: AppContext, user: UserInfo, session_id: uuid.UUID, text: str = "Client reports cutting.") -> None:
    soap = TemplateService(ctx, user).get_sync("SOAP")
    sections = stored_sections(
        {"sections": [{"key": "subjective", "title": "Subjective", "sentences": [{"text": text, "evidence": [1]}]}]}
    )
    with ctx.db.unit_of_work() as s:
        writer = SystemNoteWriter(s)
        writer.add_version(session_id, soap.id, sections, "local")
        writer.replace_flags(session_id, FLAGS)


@pytest.fixture
def window(qtbot: QtBot, ui_ctx: AppContext, therapist: UserInfo) -> MainWindow:
    win = make_window(qtbot, ui_ctx, therapist, ProcessingRunner(ui_ctx, owner_ids=[therapist.id]), size=(1280, 860))
    return win


@pytest.fixture
def noted(ui_ctx: AppContext, therapist: UserInfo, speech_session: tuple[Path, Any]) -> uuid.UUID:
    info = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES)
    _write_note(ui_ctx, therapist, info.id)
    return info.id  # type: ignore[no-any-return]


def _loaded(aio: AsyncDriver, window: MainWindow, session_id: uuid.UUID) -> None:
    """Until the session view shows ``session_id`` with its recording loaded (a reload while the player is still
    opening the file makes the media backend warn)."""
    view = window.session_view
    aio.run(
        aio.until(
            lambda: view.session_id == session_id and view.player.loaded and view.player.duration_ms > 0,
            message="the session and its recording",
        )
    )


def _card(window: MainWindow, session_id: uuid.UUID) -> SessionCard:
    card = window.sessions_page.card(session_id)
    assert card is not None
    return card


# -- 1. signing asks first; the card shows Draft / Signed ------------------------------------------------------


def test_sign_asks_for_a_review_and_the_card_shows_the_note_state(
    qtbot: QtBot,
    aio: AsyncDriver,
    window: MainWindow,
    ui_ctx: AppContext,
    therapist: UserInfo,
    noted: uuid.UUID,
    speech_session: tuple[Path, Any],
    screenshot: Shot,
) -> None:
    bare = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES[:2])
    aio.run(window.refresh())
    page = window.sessions_page
    card = _card(window, noted)
    assert card.note_state_label.isVisibleTo(card) and card.note_state_label.text() == "Draft"
    bare_card = _card(window, bare.id)
    assert not bare_card.note_state_label.isVisibleTo(bare_card)  # no note: nothing shown
    screenshot(window, "rough-edges-card-draft")

    # The note state is a filter of the sessions page.
    page.set_status_filter("draft")
    assert [c.session_id for c in page.cards() if c.isVisibleTo(page)] == [noted]
    page.set_status_filter("signed")
    assert [c.session_id for c in page.cards() if c.isVisibleTo(page)] == []
    page.set_status_filter("all")

    aio.run(window.open_session(noted))
    _loaded(aio, window, noted)
    panel = window.session_view.notes_panel
    notes = NoteService(ui_ctx, therapist)

    # Cancel changes nothing.
    qtbot.mouseClick(panel.sign_button, Qt.MouseButton.LeftButton)
    box = panel.sign_dialog
    assert box is not None and box.isVisible() and box.text() == SIGN_QUESTION
    screenshot(box, "rough-edges-sign-review")
    cancel = box.findChild(type(panel.sign_button), "cancelSignButton")
    assert cancel is not None
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: panel.sign_dialog is None, message="the review closed"))
    aio.run(aio.settled())
    latest = notes.latest_or_none_sync(noted)
    assert latest is not None and latest.status == "draft"
    assert panel.note is not None and panel.note.status == "draft" and panel.sign_button.isEnabled()

    # Sign signs, and the card says so.
    qtbot.mouseClick(panel.sign_button, Qt.MouseButton.LeftButton)
    box = panel.sign_dialog
    assert box is not None
    sign = box.findChild(type(panel.sign_button), "confirmSignButton")
    assert sign is not None and sign.text() == "Sign"
    qtbot.mouseClick(sign, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: panel.note is not None and panel.note.status == "signed", message="signed"))
    _loaded(aio, window, noted)
    latest = notes.latest_or_none_sync(noted)
    assert latest is not None and latest.status == "signed"
    aio.run(aio.until(lambda: _card(window, noted).note_state_label.text() == "Signed", message="the card"))
    aio.run(window.sessions_page.refresh())  # and from the listing itself
    assert _card(window, noted).note_state_label.text() == "Signed"
    window.show_sessions()
    aio.run(aio.settled())
    screenshot(window, "rough-edges-card-signed")


# -- 2. finished processing never navigates ----------------------------------------------------------------


def test_finished_processing_offers_the_session_and_never_changes_the_page(
    qtbot: QtBot, aio: AsyncDriver, window: MainWindow, ui_ctx: AppContext, therapist: UserInfo, noted: uuid.UUID
) -> None:
    aio.run(window.refresh())
    aio.run(window.open_session(noted))
    _loaded(aio, window, noted)
    assert window.session_view.session_id == noted
    window.navigate("templates")
    assert window.stack.currentWidget() is window.templates_page

    window.bridge.progress.emit(ProgressEvent(noted, None, "completed", 100, "Done", None))
    aio.run(aio.until(lambda: bool(window.toasts.toasts()), message="a toast"))
    aio.run(aio.settled())
    assert window.stack.currentWidget() is window.templates_page  # still where the therapist was
    toast = window.toasts.toasts()[-1]
    assert toast.text.endswith("are ready.") and toast.action_button is not None
    assert toast.action_button.text() == "Open session"
    qtbot.mouseClick(toast.action_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: window.stack.currentWidget() is window.session_view, message="opened on request"))
    _loaded(aio, window, noted)

    # Looking at it: refreshed in place (a new version shows), no toast, no page change.
    _write_note(ui_ctx, therapist, noted, "A second version of the note.")
    aio.run(aio.until(lambda: not window.toasts.toasts(), timeout=20, message="the toast gone"))
    window.bridge.progress.emit(ProgressEvent(noted, None, "completed", 100, "Done", None))
    panel = window.session_view.notes_panel
    aio.run(aio.until(lambda: panel.note is not None and panel.note.version == 2, message="refreshed in place"))
    _loaded(aio, window, noted)
    aio.run(aio.settled())
    assert window.stack.currentWidget() is window.session_view and window.toasts.toasts() == []


# -- 6. risk flags: one line each, denials as information, reviewed --------------------------------------------


def test_flags_are_one_line_each_denials_are_information_and_a_review_is_recorded(
    qtbot: QtBot,
    aio: AsyncDriver,
    window: MainWindow,
    ui_ctx: AppContext,
    therapist: UserInfo,
    noted: uuid.UUID,
    screenshot: Shot,
) -> None:
    aio.run(window.refresh())
    aio.run(window.open_session(noted))
    _loaded(aio, window, noted)
    aio.run(aio.settled())
    panel = window.session_view.notes_panel
    rows = panel.flags_list.rows()
    assert [r.flag.kind for r in rows] == ["self_harm", "substance_use", "suicidal_ideation"]  # denials last
    denial = rows[-1]
    assert denial.toggle.text() == "▸ ℹ Denied: Suicidal ideation"
    assert "#5b6b73" in denial.toggle.styleSheet() and "⚠" not in denial.toggle.text()
    assert "green" not in denial.toggle.styleSheet() and "#3f6b2a" not in denial.toggle.styleSheet()
    assert rows[0].toggle.text().startswith("▸ ⚠ Self-harm (high)")
    # Collapsed: one line each, the quote hidden; the flags take far less than a third of the panel.
    assert not any(r.details.isVisible() for r in rows)
    assert panel.flags_list.height() < panel.height() / 4
    screenshot(panel, "rough-edges-flags-collapsed")

    qtbot.mouseClick(rows[0].toggle, Qt.MouseButton.LeftButton)
    assert rows[0].details.isVisible() and rows[0].toggle.text().startswith("▾")
    assert "cut my arm" in rows[0].details.text() and "at 0:05" in rows[0].details.text()

    qtbot.mouseClick(rows[0].review_button, Qt.MouseButton.LeftButton)

    def reviewed() -> bool:
        first = panel.flags_list.rows()[0]
        return first.reviewed_label.isVisibleTo(panel) and first.reviewed_label.text().endswith(
            "Reviewed by Dr. Sam Rivera"
        )

    aio.run(aio.until(reviewed, message="reviewed"))
    rows = panel.flags_list.rows()
    assert not rows[0].review_button.isVisibleTo(panel) and rows[1].review_button.isVisibleTo(panel)
    screenshot(panel, "rough-edges-flag-reviewed")

    with ui_ctx.db.unit_of_work() as s:
        review = s.scalars(select(RiskFlagReview)).one()
        assert review.flag_kind == "self_harm" and review.segment_idx == 1 and review.reviewed_by == therapist.id
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "note.flag_review")).one()
        assert event.object_type == "risk_flag:self_harm" and "cut" not in str(event.object_id)

    # Opened again: still reviewed.
    aio.run(window.open_session(noted))
    _loaded(aio, window, noted)
    assert panel.flags_list.rows()[0].flag.reviewed_by == "Dr. Sam Rivera"


# -- 3. search: snippet, time, highlight, the line; a filter never hides a new import silently -----------------


def test_search_hits_show_the_match_and_open_at_the_line_and_the_filter_is_visible(
    qtbot: QtBot,
    aio: AsyncDriver,
    window: MainWindow,
    ui_ctx: AppContext,
    therapist: UserInfo,
    noted: uuid.UUID,
    speech_session: tuple[Path, Any],
    screenshot: Shot,
) -> None:
    other = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES[:2])
    aio.run(window.refresh())
    page = window.sessions_page
    qtbot.keyClicks(page.search_edit, "weekends")
    panel = page.search_panel
    aio.run(aio.until(lambda: bool(panel.rows()), message="search hits"))
    hit = next(r for r in panel.rows() if r.hit.segment_idx == 3)
    assert hit.heading.text().startswith("Jordan · ") and hit.heading.text().endswith("Transcript at 0:15")
    assert "weekends" in hit.snippet.text() and "background-color" in hit.snippet.text()
    highlighted = hit.snippet.text().split("background-color")[1].split("</span>")[0]
    assert highlighted.endswith(">weekends")
    assert panel.cue_label.isVisibleTo(page) and panel.cue_label.text() == "Filtered by “weekends”"
    assert page.card(other.id) is not None and not _card(window, other.id).isVisibleTo(page)
    screenshot(window, "rough-edges-search-hits")

    # A new import while the search is on: the cue says a new session is not shown.
    SessionService(ui_ctx, therapist).import_recording_sync(
        ImportRequest(source=speech_session[0], client_name="Alex", consent_method="verbal", allow_duplicate=True)
    )
    aio.run(page.refresh())
    aio.run(aio.until(lambda: "1 new session not shown" in panel.cue_label.text(), message="the new-session cue"))
    assert page.subtitle.text().startswith("Showing ")
    screenshot(window, "rough-edges-search-new-import")
    aio.run(aio.settled())  # the search ran again with the refresh: its rows are new
    hit = next(r for r in panel.rows() if r.hit.segment_idx == 3)

    # Opening the hit: the session, its transcript at that line, highlighted.
    qtbot.mouseClick(hit, Qt.MouseButton.LeftButton)
    view = window.session_view
    aio.run(aio.until(lambda: view.session_id == noted and view.transcript.evidence == {3}, message="the line"))
    assert window.stack.currentWidget() is view
    _loaded(aio, window, noted)
    current = view.transcript.list.currentItem()
    assert current is not None and "weekends" in current.text()
    aio.run(aio.settled())
    rect = view.transcript.item_rect(3)
    assert rect.isValid() and view.transcript.list.viewport().rect().intersects(rect)
    screenshot(window, "rough-edges-search-opened-line")

    # Clear: every session shows again and the cue goes.
    window.show_sessions()
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: not panel.isVisibleTo(page), message="the cue gone"))
    assert page.search_edit.text() == "" and all(c.isVisibleTo(page) for c in page.cards())
    assert len(page.cards()) == 3


# -- 4. ETA words, the processing dialog's title, the template editor, Ctrl+Q ---------------------------------


def test_eta_says_almost_done_only_near_the_end(qtbot: QtBot, therapist: UserInfo) -> None:
    assert eta_words(5, 35) == "a few seconds left"
    assert eta_words(40, 35) == "about 40 s left"
    assert eta_words(5, 95) == "almost done" and eta_words(40, 92) == "almost done"
    assert eta_words(300, 95) == "about 5 min left"
    now = datetime.now(UTC)
    base = SessionInfo(
        id=uuid.uuid4(), owner_id=therapist.id, owner_name="Me", client_id=None, client_name="Jordan",
        session_date=now.date(), duration_mins=50.0, status="transcribing", progress=35, stage_detail=None,
        error=None, eta_seconds=6, is_anonymous=False, ai_summary=None, recording_available=True,
        recording_deleted_at=None, transcript_deleted_at=None, consent_method="verbal", consent_obtained_at=now,
        created_at=now, updated_at=now,
    )  # fmt: skip
    card = SessionCard(base)
    qtbot.addWidget(card)
    assert card.eta_label.text() == "a few seconds left"  # 35 %: not "almost done"
    card.update_info(replace(base, progress=96))
    assert card.eta_label.text() == "almost done"

    dialog = ProcessingDialog("Jordan")  # the processing dialog says it the same way
    qtbot.addWidget(dialog)
    dialog.bind_session(base)
    assert dialog.eta_label.text() == "a few seconds left"
    dialog.apply_event(ProgressEvent(base.id, None, "diarizing", 95, None, 5))
    assert dialog.eta_label.text() == "almost done"


def test_processing_dialog_title_names_no_file(
    aio: AsyncDriver, window: MainWindow, speech_session: tuple[Path, Any], tmp_path: Path
) -> None:
    source = tmp_path / "Jordan Lee intake 2026-11-03.wav"
    source.write_bytes(speech_session[0].read_bytes())
    aio.run(window.imports.run_import(ImportRequest(source=source, client_name="Jordan Lee", consent_method="verbal")))
    dialog = window.imports.processing_dialog
    assert dialog is not None
    assert dialog.windowTitle() == "Processing session"
    assert "intake" not in dialog.windowTitle() and "intake" not in dialog.title_label.text()
    assert dialog.title_label.text().startswith("Jordan Lee · ")
    dialog.close()


def test_template_editor_hides_the_key_and_fits_its_labels(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Shot
) -> None:
    from tbdesktop.ui.templates import TemplateEditorDialog

    templates = TemplateService(ui_ctx, therapist)

    async def saver(draft: Any) -> Any:
        return await templates.create(draft.name, draft.content())

    editor = TemplateEditorDialog(saver)
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitExposed(editor)
    qtbot.keyClicks(editor.name_edit, "Short note")
    qtbot.keyClicks(editor.title_edit, "Risk & safety")
    assert not editor.key_edit.isVisibleTo(editor)
    assert editor.sections()[0].key == "risk_safety"
    editor.add_button.click()
    qtbot.keyClicks(editor.title_edit, "Risk & safety")  # the same title: a key of its own
    assert [s.key for s in editor.sections()] == ["risk_safety", "risk_safety_2"]
    label = editor.max_words_label
    assert label.text().replace("&", "") == "Word limit"
    assert label.width() >= label.sizeHint().width()  # not cut off
    screenshot(editor, "rough-edges-template-editor")


def test_ctrl_q_quits_through_the_window_close(qtbot: QtBot, window: MainWindow) -> None:
    action = window.quit_action
    assert action.shortcut() == QKeySequence("Ctrl+Q")
    assert action in window.actions()
    with qtbot.waitSignal(window.closed, timeout=5000):
        action.trigger()
    assert not window.isVisible()
