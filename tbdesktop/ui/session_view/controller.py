"""What the session view's widgets ask for, done through the services: loading the session, its notes (regenerate,
a version, edit, addendum, sign, flags reviewed), its speakers and lines, consent, the anonymous switch, sync
conflicts, exports, and the decrypted copy the player reads."""

from __future__ import annotations

import asyncio
import uuid

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.errors import TBError
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.convert import MASK
from tbdesktop.services.dto import NoteInfo, ProgressEvent, RiskFlagInfo, SessionInfo
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.conflict_panel import DONE
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.notes_panel import NoteEditDialog
from tbdesktop.ui.session_view.screen import SessionScreen
from tbdesktop.ui.speakers.editor import SpeakerEditor
from tbdesktop.ui.transcript import Line, LineFixDialog, speaker_number

# Statuses in which the note is being (or waits to be) written.
WRITING = ("generating_notes", "queued")


class SessionController(QObject):
    """One per session view; every service call the view needs goes through here, off the UI thread. ``parent``
    (the view's widget) owns the controller and its dialogs."""

    def __init__(self, services: AppServices, view: SessionScreen, parent: QWidget) -> None:
        super().__init__(parent)
        self._services = services
        self._view = view
        self._parent = parent
        self.line_dialog: LineFixDialog | None = None
        self.speaker_editor = SpeakerEditor(services.sessions, parent)
        self.speaker_editor.done.connect(self._done)
        self.speaker_editor.failed.connect(self._error)
        self.speaker_editor.queued.connect(view.processingQueued)
        self.exporter = NoteExporter(services.export, parent)  # copy, export and print the note shown (audited)
        self.exporter.notify.connect(view.notify)

        view.speakerRoleChanged.connect(self.change_speaker_role)
        view.consentRecorded.connect(self.record_consent)
        view.speakers_bar.nameChanged.connect(self.rename_speaker)
        view.anonymous_toggle.changeRequested.connect(self.set_anonymous)
        actions = view.speaker_actions
        actions.mergeRequested.connect(lambda: self.speaker_editor.merge())
        actions.addRequested.connect(self.speaker_editor.add)
        actions.rediarizeRequested.connect(self.speaker_editor.rediarize)
        transcript = view.transcript
        transcript.fixRequested.connect(self.correct_line)
        transcript.moveRequested.connect(self.move_line)
        transcript.splitRequested.connect(self.split_line)
        transcript.newSpeakerRequested.connect(self.speaker_editor.move_to_new_speaker)
        view.conflict_panel.loadRequested.connect(self.load_conflicts)
        view.conflict_panel.resolveRequested.connect(self.resolve_conflict)
        panel = view.notes_panel
        panel.export_button.noteRequested.connect(self.exporter.export_note)
        panel.regenerateRequested.connect(self.regenerate)
        panel.versionRequested.connect(self.show_version)
        panel.signRequested.connect(self.sign)
        panel.editRequested.connect(lambda: self.edit_note(addendum=False))
        panel.addendumRequested.connect(lambda: self.edit_note(addendum=True))
        panel.flagReviewRequested.connect(self.review_flag)

    # -- loading --------------------------------------------------------------------------------------

    async def open(self, session_id: uuid.UUID, version: int | None = None) -> SessionInfo:
        """Read the session, its note (``version``, else the latest), flags and the templates, and show them."""
        sessions, notes = self._services.sessions, self._services.notes
        info = await sessions.get(session_id)
        segments = await sessions.transcript(session_id)
        note = await self._note(session_id, version)
        flags = await notes.risk_flags(session_id)
        templates = await self._services.templates.list_templates()
        self._view.set_content(info, segments, note, flags, templates)
        self._view.notes_panel.set_busy(info.status in WRITING)
        return info

    async def reload(self) -> None:
        """Read the session shown again, keeping an older note version on screen if one is shown."""
        session_id = self._view.session_id
        if session_id is None:
            return
        shown = self._view.notes_panel.note
        older = shown is not None and bool(shown.versions) and shown.version != shown.versions[-1]
        sessions = self._services.sessions
        info = await sessions.get(session_id)
        segments = await sessions.transcript(session_id)
        note = await self._note(session_id, shown.version if shown is not None and older else None)
        flags: list[RiskFlagInfo] = await self._services.notes.risk_flags(session_id)
        if self._view.session_id == session_id:
            self._view.set_content(info, segments, note, flags)

    async def _note(self, session_id: uuid.UUID, version: int | None) -> NoteInfo | None:
        notes = self._services.notes
        if version is not None:
            return await notes.get(session_id, version)
        return await asyncio.to_thread(notes.latest_or_none_sync, session_id)

    def on_progress(self, event: ProgressEvent) -> None:
        """Progress of the session shown: the speaker actions and the notes follow it; once finished it is read again
        (when on screen; elsewhere the window offers to open it)."""
        view = self._view
        if event.session_id != view.session_id:
            return
        view.speaker_actions.show_progress(event)
        panel = view.notes_panel
        if event.status in WRITING:
            panel.set_busy(True, event.progress, event.stage_detail or "Writing notes…")
        elif event.finished:
            panel.set_busy(False)
            if view.isHidden():
                return
            if event.error:
                self._error(event.error)
            spawn(self.open(event.session_id), on_error=self._error)

    def play_recording(self, session_id: uuid.UUID) -> None:
        """Have the player decrypt the recording off the UI thread (the copy goes when the player lets it go)."""
        sessions = self._services.sessions
        self._view.player.open_recording(session_id, lambda: sessions.open_recording(session_id))

    # -- feedback -------------------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        self._view.notify.emit("error", message)

    def _done(self, session_id: uuid.UUID, message: str) -> None:
        """A change was made: say so, tell the window, and read the session again if it is still shown."""
        self._view.notify.emit("success", message)
        self._view.changed.emit(session_id)
        if self._view.session_id == session_id:
            spawn(self.reload(), on_error=self._error)

    async def _reopen(self, session_id: uuid.UUID, message: str) -> None:
        """After a change to the note or the session: shown again from scratch, the window told, the user too."""
        if self._view.session_id == session_id:
            await self.open(session_id)
        self._view.changed.emit(session_id)
        self._view.notify.emit("success", message)

    # -- the note -------------------------------------------------------------------------------------

    def regenerate(self, template_id: uuid.UUID) -> None:
        session_id = self._view.session_id
        if session_id is not None:
            spawn(self._regenerate(session_id, template_id), on_error=self._error)

    async def _regenerate(self, session_id: uuid.UUID, template_id: uuid.UUID) -> None:
        panel = self._view.notes_panel
        panel.set_busy(True, 0, "Waiting to write notes…")
        try:
            await self._services.notes.regenerate(session_id, template_id)
        except TBError:
            panel.set_busy(False)
            raise
        self._view.processingQueued.emit(session_id)

    def show_version(self, version: int) -> None:
        session_id = self._view.session_id
        if session_id is not None:
            spawn(self.open(session_id, version), on_error=self._error)

    def sign(self) -> None:
        session_id = self._view.session_id
        if session_id is not None:
            spawn(self._sign(session_id), on_error=self._error)

    async def _sign(self, session_id: uuid.UUID) -> None:
        await self._services.notes.sign(session_id)
        await self._reopen(session_id, "Note signed.")

    def edit_note(self, *, addendum: bool) -> None:
        note = self._view.notes_panel.note
        if note is not None:
            spawn(self._edit_note(note, addendum), on_error=self._error)

    async def _edit_note(self, note: NoteInfo, addendum: bool) -> None:
        notes, session_id = self._services.notes, note.session_id
        dialog = NoteEditDialog(note, addendum=addendum, parent=self._parent.window())
        try:
            if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
                return
            if addendum:
                await notes.add_addendum(session_id, dialog.text)
            else:
                await notes.update_section(session_id, dialog.section_key, dialog.text)
        finally:
            dialog.deleteLater()
        await self._reopen(session_id, "Addendum added." if addendum else "Note updated.")

    def review_flag(self, kind: str, segment_idx: int) -> None:
        """Mark a risk flag of the latest note reviewed (``segment_idx`` -1: the flag quotes no line)."""
        session_id = self._view.session_id
        if session_id is None:
            return
        panel = self._view.notes_panel

        def failed(message: str) -> None:
            panel.flags_list.review_failed()
            self._error(message)

        def done(flags: list[RiskFlagInfo]) -> None:
            if self._view.session_id == session_id:
                panel.set_flags(flags)

        idx = segment_idx if segment_idx >= 0 else None
        spawn(self._services.notes.mark_flag_reviewed(session_id, kind, idx), on_error=failed, on_done=done)

    # -- the session ----------------------------------------------------------------------------------

    def change_speaker_role(self, speaker: str, role: str) -> None:
        session_id = self._view.session_id
        if session_id is not None:
            spawn(self._change_speaker_role(session_id, speaker, role), on_error=self._error)

    async def _change_speaker_role(self, session_id: uuid.UUID, speaker: str, role: str) -> None:
        await self._services.sessions.set_speaker_role(session_id, speaker, role)
        await self._reopen(session_id, "Speaker role updated.")

    def record_consent(self, method: str) -> None:
        session_id = self._view.session_id
        if session_id is not None:
            spawn(self._record_consent(session_id, method), on_error=self._error)

    async def _record_consent(self, session_id: uuid.UUID, method: str) -> None:
        await self._services.sessions.update(session_id, consent_method=method)
        self._view.processingQueued.emit(session_id)
        await self._reopen(session_id, "Consent recorded; the session is being processed.")

    def rename_speaker(self, speaker: str, name: str) -> None:
        session_id = self._view.session_id
        if session_id is None:
            return
        label = name or speaker_number(speaker)
        spawn(
            self._services.sessions.update(session_id, speaker_names={speaker: name or None}),
            on_error=self._error,
            on_done=lambda _info: self._done(session_id, f"{speaker_number(speaker)} is now shown as {label}."),
        )

    def set_anonymous(self, on: bool) -> None:
        """The switch was flipped: the header changes now; the service is asked, and on failure it flips back."""
        view, info = self._view, self._view.info
        if info is None:
            view.anonymous_toggle.set_on(False)
            return
        session_id, before = info.id, info.is_anonymous
        view.anonymous_toggle.set_on(on)
        view.show_title(on)
        view.anonymous_toggle.setEnabled(False)

        def failed(message: str) -> None:
            if view.session_id == session_id:
                view.anonymous_toggle.set_on(before)
                view.show_title(before)
            view.anonymous_toggle.setEnabled(True)
            self._error(message)

        def done(_info: SessionInfo) -> None:
            view.anonymous_toggle.setEnabled(True)
            message = (
                "The session is anonymous: the client's name is hidden."
                if on
                else "The client's name is shown again in this session."
            )
            self._done(session_id, message)

        spawn(self._services.sessions.set_anonymous(session_id, on), on_error=failed, on_done=done)

    # -- transcript lines -----------------------------------------------------------------------------

    def move_line(self, idx: int, speaker: str) -> None:
        label = dict(self._view.speaker_choices()).get(speaker, speaker_number(speaker))
        self._fix_line(idx, None, speaker, f"Line moved to {label}.")

    def split_line(self, idx: int, word: int) -> None:
        """Split line ``idx`` from a word on (the one right-clicked, else chosen in the dialog)."""
        line = next((x for x in self._view.transcript.lines() if x.idx == idx), None)
        if line is not None:
            self.speaker_editor.split_line(line, word if word >= 0 else None)

    def _fix_line(self, idx: int, text: str | None, speaker: str | None, message: str) -> None:
        session_id = self._view.session_id
        if session_id is None:
            return
        spawn(
            self._services.sessions.fix_segment(session_id, idx, text=text, speaker=speaker),
            on_error=self._error,
            on_done=lambda _segment: self._done(session_id, message),
        )

    def correct_line(self, idx: int) -> None:
        """Open the correction dialog for line `idx` (words and speaker)."""
        line = next((x for x in self._view.transcript.lines() if x.idx == idx), None)
        if line is None or self.line_dialog is not None:
            return
        spawn(self._correct(line), on_error=self._error)

    async def _correct(self, line: Line) -> None:
        view = self._view
        dialog = LineFixDialog(line, view.speaker_choices(), parent=self._parent)
        if MASK in line.text and view.info is not None and view.info.is_anonymous:
            dialog.warn(f"The client's name shows as {MASK} while the session is anonymous; saving keeps {MASK}.")
        self.line_dialog = dialog
        try:
            result = await run_dialog(dialog)
            text, speaker = dialog.text, dialog.speaker
        finally:
            self.line_dialog = None
            dialog.deleteLater()
        if result != QDialog.DialogCode.Accepted:
            return
        new_text = text if text != line.text else None
        new_speaker = speaker if speaker != line.speaker else None
        if new_text is None and new_speaker is None:
            return
        self._fix_line(line.idx, new_text, new_speaker, "Transcript line corrected.")

    # -- sync conflicts -------------------------------------------------------------------------------

    def load_conflicts(self, session_id: uuid.UUID) -> None:
        sync, user_id = self._services.sync, self._services.user.id

        async def load() -> None:
            found = await asyncio.to_thread(sync.conflicts, user_id, session_id)
            self._view.conflict_panel.show_conflicts(session_id, found)

        spawn(load(), on_error=self._error)

    def resolve_conflict(self, session_id: uuid.UUID, conflict_id: uuid.UUID, action: str) -> None:
        sync, user_id = self._services.sync, self._services.user.id

        def failed(message: str) -> None:
            self._view.conflict_panel.resolve_failed(conflict_id)
            self._error(message)

        spawn(
            asyncio.to_thread(sync.resolve_conflict, user_id, conflict_id, action),
            on_error=failed,
            on_done=lambda _c: self._done(session_id, DONE[action]),
        )
