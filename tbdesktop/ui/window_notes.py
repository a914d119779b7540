"""The window's note actions: regenerate with a template, show a version, edit a draft, sign, add an addendum."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.errors import TBError
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.notes_panel import NoteEditDialog

if TYPE_CHECKING:
    from tbdesktop.services.notes import NoteService
    from tbdesktop.ui.main_window import Processing
    from tbdesktop.ui.session_view import SessionView


class NoteActions:
    """Mixed into MainWindow, which provides the note service, the session view and the feedback methods."""

    if TYPE_CHECKING:
        notes: NoteService
        processing: Processing
        session_view: SessionView

        async def open_session(self, session_id: uuid.UUID, version: int | None = None) -> None: ...

        def show_error(self, message: str) -> None: ...

        def show_success(self, message: str) -> None: ...

    def regenerate_notes(self, template_id: object) -> None:
        session_id = self.session_view.session_id
        if session_id is None or not isinstance(template_id, uuid.UUID):
            return
        spawn(self._regenerate(session_id, template_id), on_error=self.show_error)

    async def _regenerate(self, session_id: uuid.UUID, template_id: uuid.UUID) -> None:
        self.session_view.notes_panel.set_busy(True, 0, "Waiting to write notes…")
        try:
            await self.notes.regenerate(session_id, template_id)
        except TBError:
            self.session_view.notes_panel.set_busy(False)
            raise
        self.processing.wake()

    def show_note_version(self, version: int) -> None:
        session_id = self.session_view.session_id
        if session_id is not None:
            spawn(self.open_session(session_id, version), on_error=self.show_error)

    def sign_note(self) -> None:
        session_id = self.session_view.session_id
        if session_id is not None:
            spawn(self._sign(session_id), on_error=self.show_error)

    async def _sign(self, session_id: uuid.UUID) -> None:
        await self.notes.sign(session_id)
        await self.open_session(session_id)
        self.show_success("Note signed.")

    def edit_note(self, *, addendum: bool) -> None:
        note = self.session_view.notes_panel.note
        if note is not None:
            spawn(self._edit_note(note.session_id, note, addendum), on_error=self.show_error)

    async def _edit_note(self, session_id: uuid.UUID, note: Any, addendum: bool) -> None:
        dialog = NoteEditDialog(note, addendum=addendum, parent=cast(QWidget, self))
        try:
            if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
                return
            if addendum:
                await self.notes.add_addendum(session_id, dialog.text)
            else:
                await self.notes.update_section(session_id, dialog.section_key, dialog.text)
        finally:
            dialog.deleteLater()
        await self.open_session(session_id)
        self.show_success("Addendum added." if addendum else "Note updated.")
