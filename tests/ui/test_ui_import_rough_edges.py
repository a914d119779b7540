"""The import dialog's rough edges, each as the user met it: "No client" was text in the client field (typing a
name gave "No clientSarah Miller"); a returning client's consent was not offered; a session waiting for consent
sat at "0 %" in the processing dialog and read "Queued" in the session header, with no way to record it there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from import_audio import write_tone
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver, QuietRunner, make_window

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ClientInfo, UserInfo
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob
from tbdesktop.ui.import_dialog import ImportDialog

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_typing_a_client_name_does_not_append_to_no_client(qtbot: QtBot, styled_app: Any, tmp_path: Path) -> None:
    client = ClientInfo(id=uuid.uuid4(), name="Jordan Lee", pronouns=None, created_at=NOW)
    dialog = ImportDialog([client])
    qtbot.addWidget(dialog)
    dialog.show()
    line = dialog.client_combo.lineEdit()
    assert line is not None
    assert line.text() == "" and "No client" in line.placeholderText()

    qtbot.mouseClick(line, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(line, "Sarah Miller")
    assert dialog.client_combo.currentText() == "Sarah Miller"
    assert "new client “Sarah Miller”" in dialog.client_hint.text()

    dialog.set_file_path(write_tone(tmp_path / "s.wav", 440))
    request = dialog.validate()
    assert request is not None and request.client_name == "Sarah Miller" and request.client_id is None

    # "No client" is still a choice in the list; choosing it empties the field rather than filling it.
    dialog.client_combo.setCurrentIndex(1)
    assert dialog.client_combo.currentText() == "Jordan Lee"
    dialog.client_combo.setCurrentIndex(0)
    assert dialog.client_combo.currentText() == ""
    request = dialog.validate()
    assert request is not None and request.client_name is None and request.client_id is None


def test_a_folder_typed_into_the_recording_field_opens_its_recordings_for_review(
    qtbot: QtBot, styled_app: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "week"
    folder.mkdir()
    write_tone(folder / "2026-11-02 monday.wav", 440)
    write_tone(folder / "2026-11-03 tuesday.wav", 550)
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog = ImportDialog([])
    qtbot.addWidget(dialog)
    dialog.show()

    # a folder with no recordings: said so, and the folder stays in the field
    qtbot.keyClicks(dialog.path_edit, str(empty))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and not dialog.is_batch
    assert dialog.path_error.text() == "That folder holds no audio or video files."
    assert dialog.path_edit.text() == str(empty)

    # a folder of recordings: the review table, one row per file, nothing imported yet
    dialog.path_edit.clear()
    qtbot.keyClicks(dialog.path_edit, str(folder))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.is_batch
    assert sorted(row.source.name for row in dialog.table.rows) == ["2026-11-02 monday.wav", "2026-11-03 tuesday.wav"]


def test_a_returning_client_is_offered_their_last_consent(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Any
) -> None:
    service = SessionService(ui_ctx, therapist)
    service.import_recording_sync(
        ImportRequest(source=write_tone(tmp_path / "a.wav", 440), client_name="Jordan Lee", consent_method="written")
    )
    window = make_window(qtbot, ui_ctx, therapist, QuietRunner(), sessions=service)

    async def scenario() -> None:
        task = aio.loop.create_task(window.imports.import_recording())
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None
        assert dialog.consent_combo.currentData() == ""  # nobody chosen yet: nothing to offer
        line = dialog.client_combo.lineEdit()
        assert line is not None
        qtbot.keyClicks(line, "Jordan Lee")
        assert dialog.consent_combo.currentData() == "written"
        assert dialog.consent_hint.isVisible() and "last session" in dialog.consent_hint.text()
        screenshot(dialog, "import-returning-client-consent")

        dialog.set_client_text("Robin Park")  # a new client: no consent on record
        assert dialog.consent_combo.currentData() == "" and not dialog.consent_hint.isVisible()
        dialog.set_client_text("jordan lee")
        assert dialog.consent_combo.currentData() == "written"

        dialog.set_consent("verbal")  # the therapist's own choice is kept whoever the client is
        dialog.set_client_text("Robin Park")
        dialog.set_client_text("Jordan Lee")
        assert dialog.consent_combo.currentData() == "verbal"
        dialog.reject()
        assert await task is None

    aio.run(scenario())


def test_waiting_for_consent_is_said_and_recorded_in_the_processing_dialog_and_header(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, tmp_path: Path, screenshot: Any
) -> None:
    runner = QuietRunner()
    service = SessionService(ui_ctx, therapist)
    window = make_window(qtbot, ui_ctx, therapist, runner, size=(1040, 720), sessions=service)

    info = aio.run(
        window.imports.run_import(ImportRequest(source=write_tone(tmp_path / "c.wav", 500), client_name="Casey"))
    )
    assert info is not None
    dialog = window.imports.processing_dialog
    assert dialog is not None and dialog.session_id == info.id
    assert dialog.state == "consent"
    assert dialog.stage_label.text() == "Waiting for consent"
    assert dialog.percent_label.text() == "" and not dialog.progress_bar.isVisible()
    assert dialog.consent_row.isVisible() and not dialog.cancel_button.isVisible()
    assert dialog.close_button.isVisible()
    screenshot(dialog, "processing-waiting-for-consent")

    woken = runner.woken
    qtbot.mouseClick(dialog.consent_buttons["verbal"], Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: dialog.state == "queued", message="the consent to be recorded"))
    assert not dialog.consent_row.isVisible() and dialog.stage_label.text() == "Waiting to start"
    assert runner.woken > woken
    stored = service.get_sync(info.id)
    assert stored.consent_method == "verbal" and stored.consent_obtained_at is not None
    with ui_ctx.db.unit_of_work() as s:
        jobs = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).all()
        assert [j.status for j in jobs] == ["queued"]

    # The session header: "Waiting for consent", and the consent recorded right below it.
    other = service.import_recording_sync(ImportRequest(source=write_tone(tmp_path / "d.wav", 520)))
    aio.run(window.open_session(other.id))
    view = window.session_view
    assert view.status_label.text() == "Waiting for consent"
    assert view.consent_bar.isVisible()
    screenshot(window, "session-waiting-for-consent")
    qtbot.mouseClick(view.consent_bar.buttons["written"], Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: view.status_label.text() == "Queued", message="the header to follow"))
    assert not view.consent_bar.isVisible()
    assert service.get_sync(other.id).consent_method == "written"
