"""Speaker corrections in the session view, driven through the real widgets against the real services: split a line
at the right-clicked word, merge speakers, add a speaker, move a line to a new one, the regenerate banner, and the
re-run separation dialog."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QContextMenuEvent, QFontMetrics
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver, open_session_view, services_support, show_session

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import ProcessingJob
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.speakers.dialogs import AddSpeakerDialog, MergeSpeakersDialog, RediarizeDialog, SplitLineDialog
from tbdesktop.ui.transcript.word_hit import word_at

LINES = [
    ("therapist", "Good morning, how has your week been?"),
    ("client", "Busy at work. And how was yours?"),
    ("therapist", "Quiet, thank you. Tell me about work."),
]

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]


@pytest.fixture
def sessions(ui_ctx: AppContext, therapist: UserInfo) -> SessionService:
    return SessionService(ui_ctx, therapist)


@pytest.fixture
def recorded(ui_ctx: AppContext, therapist: UserInfo, speech_session: tuple[Path, list[dict[str, Any]]]) -> Any:
    """A processed session and a note citing line 1."""
    info = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES)
    soap = TemplateService(ui_ctx, therapist).get_sync("SOAP")
    with ui_ctx.db.unit_of_work() as s:
        sections = {"plan": {"title": "Plan", "position": 0, "text": "Work.", "evidence": [1],
                             "sentences": [{"text": "Work.", "evidence": [1]}]}}  # fmt: skip
        SystemNoteWriter(s).add_version(info.id, soap.id, sections, "local")
    return info


@pytest.fixture
def view(qtbot: QtBot, styled_app: Any, sessions: SessionService) -> SessionView:
    return open_session_view(qtbot, sessions)


def open_dialog(aio: AsyncDriver, view: SessionView, kind: type) -> Any:
    aio.run(AsyncDriver.until(lambda: isinstance(view.controller.speaker_editor.dialog, kind), message=kind.__name__))
    return view.controller.speaker_editor.dialog


def speakers_of(sessions: SessionService, session_id: uuid.UUID) -> dict[int, str]:
    return {seg.idx: seg.speaker for seg in sessions.transcript_sync(session_id)}


def test_word_at_finds_the_clicked_word(styled_app: Any) -> None:
    font = styled_app.font()
    metrics = QFontMetrics(font)
    text = "alpha beta gamma"
    rect = QRect(10, 20, 1000, 40)
    x = 10 + metrics.horizontalAdvance("alpha beta ") + 3
    assert word_at(text, rect, font, QPoint(x, 25)) == 2
    assert word_at(text, rect, font, QPoint(12, 25)) == 0
    assert word_at(text, rect, font, QPoint(900, 25)) is None


def test_split_merge_and_add_through_the_window(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    screenshot: Callable[..., Path],
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    notices: list[tuple[str, str]] = []
    view.notify.connect(lambda kind, text: notices.append((kind, text)))
    assert view.speaker_actions.isVisible() and not view.regenerate_banner.isVisible()

    # Right-click the word "And" of line 1: the menu offers to split there.
    tlist = view.transcript.list
    rect = tlist.delegate.text_rect(view.transcript.item_rect(1))
    metrics = QFontMetrics(tlist.font())
    point = QPoint(rect.left() + metrics.horizontalAdvance("Busy at work. ") + 3, rect.top() + metrics.height() // 2)
    QApplication.sendEvent(
        tlist.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, tlist.viewport().mapToGlobal(point))
    )
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    split = next(a for a in menu.actions() if a.objectName() == "splitLine")
    assert "“And”" in split.text()
    menu.close()
    split.trigger()
    dialog = open_dialog(aio, view, SplitLineDialog)
    assert dialog.at_word == 3 and dialog.speaker_combo.currentData() == "SPEAKER_00"
    assert dialog.tail_label.text().endswith("“And how was yours?”")
    dialog.speaker_combo.setCurrentIndex(dialog.speaker_combo.findData("new"))
    assert dialog.role_combo.isEnabled()
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("partner"))
    qtbot.keyClicks(dialog.name_edit, "Sam")
    screenshot(dialog, "speakers-split-dialog")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: len(view.rows()) == 4, message="the new line"))
    assert view.rows()[1].endswith("Busy at work.") and view.rows()[2].endswith("And how was yours?")
    assert "  Sam  " in view.rows()[2]
    assert speakers_of(sessions, recorded.id) == {0: "SPEAKER_00", 1: "SPEAKER_01", 3: "SPEAKER_02", 2: "SPEAKER_00"}
    aio.run(AsyncDriver.until(lambda: view.regenerate_banner.isVisible(), message="the regenerate banner"))
    assert notices[-1][0] == "success" and "regenerate" in notices[-1][1]
    # The note cites line 1; its evidence now covers the line split from it too.
    view.show_evidence([1])
    assert view.highlighted == {1, 3}
    screenshot(view, "speakers-after-split")

    # Merge the new speaker into the client from the speakers bar.
    qtbot.mouseClick(view.speaker_actions.merge_button, Qt.MouseButton.LeftButton)
    dialog = open_dialog(aio, view, MergeSpeakersDialog)
    dialog.source_combo.setCurrentIndex(dialog.source_combo.findData("SPEAKER_02"))
    dialog.into_combo.setCurrentIndex(dialog.into_combo.findData("SPEAKER_02"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.error_label.text() == "Choose two different speakers."
    dialog.into_combo.setCurrentIndex(dialog.into_combo.findData("SPEAKER_01"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: "SPEAKER_02" not in view.speakers_bar.combos, message="the merged speaker"))
    assert set(speakers_of(sessions, recorded.id).values()) == {"SPEAKER_00", "SPEAKER_01"}
    assert "SPEAKER_02" not in sessions.get_sync(recorded.id).speakers

    # Add a speaker, then move line 0 to a new one from its menu.
    qtbot.mouseClick(view.speaker_actions.add_button, Qt.MouseButton.LeftButton)
    dialog = open_dialog(aio, view, AddSpeakerDialog)
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("other"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: "SPEAKER_02" in view.speakers_bar.combos, message="the added speaker"))
    assert sessions.get_sync(recorded.id).speakers["SPEAKER_02"]["role"] == "other"
    menu = tlist.line_menu(0)
    move = next(a for a in menu.actions() if a.menu() is not None and a.menu().objectName() == "moveLineMenu")
    submenu = move.menu()
    assert submenu is not None and move.isEnabled()
    next(a for a in submenu.actions() if a.objectName() == "moveToNewSpeaker").trigger()
    menu.deleteLater()
    dialog = open_dialog(aio, view, AddSpeakerDialog)
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("therapist"))
    qtbot.keyClicks(dialog.name_edit, "Dana")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: "  Dana  " in view.rows()[0], message="line 0 moved to Dana"))
    assert speakers_of(sessions, recorded.id)[0] == "SPEAKER_03"
    assert [kind for kind, _ in notices] == ["success"] * len(notices)

    # The banner's Regenerate asks for a new note with the chosen template.
    assert view.regenerate_banner.isVisible()
    with qtbot.waitSignal(view.notes_panel.regenerateRequested, timeout=2000) as asked:
        qtbot.mouseClick(view.regenerate_banner.button, Qt.MouseButton.LeftButton)
    assert isinstance(asked.args[0], uuid.UUID)


def test_rerun_separation_dialog(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    ui_ctx: AppContext,
    screenshot: Callable[..., Path],
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    queued: list[object] = []
    view.processingQueued.connect(queued.append)
    assert view.speaker_actions.rediarize_button.isEnabled()
    qtbot.mouseClick(view.speaker_actions.rediarize_button, Qt.MouseButton.LeftButton)
    dialog = open_dialog(aio, view, RediarizeDialog)
    assert (dialog.voices_spin.minimum(), dialog.voices_spin.maximum(), dialog.voices_spin.value()) == (1, 6, 2)
    dialog.auto_check.setChecked(True)
    assert not dialog.voices_spin.isEnabled() and dialog.voices is None
    dialog.auto_check.setChecked(False)
    dialog.voices_spin.setValue(3)
    screenshot(dialog, "speakers-rediarize-dialog")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: queued == [recorded.id], message="the separation queued"))
    with ui_ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.kind == "rediarize")).one()
        assert job.params == {"voices": 3} and job.status == "queued"
    # Reloaded: the separation waits, with Cancel; the other actions wait for it.
    aio.run(AsyncDriver.until(lambda: view.speaker_actions.busy, message="the separation's progress"))
    assert not view.speaker_actions.merge_button.isEnabled() and not view.speaker_actions.rediarize_button.isEnabled()
    assert "separate speakers" in view.speaker_actions.progress_label.text()
    with qtbot.waitSignal(view.cancelRequested, timeout=2000) as cancel:
        qtbot.mouseClick(view.speaker_actions.cancel_button, Qt.MouseButton.LeftButton)
    assert cancel.args == [recorded.id]
    sessions.cancel_sync(recorded.id)
    aio.run(show_session(view, sessions, recorded.id))
    assert not view.speaker_actions.busy and view.speaker_actions.rediarize_button.isEnabled()

    # Without the recording, there is nothing to separate again.
    view.player.release()
    sessions.delete_recording_sync(recorded.id)
    aio.run(show_session(view, sessions, recorded.id))
    assert not view.speaker_actions.rediarize_button.isEnabled()
    assert "deleted" in view.speaker_actions.rediarize_button.toolTip()
