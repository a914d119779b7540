"""Batch import in the window: a folder or several files (or files dropped on the window) fill a review table —
dates from the recordings, one client and consent per row, duplicates flagged and left out unless the user insists
— then a progress view follows each file: copied, queued, processing, done, failed with the reason, skipped, or
waiting for consent (recorded right there)."""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from import_audio import write_m4a, write_not_audio, write_tone
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, QuietRunner, make_window

from tbdesktop.services.batch_import import IMPORTED, SKIPPED, BatchResult
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent, UserInfo
from tbdesktop.services.sessions import ImportRequest
from tbdesktop.ui.batch_import_progress import BatchProgressDialog
from tbdesktop.ui.window.main_window import MainWindow

SHOTS = Path("/tmp/shots")


def _shot(widget: Any, name: str, screenshot: Any) -> None:
    path = screenshot(widget, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def _window(qtbot: QtBot, ui_ctx: AppContext, therapist: UserInfo, runner: QuietRunner) -> MainWindow:
    window = make_window(qtbot, ui_ctx, therapist, runner, size=(1040, 720))
    return window


def test_a_folder_is_reviewed_then_imported_file_by_file(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Any
) -> None:
    runner = QuietRunner()
    window = _window(qtbot, ui_ctx, therapist, runner)
    service = window.services.sessions
    old = write_tone(tmp_path / "earlier" / "old.wav", 300)
    first = service.import_recording_sync(ImportRequest(source=old, client_name="Noa Levi", consent_method="verbal"))
    folder = tmp_path / "week"
    write_m4a(folder / "a phone.m4a", 400, "2026-11-03T10:00:00Z")
    b = write_tone(folder / "b 2026-10-15.wav", 410)
    shutil.copy(old, folder / "c old copy.wav")  # imported before
    shutil.copy(b, folder / "d same as b.wav")  # twice in this batch
    write_not_audio(folder / "e broken.wav")
    write_tone(folder / "f.wav", 420)
    (folder / "notes.txt").write_text("not a recording")

    async def scenario() -> None:
        task = aio.loop.create_task(window.imports.import_recording([folder]))
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None and dialog.is_batch
        table = dialog.table
        await aio.until(lambda: not table.checking, message="the files to be looked at")
        rows = table.rows
        assert [r.source.name for r in rows] == [
            "a phone.m4a",
            "b 2026-10-15.wav",
            "c old copy.wav",
            "d same as b.wav",
            "e broken.wav",
            "f.wav",
        ]
        assert rows[0].date_edit.date().toPython() == date(2026, 11, 3)  # the container's creation_time
        assert "metadata" in rows[0].date_edit.toolTip()
        assert rows[1].date_edit.date().toPython() == date(2026, 10, 15)  # the file name
        assert not rows[2].include.isChecked() and rows[2].status.text() == "Already imported — skipped"
        assert rows[2].details.isVisible()
        assert not rows[3].include.isChecked() and rows[3].status.text() == "Same as row 2 — skipped"
        assert rows[5].include.isChecked() and rows[5].status.text() == "Ready to import"
        assert dialog.import_button.isEnabled() and dialog.import_button.text().strip() == "Import 4"

        # One client for every row, consent for every row but one, a date changed by hand.
        dialog.set_client_text("Alex Kim")
        dialog.apply_client_button.click()
        assert {r.client.currentText() for r in rows} == {"Alex Kim"}
        assert rows[5].status.text() == "Ready to import · adds a new client"
        rows[0].client.setEditText("noa levi")  # an existing client, whatever the case
        assert rows[0].status.text() == "Ready to import"
        rows[0].client.setEditText("Alex Kim")
        dialog.set_consent("verbal")
        dialog.apply_consent_button.click()
        rows[1].consent.setCurrentIndex(rows[1].consent.findData(""))
        rows[5].date_edit.setDate(date(2026, 11, 28))

        # The duplicate check's own dialog: import this one again after all.
        rows[2].details.click()
        await aio.until(lambda: dialog.duplicate_dialog is not None and dialog.duplicate_dialog.isVisible())
        ask = dialog.duplicate_dialog
        assert ask is not None and "imported before" in ask.text() and "Noa Levi" in ask.text()
        ask.again_button.click()
        await aio.until(lambda: rows[2].include.isChecked())
        assert rows[2].status.text() == "Duplicate — will be imported again"
        _shot(dialog, "import-batch-review", screenshot)

        dialog.import_button.click()
        await aio.until(lambda: window.imports.batch.batch_dialog is not None, message="the progress view")
        view = window.imports.batch.batch_dialog
        assert view is not None
        await aio.until(lambda: not view.importing, timeout=60, message="every file to be imported")
        assert await task is None
        states = [r.state.text() for r in view.rows]
        assert states[0] == "Queued for processing"
        assert states[1] == "Waiting for consent — record it to start processing"
        assert states[2] == "Queued for processing"
        assert states[3] == "Skipped: The same recording as row 2 — skipped as a duplicate."
        assert states[4].startswith("Failed: ") and "e broken.wav" in states[4]
        assert states[5] == "Queued for processing"
        assert "4 of 6 imported" in view.summary_label.text() and "1 failed" in view.summary_label.text()
        assert runner.woken >= 4

        sessions = {s.id: s for s in service.list_sessions_sync()}
        assert len(sessions) == 5
        made = [sessions[r.session_id] for r in view.rows if r.session_id is not None]
        assert [s.client_name for s in made] == ["Alex Kim"] * 4
        assert [s.session_date for s in made] == [
            date(2026, 11, 3),
            date(2026, 10, 15),
            date.today(),
            date(2026, 11, 28),
        ]
        assert [s.consent_method for s in made] == ["verbal", None, "verbal", "verbal"]
        assert view.rows[2].session_id != first.id

        # Processing as the runner reports it: percent, done (with Open), failed with the reason.
        a_id = view.rows[0].session_id
        f_id = view.rows[5].session_id
        assert a_id is not None and f_id is not None
        runner.report(ProgressEvent(a_id, None, "transcribing", 40, "Transcribing audio…", 65))
        await aio.until(lambda: view.rows[0].state.text().startswith("Transcribing audio · 40%"))
        assert view.rows[0].bar.isVisible() and view.rows[0].bar.value() == 40
        runner.report(ProgressEvent(f_id, None, "failed", 0, "Failed", None, "The worker stopped."))
        await aio.until(lambda: view.rows[5].state.text() == "Failed: The worker stopped.")

        # Consent recorded in the progress view: the session is queued for processing.
        b_id = view.rows[1].session_id
        assert b_id is not None and view.rows[1].action.isVisible()
        _shot(view, "import-batch-progress", screenshot)
        menu = view.rows[1].action.menu()
        assert menu is not None
        written = next(a for a in menu.actions() if a.objectName() == "batchConsent_1_written")
        woken = runner.woken
        written.trigger()
        await aio.until(lambda: view.rows[1].state.text() == "Queued for processing", message="consent recorded")
        assert service.get_sync(b_id).consent_method == "written" and runner.woken > woken

        runner.report(ProgressEvent(a_id, None, "completed", 100, "Done", None))
        await aio.until(lambda: view.rows[0].action.isVisible() and view.rows[0].action.text() == "Open")
        view.rows[0].action.click()
        await aio.until(lambda: window.session_view.session_id == a_id, message="the session to open")

        view.show()
        window.lock_control.lock()  # nothing of the batch stays on screen behind the lock
        assert not view.isVisible()

    aio.run(scenario(), timeout=120)


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_files_dropped_on_the_window_open_the_import_dialog(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    window = _window(qtbot, ui_ctx, therapist, QuietRunner())
    a = write_tone(tmp_path / "a.wav", 440)
    b = write_tone(tmp_path / "b.wav", 450)
    c = write_tone(tmp_path / "c.wav", 460)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    assert window.acceptDrops()

    def enter(mime: QMimeData, target: QWidget | None = None) -> bool:
        event = QDragEnterEvent(
            QPoint(40, 40), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(target or window, event)
        return event.isAccepted()

    def drop(mime: QMimeData, target: QWidget | None = None) -> bool:
        event = QDropEvent(
            QPointF(40, 40), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(target or window, event)
        return event.isAccepted()

    plain = QMimeData()
    plain.setText("just words")
    assert not enter(plain)
    assert not enter(_mime(text_file))
    assert enter(_mime(a, b))
    assert enter(_mime(tmp_path))  # a folder

    async def scenario() -> None:
        assert enter(_mime(a, b))
        drop(_mime(a, b))
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None and dialog.is_batch
        assert dialog.table.sources() == [a, b]
        assert not enter(_mime(text_file), dialog)
        assert enter(_mime(c, a), dialog)
        assert drop(_mime(c, a), dialog)  # onto the open dialog: new files join it, none twice
        assert dialog.table.sources() == [a, b, c]
        await aio.until(lambda: not dialog.table.checking)
        dialog.reject()
        await aio.until(lambda: window.imports.import_dialog is None)

        assert enter(_mime(a))
        drop(_mime(a))  # one file: the one-recording form, filled in
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        single = window.imports.import_dialog
        assert single is not None and not single.is_batch and single.path_edit.text() == str(a)
        single.reject()
        await aio.until(lambda: window.imports.import_dialog is None)

    aio.run(scenario())


def test_progress_view_copying_and_stopping(qtbot: QtBot, styled_app: Any) -> None:
    view = BatchProgressDialog(["one.wav", "two.wav", "three.wav"])
    qtbot.addWidget(view)
    view.show()
    assert [r.state.text() for r in view.rows] == ["Waiting its turn"] * 3
    view.set_started(0)
    view.set_copy_progress(0, 512 * 1024, 1024 * 1024)
    assert view.rows[0].bar.value() == 50 and "0.5 MB of 1.0 MB" in view.rows[0].state.text()
    stops: list[bool] = []
    view.stopRequested.connect(lambda: stops.append(True))
    qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    assert stops == [True] and not view.stop_button.isEnabled()
    view.set_result(0, BatchResult(Path("one.wav"), SKIPPED, error="'one.wav' was imported before."))
    view.set_finished()
    assert view.rows[0].state.text() == "Skipped: 'one.wav' was imported before."
    assert view.rows[1].state.text() == "Skipped: the import was stopped before this file."
    assert not view.stop_button.isVisible()
    assert view.counts()[IMPORTED] == 0 and "0 of 3 imported" in view.summary_label.text()


def test_one_file_is_dated_from_its_metadata(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    window = _window(qtbot, ui_ctx, therapist, QuietRunner())
    tagged = write_m4a(tmp_path / "phone.m4a", 480, "2026-11-03T10:00:00Z")

    async def scenario() -> None:
        task = aio.loop.create_task(window.imports.import_recording([tagged]))
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None and not dialog.is_batch and dialog.path_edit.text() == str(tagged)
        await aio.until(lambda: dialog.date_edit.date().toPython() == date(2026, 11, 3), message="the date")
        assert dialog.date_hint.isVisible() and "metadata" in dialog.date_hint.text()
        dialog.date_edit.setDate(date(2026, 11, 4))  # the therapist's own date wins
        assert not dialog.date_hint.isVisible()
        dialog.set_consent("verbal")
        dialog.import_button.click()
        info = await task
        assert info is not None and info.session_date == date(2026, 11, 4)

    aio.run(scenario())


def test_each_row_offers_its_clients_last_consent(qtbot: QtBot, styled_app: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tbdesktop.services.batch_import import inspect_file
    from tbdesktop.services.dto import ClientInfo
    from tbdesktop.ui.batch_import_table import BatchReviewTable

    noa = ClientInfo(id=uuid.uuid4(), name="Noa Levi", pronouns=None, created_at=datetime(2026, 1, 1, tzinfo=UTC))
    table = BatchReviewTable([noa], {noa.id: "written"})
    qtbot.addWidget(table)
    files = [write_tone(tmp_path / "x.wav", 520), write_tone(tmp_path / "y.wav", 530)]
    assert table.add_files(files) == [0, 1]
    for path in files:
        table.set_candidate(inspect_file(path))
    first, second = table.rows
    assert first.consent.currentData() == "" and first.client.currentText() == ""
    first.client.setEditText("Noa Levi")
    assert first.consent.currentData() == "written"
    second.consent.setCurrentIndex(second.consent.findData("electronic"))
    second.consent.activated.emit(second.consent.currentIndex())  # as the user's choice arrives
    second.client.setEditText("noa levi")
    assert second.consent.currentData() == "electronic"  # the therapist's own choice is kept
    items = table.batch_items("couples")
    assert [(i.request.client_id, i.request.consent_method, i.request.session_type) for i in items] == [
        (noa.id, "written", "couples"),
        (noa.id, "electronic", "couples"),
    ]


def test_a_flagged_duplicate_can_open_the_session_that_has_it(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path
) -> None:
    window = _window(qtbot, ui_ctx, therapist, QuietRunner())
    old = write_tone(tmp_path / "old.wav", 640)
    first = window.services.sessions.import_recording_sync(ImportRequest(source=old, consent_method="verbal"))
    copy = tmp_path / "batch" / "again.wav"
    copy.parent.mkdir()
    shutil.copy(old, copy)
    other = write_tone(tmp_path / "batch" / "new.wav", 650)

    async def scenario() -> None:
        task = aio.loop.create_task(window.imports.import_recording([copy, other]))
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None
        await aio.until(lambda: not dialog.table.checking)
        dialog.table.rows[0].details.click()
        await aio.until(lambda: dialog.duplicate_dialog is not None and dialog.duplicate_dialog.isVisible())
        ask = dialog.duplicate_dialog
        assert ask is not None
        ask.open_button.click()
        assert await task is None
        assert window.imports.import_dialog is None and window.imports.batch.batch_dialog is None  # nothing imported
        assert window.session_view.session_id == first.id
        assert [s.id for s in window.services.sessions.list_sessions_sync()] == [first.id]

    aio.run(scenario())
