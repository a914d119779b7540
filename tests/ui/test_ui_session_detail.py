"""The session detail view against the real services: the encrypted recording played from a short-lived decrypted
copy, the transcript following the audio, evidence clicks, speaker names, line corrections, anonymous mode and the
deleted states."""

from __future__ import annotations

import os
import tempfile
import uuid
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from plaintext_support import copies
from PySide6.QtCore import QEvent, Qt, QUrl
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, open_session_view, services_support, show_session, view_services

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ANONYMOUS_CLIENT, UserInfo
from tbdesktop.services.notes import stored_sections
from tbdesktop.services.recording_vault import MAGIC, scratch_root
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.ui.audio_player import NO_OUTPUT
from tbdesktop.ui.formatting import timestamp
from tbdesktop.ui.session_view import SessionView, day_month_year

LINES = [
    ("therapist", "Good morning Jordan, how has your week been?"),
    ("client", "Busy at work, but I have been sleeping better since I started the breathing exercise."),
    ("therapist", "That is good to hear. Have you had any thoughts of hurting yourself?"),
    ("client", "No, I have no thoughts of hurting myself."),
    ("therapist", "For homework, Jordan, practise the breathing exercise every night before bed."),
]
NEAR_MS = 400  # how close a seek lands (the decoder moves to the nearest frame it can)

# Qt warnings fail a test, except what this machine (offscreen platform, no sound server) makes Qt say whatever
# the app does.
pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]


session_with_transcript = services_support().session_with_transcript


@pytest.fixture
def sessions(ui_ctx: AppContext, therapist: UserInfo) -> SessionService:
    return SessionService(ui_ctx, therapist)


@pytest.fixture
def recorded(ui_ctx: AppContext, therapist: UserInfo, speech_session: tuple[Path, list[dict[str, Any]]]) -> Any:
    """A processed session with an encrypted recording, a transcript and a SOAP note written from it."""
    info = session_with_transcript(ui_ctx, therapist, speech_session[0], LINES)
    write_note(ui_ctx, therapist, info.id)
    return info


def write_note(ctx: AppContext, user: UserInfo, session_id: uuid.UUID) -> None:
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.local import LocalNoteGenerator

    soap = TemplateService(ctx, user).get_sync("SOAP")
    lines = [TranscriptLine(i, i * 5.0, i * 5.0 + 4.5, "S", role, text) for i, (role, text) in enumerate(LINES)]
    generated = LocalNoteGenerator().generate(lines, NoteTemplateSpec.from_content("SOAP", soap.content()))
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).add_version(session_id, soap.id, stored_sections(generated.to_dict()), generated.generator)


@pytest.fixture
def view(qtbot: QtBot, styled_app: Any, sessions: SessionService) -> SessionView:
    return open_session_view(qtbot, sessions)


def wav_ms(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        return int(w.getnframes() * 1000 / w.getframerate())


def decrypted_copies() -> list[Path]:
    """The decrypted recordings this process has open now."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    found: list[Path] = []
    for root in {scratch_root(), Path(tempfile.gettempdir())}:
        folder = root / f"tbdesktop-{uid}" / f"p{os.getpid()}"
        found += sorted(folder.glob("rec-*")) if folder.is_dir() else []
    return found


def near(actual_ms: int, expected_ms: int) -> bool:
    return abs(actual_ms - expected_ms) <= NEAR_MS


def click_line(qtbot: QtBot, view: SessionView, idx: int) -> None:
    rect = view.transcript.item_rect(idx)
    assert rect.isValid(), idx
    qtbot.mouseClick(view.transcript.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


# -- the player ------------------------------------------------------------------------------------------------


def test_player_plays_the_decrypted_copy_in_step_with_the_transcript(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    ui_ctx: AppContext,
    speech_session: tuple[Path, list[dict[str, Any]]],
    screenshot: Callable[..., Path],
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    player = view.player

    # The player reads a decrypted copy outside the data folder; the stored file stays encrypted.
    copy = view.recording_path
    assert isinstance(copy, Path) and copy.is_file() and player.source_path == copy
    assert ui_ctx.settings.data_dir.resolve() not in copy.resolve().parents
    assert copy.read_bytes()[:4] == b"RIFF"
    stored = list((ui_ctx.settings.data_dir / "recordings").glob("*.wav"))
    assert stored and all(p.read_bytes()[: len(MAGIC)] == MAGIC for p in stored)
    assert near(player.duration_ms, wav_ms(speech_session[0]))
    assert player.total_label.text() == timestamp(player.duration_ms / 1000)
    assert not player.has_output and player.no_output_label.text() == NO_OUTPUT  # this machine has no sound card
    assert player.play_button.accessibleName() == "Play"

    # Clicking a line moves the recording to its start, and marks it as the line being played.
    click_line(qtbot, view, 3)
    aio.run(AsyncDriver.until(lambda: near(player.position_ms, 15_000), message="the seek to line 3"))
    assert view.transcript.current_idx == 3 and not player.playing

    # The marked line follows the position as it is set...
    for seconds, idx in ((12.0, 2), (0.2, 0), (4.7, 0), (21.0, 4)):
        player.seek(seconds)
        aio.run(AsyncDriver.until(lambda i=idx: view.transcript.current_idx == i, message=f"line {idx} at {seconds}"))

    # ...and as the recording plays (position moves without a sound card too); a click while playing plays on.
    player.seek(4.0)
    aio.run(AsyncDriver.until(lambda: near(player.position_ms, 4_000)))
    player.play()
    aio.run(AsyncDriver.until(lambda: view.transcript.current_idx == 1, message="playback to reach line 1"))
    assert player.playing and player.play_button.accessibleName() == "Pause"
    click_line(qtbot, view, 4)
    aio.run(AsyncDriver.until(lambda: view.transcript.current_idx == 4 and player.position_ms >= 20_000 - NEAR_MS))
    assert player.playing

    # Playback speed.
    player.speed_combo.setCurrentIndex(player.speed_combo.findData(1.5))
    assert player.player.playbackRate() == 1.5 and player.speed_combo.currentText() == "1.5×"
    assert [player.speed_combo.itemText(i) for i in range(player.speed_combo.count())] == ["1×", "1.25×", "1.5×", "2×"]

    # Space plays and pauses from the view and from the transcript, but types a space in a name field.
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not player.playing
    view.transcript.list.setFocus()
    qtbot.keyClick(view.transcript.list, Qt.Key.Key_Space)
    aio.run(AsyncDriver.until(lambda: player.playing, message="Space to play"))
    qtbot.keyClick(view.transcript.list, Qt.Key.Key_Space)
    aio.run(AsyncDriver.until(lambda: not player.playing, message="Space to pause"))
    name = view.speakers_bar.name_edits["SPEAKER_00"]
    name.setFocus()
    qtbot.keyClicks(name, "Dr Sam")
    assert name.text() == "Dr Sam" and not player.playing
    name.setText("")

    # Enter on a line plays from it (keyboard users), as the context menu's "Play from here" does.
    view.transcript.list.setFocus()
    view.transcript.list.setCurrentRow(2)
    qtbot.keyClick(view.transcript.list, Qt.Key.Key_Return)
    aio.run(AsyncDriver.until(lambda: near(player.position_ms, 10_000), message="Enter on line 2"))
    menu = view.transcript.list.line_menu(1)
    next(a for a in menu.actions() if a.objectName() == "playFromHere").trigger()
    aio.run(AsyncDriver.until(lambda: near(player.position_ms, 5_000), message="Play from here"))
    menu.deleteLater()

    player.seek(10.0)
    aio.run(AsyncDriver.until(lambda: view.transcript.current_idx == 2))
    view.resize(1280, 800)
    screenshot(view, "session-detail-1280x800")
    view.resize(1024, 700)
    QApplication.processEvents()
    screenshot(view, "session-detail-1024x700")


def test_evidence_click_highlights_and_seeks(
    aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    panel = view.notes_panel
    assert panel.note is not None
    cited = [i for s in panel.note.sections for x in s.sentences for i in x.evidence]
    assert cited
    target = max(cited)  # a line away from the start, so the seek is seen
    panel.body.anchorClicked.emit(QUrl(f"ev:{target}"))  # what clicking the sentence sends
    assert view.highlighted == {target} and view.transcript.evidence == {target}
    aio.run(AsyncDriver.until(lambda: near(view.player.position_ms, target * 5_000), message="the evidence seek"))
    assert view.transcript.current_idx == target


# -- the decrypted copy never outlives the view ------------------------------------------------------------------


def test_decrypted_copy_is_removed_when_the_view_moves_on(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
) -> None:
    other = session_with_transcript(ui_ctx, therapist, speech_session[0], LINES[:2])
    aio.run(show_session(view, sessions, recorded.id))
    first = view.recording_path
    assert isinstance(first, Path) and first.is_file() and len(copies(os.getpid())) == 1

    aio.run(show_session(view, sessions, other.id))  # another session
    second = view.recording_path
    assert isinstance(second, Path) and second.is_file()
    assert len(copies(os.getpid())) == 1  # the first copy was freed when the view moved on

    view.player.seek(12.0)
    aio.run(AsyncDriver.until(lambda: near(view.player.position_ms, 12_000)))
    view.hide()  # left: another page of the window is shown
    assert len(copies(os.getpid())) == 0 and view.recording_path is None and view.player.source_path is None
    view.show()  # back again: opened anew, where it was
    aio.run(AsyncDriver.until(lambda: view.player.loaded and near(view.player.position_ms, 12_000), message="resume"))
    third = view.recording_path
    assert isinstance(third, Path) and third.is_file() and len(copies(os.getpid())) == 1
    view.release()  # what the window calls when it leaves the view
    assert len(copies(os.getpid())) == 0
    view.hide()
    view.show()
    aio.run(AsyncDriver.until(lambda: view.recording_path is not None and view.player.loaded))
    fourth = view.recording_path
    view.close()  # closed
    assert isinstance(fourth, Path) and not fourth.exists() and decrypted_copies() == []

    # Inside a window that is closed.
    window = QWidget()
    inside = SessionView(view_services(sessions), window)
    QVBoxLayout(window).addWidget(inside)
    window.show()
    aio.run(show_session(inside, sessions, recorded.id))
    sixth = inside.recording_path
    assert isinstance(sixth, Path) and sixth.is_file()
    window.close()
    assert not sixth.exists() and decrypted_copies() == []
    window.deleteLater()

    # Destroyed while showing a recording.
    gone = SessionView(view_services(sessions))
    gone.show()
    aio.run(show_session(gone, sessions, recorded.id))
    fifth = gone.recording_path
    assert isinstance(fifth, Path) and fifth.is_file()
    gone.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not fifth.exists() and decrypted_copies() == []


def test_a_session_left_while_its_recording_is_opened_leaves_no_copy(
    aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Any] = []
    closed: list[Any] = []
    open_recording = sessions.open_recording

    async def opening(session_id: Any) -> Any:
        copy = await open_recording(session_id)
        close = copy.close

        def closing() -> None:
            closed.append(copy)
            close()

        copy.close = closing
        opened.append(copy)  # the view takes it as soon as this returns, in the same step of its task
        return copy

    monkeypatch.setattr(sessions, "open_recording", opening)
    info = sessions.get_sync(recorded.id)
    view.set_content(info, sessions.transcript_sync(recorded.id))
    assert view.player.message == "Opening the recording…"
    view.hide()  # before the decryption finished
    aio.run(AsyncDriver.until(lambda: opened, message="the decryption to finish"))
    assert closed == opened, "the copy that arrived after the view was left is let go of at once"
    assert view.recording_path is None and decrypted_copies() == []


# -- deleted parts -----------------------------------------------------------------------------------------------


def test_deleted_recording_and_transcript_are_shown_as_such(
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    screenshot: Callable[..., Path],
) -> None:
    deleted = sessions.delete_recording_sync(recorded.id)
    assert deleted.recording_deleted_at is not None
    aio.run(show_session(view, sessions, recorded.id))
    assert view.player.message == f"Recording deleted on {day_month_year(deleted.recording_deleted_at)}"
    assert view.player.controls.isHidden() and view.recording_path is None
    assert view.rows() and "Good morning" in view.transcript.toPlainText()

    gone = sessions.delete_transcript_sync(recorded.id)
    assert gone.transcript_deleted_at is not None
    aio.run(view.reload())
    assert view.transcript.toPlainText() == f"Transcript deleted on {day_month_year(gone.transcript_deleted_at)}"
    assert view.rows() == [] and view.speakers_bar.isHidden()
    assert view.notes_panel.note is not None and view.notes_panel.body.toPlainText().strip()  # the notes stay
    assert view.player.message.startswith("Recording deleted on ")
    screenshot(view, "session-detail-deleted")


# -- speakers and lines --------------------------------------------------------------------------------------------


def test_speaker_names_and_line_corrections_reach_the_database(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    screenshot: Callable[..., Path],
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    notices: list[tuple[str, str]] = []
    changed: list[object] = []
    view.notify.connect(lambda kind, text: notices.append((kind, text)))
    view.changed.connect(changed.append)

    # Name a speaker.
    edit = view.speakers_bar.name_edits["SPEAKER_01"]
    assert edit.accessibleName() == "Name of Speaker 2"
    edit.setFocus()
    qtbot.keyClicks(edit, "Dana")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    aio.run(AsyncDriver.until(lambda: "  Dana  " in view.rows()[1], message="the name in the transcript"))
    assert sessions.get_sync(recorded.id).speakers["SPEAKER_01"]["name"] == "Dana"
    assert view.speakers_bar.name_edits["SPEAKER_01"].text() == "Dana"
    assert "Dana (Client)" in view.transcript.toPlainText()
    assert notices[-1][0] == "success" and changed == [recorded.id]

    # Correct a line's words through the dialog (opened from the context menu).
    menu = view.transcript.list.line_menu(1)
    next(a for a in menu.actions() if a.objectName() == "fixLine").trigger()
    menu.deleteLater()
    aio.run(AsyncDriver.until(lambda: view.controller.line_dialog is not None, message="the correction dialog"))
    dialog = view.controller.line_dialog
    assert dialog is not None and dialog.text == LINES[1][1] and dialog.speaker == "SPEAKER_01"
    dialog.text_edit.setPlainText("Busy at work, but I have been sleeping better since the breathing exercises.")
    screenshot(dialog, "session-detail-line-dialog")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    fixed = "Busy at work, but I have been sleeping better since the breathing exercises."
    aio.run(AsyncDriver.until(lambda: view.rows()[1].endswith(fixed), message="the corrected words"))
    assert sessions.transcript_sync(recorded.id)[1].text == fixed

    # Move a line to the other speaker from the keyboard (F2 opens the dialog).
    view.transcript.list.setFocus()
    view.transcript.list.setCurrentRow(2)
    qtbot.keyClick(view.transcript.list, Qt.Key.Key_F2)
    aio.run(AsyncDriver.until(lambda: view.controller.line_dialog is not None))
    dialog = view.controller.line_dialog
    assert dialog is not None
    dialog.speaker_combo.setCurrentIndex(dialog.speaker_combo.findData("SPEAKER_01"))
    assert dialog.speaker_combo.currentText() == "Dana (Client)"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    aio.run(AsyncDriver.until(lambda: "  Dana  " in view.rows()[2], message="line 2 moved"))
    line = sessions.transcript_sync(recorded.id)[2]
    assert (line.speaker, line.role, line.text) == ("SPEAKER_01", "client", LINES[2][1])

    # Cancelling changes nothing; an emptied line is refused by the dialog itself.
    view.controller.correct_line(0)
    aio.run(AsyncDriver.until(lambda: view.controller.line_dialog is not None))
    dialog = view.controller.line_dialog
    assert dialog is not None
    dialog.text_edit.setPlainText("   ")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.error_label.text() == "A line cannot be empty."
    dialog.reject()
    aio.run(AsyncDriver.until(lambda: view.controller.line_dialog is None))
    assert sessions.transcript_sync(recorded.id)[0].text == LINES[0][1]

    # Move a line back with the context menu's "Move to speaker".
    menu = view.transcript.list.line_menu(2)
    move = next(a for a in menu.actions() if a.menu() is not None and a.menu().objectName() == "moveLineMenu")
    submenu = move.menu()
    assert submenu is not None
    targets = {a.objectName(): a for a in submenu.actions()}
    assert not targets["moveTo_SPEAKER_01"].isEnabled()  # where it is now
    targets["moveTo_SPEAKER_00"].trigger()
    menu.deleteLater()
    aio.run(AsyncDriver.until(lambda: "  Therapist  " in view.rows()[2], message="line 2 moved back"))
    assert sessions.transcript_sync(recorded.id)[2].speaker == "SPEAKER_00"
    assert [k for k, _ in notices] == ["success"] * 4 and len(changed) == 4

    # Clearing the name shows the role again.
    edit = view.speakers_bar.name_edits["SPEAKER_01"]
    edit.clear()
    edit.editingFinished.emit()
    aio.run(AsyncDriver.until(lambda: "  Client  " in view.rows()[1], message="the name cleared"))
    assert sessions.get_sync(recorded.id).speakers["SPEAKER_01"]["name"] is None


def test_a_refused_correction_is_reported(
    aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    notices: list[tuple[str, str]] = []
    view.notify.connect(lambda kind, text: notices.append((kind, text)))
    edit = view.speakers_bar.name_edits["SPEAKER_00"]
    edit.setText("x" * 100 + "y")  # longer than a name may be: the field stops at the limit
    assert len(edit.text()) == 100
    sessions.delete_transcript_sync(recorded.id)  # changed elsewhere, before the view knew
    view.controller.move_line(1, "SPEAKER_00")
    aio.run(AsyncDriver.until(lambda: bool(notices), message="the refusal"))
    assert notices == [("error", "The transcript of this session was deleted.")]


# -- anonymous ----------------------------------------------------------------------------------------------------


def test_anonymous_toggle_hides_the_name_everywhere_in_the_view(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    screenshot: Callable[..., Path],
) -> None:
    sessions.update_sync(recorded.id, speaker_names={"SPEAKER_01": "Jordan"})
    aio.run(show_session(view, sessions, recorded.id))
    toggle = view.anonymous_toggle
    assert toggle.text() == "Mark as anonymous (hide client name)" and not toggle.isChecked()
    assert view.title_label.text() == "Jordan" and "Jordan" in view.rows()[0]

    qtbot.mouseClick(toggle, Qt.MouseButton.LeftButton)
    assert toggle.isChecked() and view.title_label.text() == ANONYMOUS_CLIENT  # at once, before the service answers
    aio.run(AsyncDriver.until(lambda: "[client]" in view.rows()[0], message="the masked transcript"))
    assert sessions.get_sync(recorded.id).is_anonymous
    shown = "\n".join(
        [view.title_label.text(), view.summary_label.text(), view.transcript.toPlainText(), *view.rows()]
        + [view.notes_panel.body.toPlainText(), view.notes_panel.flags_label.text()]
    )
    assert "jordan" not in shown.lower()
    name_edit = view.speakers_bar.name_edits["SPEAKER_01"]
    assert not name_edit.isEnabled() and name_edit.text() == ""  # a speaker's name may be the client's
    screenshot(view, "session-detail-anonymous")

    toggle.setFocus()
    qtbot.keyClick(toggle, Qt.Key.Key_Space)  # keyboard too
    assert not toggle.isChecked() and view.title_label.text() == "Jordan"
    aio.run(AsyncDriver.until(lambda: "Jordan" in view.rows()[0], message="the name back"))
    assert not sessions.get_sync(recorded.id).is_anonymous


def test_a_failing_anonymous_change_rolls_back(
    qtbot: QtBot, aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any
) -> None:
    aio.run(show_session(view, sessions, recorded.id))
    notices: list[tuple[str, str]] = []
    view.notify.connect(lambda kind, text: notices.append((kind, text)))
    sessions.delete_session_sync(recorded.id)  # gone elsewhere: the service refuses
    qtbot.mouseClick(view.anonymous_toggle, Qt.MouseButton.LeftButton)
    assert view.anonymous_toggle.isChecked() and view.title_label.text() == ANONYMOUS_CLIENT
    aio.run(AsyncDriver.until(lambda: bool(notices), message="the failure"))
    assert notices[0][0] == "error" and notices[0][1]
    assert not view.anonymous_toggle.isChecked() and view.anonymous_toggle.isEnabled()
    assert view.title_label.text() == "Jordan"


def test_a_recording_that_cannot_be_opened_says_why(
    aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any, memory_keyring: Any
) -> None:
    for key in [k for k in memory_keyring.store if k[1].startswith("recordings_master_key")]:
        del memory_keyring.store[key]  # the profile's key is not on this computer
    info = sessions.get_sync(recorded.id)
    view.set_content(info, sessions.transcript_sync(recorded.id))
    aio.run(AsyncDriver.until(lambda: "secret store" in view.player.message, message="the reason"))
    assert view.player.controls.isHidden() and view.recording_path is None and decrypted_copies() == []
    assert view.rows()  # the transcript is still there


def test_a_line_clicked_while_the_recording_opens_plays_from_that_line(
    qtbot: QtBot, aio: AsyncDriver, view: SessionView, sessions: SessionService, recorded: Any
) -> None:
    info = sessions.get_sync(recorded.id)
    view.set_content(info, sessions.transcript_sync(recorded.id))
    assert not view.player.loaded
    click_line(qtbot, view, 2)
    aio.run(AsyncDriver.until(lambda: view.player.loaded, message="the recording"))
    aio.run(AsyncDriver.until(lambda: near(int(view.player.player.position()), 10_000), message="the early seek"))
    assert view.transcript.current_idx == 2


def test_without_a_service_the_view_only_shows(
    qtbot: QtBot, styled_app: Any, sessions: SessionService, recorded: Any
) -> None:
    info = sessions.get_sync(recorded.id)
    plain = SessionView()
    qtbot.addWidget(plain)
    plain.show()
    plain.set_content(info, sessions.transcript_sync(recorded.id))
    assert plain.anonymous_toggle.isHidden() and plain.player.isHidden() and plain.recording_path is None
    assert plain.speakers_bar.name_edits == {} and set(plain.speakers_bar.combos) == {"SPEAKER_00", "SPEAKER_01"}
    menu = plain.transcript.list.line_menu(0)
    assert [a.objectName() for a in menu.actions() if a.objectName()] == ["playFromHere", "copyLine"]
    menu.deleteLater()
    deleted = sessions.delete_recording_sync(recorded.id)
    plain.set_content(deleted, sessions.transcript_sync(recorded.id))
    assert not plain.player.isHidden() and plain.player.message.startswith("Recording deleted on ")


def test_the_speakers_keep_their_room_in_a_narrow_window(
    qtbot: QtBot,
    aio: AsyncDriver,
    view: SessionView,
    sessions: SessionService,
    recorded: Any,
    screenshot: Callable[..., Path],
) -> None:
    from PySide6.QtWidgets import QBoxLayout, QLabel

    aio.run(show_session(view, sessions, recorded.id))
    bar = view.speakers_bar

    def squeezed() -> list[str]:
        """Widgets of the speakers bar drawn narrower than they need (cut-off text)."""
        return [
            f"{w.objectName() or type(w).__name__} {w.width()} < {w.minimumSizeHint().width()}"
            for w in bar.findChildren(QWidget)
            if w.isVisible() and w.width() < w.minimumSizeHint().width()
        ]

    # as wide as a session view gets in a 1024-px window (held there, as the window holds its pages): the
    # actions go under the speakers
    frame = QWidget()
    qtbot.addWidget(frame)
    QVBoxLayout(frame).addWidget(view)
    frame.setFixedSize(990, 700)
    frame.show()
    aio.run(AsyncDriver.until(lambda: view.speakers_row.direction() == QBoxLayout.Direction.TopToBottom))
    aio.run(aio.settled())
    assert squeezed() == []
    title = next(label for label in bar.findChildren(QLabel) if label.text() == "Speakers")
    assert title.width() >= title.sizeHint().width()
    screenshot(view, "session-speakers-narrow")
    # with room to spare they sit side by side again
    frame.setFixedSize(1600, 900)
    aio.run(AsyncDriver.until(lambda: view.speakers_row.direction() == QBoxLayout.Direction.LeftToRight))
    aio.run(aio.settled())
    assert squeezed() == []
    view.setParent(None)  # the view's own fixture closes it
