"""Copy, Export PDF…, Export DOCX… and Print… from the notes panel's Export button and from a session card's menu:
the clipboard holds the note as text, the save dialog writes the file the user picked (read back), the print
dialog prints to a PDF file, each export is audited, and a refusal reaches the user as a message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from export_support import CLIENT, LINES, SESSION_DATE, docx_text, pdf_pages, phi_free, session_with_note, tone_wav
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog, QLineEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import select
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import AuditEvent
from tbdesktop.ui import export_menu
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.session_view import SessionView
from tbdesktop.ui.sessions_page import SessionsPage

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[..., Path]
Messages = list[tuple[str, str]]


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return tone_wav(tmp_path / "audio")


def _exports(ctx: AppContext) -> list[str]:
    with ctx.db.unit_of_work() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("note.export.%"))))


def _listen(exporter: NoteExporter) -> tuple[Messages, list[str]]:
    messages: Messages = []
    done: list[str] = []
    exporter.notify.connect(lambda kind, text: messages.append((kind, text)))
    exporter.finished.connect(done.append)
    return messages, done


async def _save_as(aio: AsyncDriver, exporter: NoteExporter, path: Path) -> str:
    """Wait for the save dialog, check the name it offers, pick ``path`` and accept."""
    await aio.until(lambda: isinstance(exporter.dialog, QFileDialog), message="the save dialog")
    dialog = exporter.dialog
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    assert dialog.objectName() == "exportSaveDialog" and dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    offered = Path(dialog.selectedFiles()[0]).name
    name_edit = dialog.findChild(QLineEdit, "fileNameEdit")  # what the user types the file's name into
    assert name_edit is not None and name_edit.text() == offered
    name_edit.setText(str(path))
    assert dialog.selectedFiles() == [str(path)]
    dialog.accept()
    await aio.until(lambda: exporter.dialog is None and not exporter.busy, message="the export to finish")
    return offered


def test_notes_panel_copies_saves_and_prints_the_note(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    wav: Path,
    tmp_path: Path,
    screenshot: Shot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = session_with_note(ui_ctx, therapist, wav)
    view = SessionView(AppServices.compose(ui_ctx, therapist))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    aio.run(view.open(info.id))
    button = view.notes_panel.export_button
    assert button.isVisible() and button.isEnabled() and button.text() == "Export"
    menu = button.menu()
    assert menu is not None
    assert [a.objectName() for a in menu.actions()] == [
        "copyNoteAction",
        "exportPdfAction",
        "exportDocxAction",
        "printNoteAction",
        "includeTranscriptAction",
    ]
    assert view.controller.exporter is not None
    messages, done = _listen(view.controller.exporter)
    actions = button.export_actions

    # Copy: the note as plain text on the clipboard.
    QGuiApplication.clipboard().clear()
    actions.copy_action.trigger()
    aio.run(aio.until(lambda: done == ["copy"], message="the copy"))
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("PROGRESS NOTE\n") and f"Client: {CLIENT}" in copied and "TRANSCRIPT" not in copied
    assert messages[-1] == ("success", "Note copied: paste it into the client's record.")

    # Export PDF… with the transcript: the save dialog offers a name without the client's, writes the chosen file.
    actions.transcript_action.setChecked(True)
    actions.pdf_action.trigger()
    pdf = tmp_path / "out" / "note.pdf"
    pdf.parent.mkdir()
    offered = aio.run(_save_as(aio, view.controller.exporter, pdf))
    assert offered == f"session-{SESSION_DATE.isoformat()}-{info.id.hex[:8]}.pdf"
    assert done[-1] == "pdf" and messages[-1] == ("success", "Note saved as note.pdf.")
    pages = pdf_pages(pdf)
    text = " ".join(" ".join(pages).split())
    assert "Progress note" in text and CLIENT in text and "Transcript" in text and LINES[3][1] in text
    assert "Page 1 of" in pages[0]

    # Export DOCX… without the transcript.
    actions.transcript_action.setChecked(False)
    actions.docx_action.trigger()
    docx = tmp_path / "out" / "note.docx"
    aio.run(_save_as(aio, view.controller.exporter, docx))
    body = docx_text(docx)["body"]
    assert "Progress note" in body and "Transcript" not in body

    # Print…: Qt's print dialog, here printing to a PDF file.
    printed = tmp_path / "out" / "printed.pdf"

    def pdf_printer() -> QPrinter:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(printed))
        return printer

    monkeypatch.setattr(export_menu, "new_printer", pdf_printer)
    actions.print_action.trigger()

    async def accept_print() -> None:
        await aio.until(lambda: isinstance(view.controller.exporter.dialog, QPrintDialog), message="the print dialog")
        dialog = view.controller.exporter.dialog
        assert isinstance(dialog, QPrintDialog) and dialog.isVisible()
        screenshot(dialog, "export-print-dialog")
        dialog.accept()
        await aio.until(lambda: done[-1] == "print", message="the note to print")

    aio.run(accept_print())
    assert printed.is_file() and "Electronically signed" not in " ".join(pdf_pages(printed))
    assert "DRAFT" in pdf_pages(printed)[0]
    assert messages[-1][0] == "success" and messages[-1][1].startswith("Note sent to the printer (")
    expected = ["note.export.copy", "note.export.pdf+transcript", "note.export.docx", "note.export.print"]
    assert _exports(ui_ctx) == expected

    # Cancelling the save dialog writes and records nothing.
    actions.docx_action.trigger()

    async def cancel() -> None:
        await aio.until(lambda: isinstance(view.controller.exporter.dialog, QFileDialog), message="the save dialog")
        view.controller.exporter.dialog.reject()
        await aio.until(lambda: not view.controller.exporter.busy, message="the export to end")

    aio.run(cancel())
    assert len(_exports(ui_ctx)) == 4 and done[-1] == "print"

    menu.popup(button.mapToGlobal(QPoint(0, button.height())))
    aio.run(aio.settled())
    screenshot(view, "export-notes-panel")
    screenshot(menu, "export-menu")
    menu.close()


def test_card_menu_exports_the_latest_note_and_reports_refusals(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    wav: Path,
    tmp_path: Path,
    screenshot: Shot,
) -> None:
    service = SessionService(ui_ctx, therapist)
    info = session_with_note(ui_ctx, therapist, wav, anonymous=True)
    bare = service.import_recording_sync(ImportRequest(source=wav, consent_method="verbal", allow_duplicate=True))
    waiting = service.import_recording_sync(ImportRequest(source=wav, allow_duplicate=True))  # no consent yet
    page = SessionsPage(AppServices.compose(ui_ctx, therapist), ProgressBridge())
    qtbot.addWidget(page)
    page.resize(1100, 760)
    page.show()
    aio.run(page.refresh())
    messages, done = _listen(page.exporter)

    menu = page.open_menu(info.id, page.mapToGlobal(QPoint(200, 200)))
    assert menu is not None and menu.isVisible()
    names = [a.objectName() for a in menu.actions() if not a.isSeparator()]
    assert names[:6] == [
        "reassignAction",
        "copyNoteAction",
        "exportPdfAction",
        "exportDocxAction",
        "printNoteAction",
        "includeTranscriptAction",
    ]
    assert all(a.isEnabled() for a in menu.export_actions.actions)
    aio.run(aio.settled())
    screenshot(menu, "export-card-menu")

    # Ticking "Include transcript" leaves the menu open; a click on Copy note then copies with the transcript:
    # an anonymous client's name is nowhere in it.
    box = menu.export_actions.transcript_action
    assert not box.isChecked()
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(box).center())
    assert box.isChecked() and menu.isVisible()
    screenshot(menu, "export-card-menu-transcript")
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(menu.export_actions.copy_action).center())
    aio.run(aio.until(lambda: done == ["copy"], message="the copy"))
    copied = QGuiApplication.clipboard().text()
    assert "Client: Anonymous individual" in copied and "TRANSCRIPT" in copied and phi_free(copied)

    # Export DOCX… from the card writes the latest note.
    menu = page.open_menu(info.id, page.mapToGlobal(QPoint(200, 200)))
    assert menu is not None
    menu.export_actions.docx_action.trigger()
    target = tmp_path / "card.docx"
    offered = aio.run(_save_as(aio, page.exporter, target))
    assert offered.endswith(f"{info.id.hex[:8]}.docx") and done[-1] == "docx"
    doc = docx_text(target)
    assert "Client: Anonymous individual" in doc["body"] and phi_free(doc["body"] + doc["header"])
    assert "Transcript" in doc["body"]  # the check box stayed on

    # Sessions with no note: the entries are off and say why; asked anyway, the service's refusal is a message
    # and nothing is written or recorded.
    for session_id, why in (
        (bare.id, "This session has no note yet: it is written when processing finishes"),
        (waiting.id, "This session has no note yet: record the client's consent first"),
    ):
        menu = page.open_menu(session_id, page.mapToGlobal(QPoint(200, 200)))
        assert menu is not None
        for action in menu.export_actions.actions:
            assert not action.isEnabled() and action.toolTip() == why
        menu.close()
    before = _exports(ui_ctx)
    page.exporter.export_session(bare.id, "copy", False)
    aio.run(aio.until(lambda: messages and messages[-1][0] == "error", message="the refusal"))
    assert messages[-1] == ("error", "This session has no note yet.")
    assert _exports(ui_ctx) == before == ["note.export.copy+transcript", "note.export.docx+transcript"]


def test_no_note_turns_the_transcript_tick_off_in_every_export_menu(qtbot: QtBot) -> None:
    button = export_menu.ExportButton()
    qtbot.addWidget(button)
    actions = button.export_actions
    box = actions.transcript_action
    assert not box.isEnabled() and not box.isChecked() and box.toolTip() == export_menu.NO_NOTE
    actions.set_blocker(None)
    assert box.isEnabled() and all(a.isEnabled() for a in actions.actions)
    box.setChecked(True)
    actions.set_transcript_available(False, "The transcript was deleted on 3 Nov 2026")
    assert not box.isEnabled() and not box.isChecked()
    actions.set_blocker(export_menu.NO_NOTE)
    assert box.toolTip() == export_menu.NO_NOTE and not any(a.isEnabled() for a in actions.actions)
    actions.set_blocker(None)
    assert not box.isEnabled() and box.toolTip() == "The transcript was deleted on 3 Nov 2026"
    actions.set_transcript_available(True)
    assert box.isEnabled() and box.toolTip() == export_menu.TRANSCRIPT_TIP
