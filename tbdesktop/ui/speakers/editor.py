"""Speaker corrections from the session view: opens the dialogs, calls the session service, reports the outcome.

Owned by SessionView, which hands it the session on screen and turns ``done``/``failed`` into its notifications and
a reload; ``queued`` says a speaker separation was queued (the window wakes the processing runner)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from tbdesktop.services.dto import SegmentInfo, SessionInfo
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.speakers.service import NEW_SPEAKER
from tbdesktop.ui.aio import accepted, spawn
from tbdesktop.ui.speakers.dialogs import AddSpeakerDialog, MergeSpeakersDialog, RediarizeDialog, SplitLineDialog
from tbdesktop.ui.transcript import Line, speaker_number

REGENERATE = " The note was written before this change: regenerate it to use it."


class SpeakerEditor(QObject):
    done = Signal(uuid.UUID, str)  # session id, message
    failed = Signal(str)
    queued = Signal(uuid.UUID)  # session id: a speaker separation waits for the runner

    def __init__(self, sessions: SessionService | None, parent: QWidget) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._parent = parent
        self._info: SessionInfo | None = None
        self._segments: list[SegmentInfo] = []
        self._choices: list[tuple[str, str]] = []
        self.dialog: QDialog | None = None  # the dialog open now (one at a time)

    def set_session(self, info: SessionInfo, segments: list[SegmentInfo], choices: list[tuple[str, str]]) -> None:
        self._info, self._segments, self._choices = info, list(segments), list(choices)

    def _label(self, speaker: str) -> str:
        return dict(self._choices).get(speaker, speaker_number(speaker))

    def _start(self, work: Callable[[SessionService, uuid.UUID], Coroutine[Any, Any, None]]) -> None:
        sessions, info = self._sessions, self._info
        if sessions is None or info is None or self.dialog is not None:
            return
        spawn(work(sessions, info.id), on_error=self.failed.emit)

    async def _ask(self, dialog: QDialog) -> bool:
        return await accepted(dialog, self._hold)

    def _hold(self, dialog: QDialog | None) -> None:
        self.dialog = dialog

    def _report(self, session_id: uuid.UUID, message: str, needs_regeneration: bool) -> None:
        self.done.emit(session_id, message + (REGENERATE if needs_regeneration else ""))

    # -- split a line ---------------------------------------------------------------------------------

    def split_line(self, line: Line, at_word: int | None) -> None:
        """Split ``line`` where the therapist clicked (``at_word``), after confirming the word and speaker."""

        async def work(sessions: SessionService, session_id: uuid.UUID) -> None:
            dialog = SplitLineDialog(line, at_word, self._choices, parent=self._parent)
            if not await self._ask(dialog):
                return
            at, speaker, role, name = dialog.at_word, dialog.speaker, dialog.role, dialog.name
            change = await sessions.split_line(session_id, line.idx, at, speaker, role=role, name=name)
            self._report(
                session_id,
                f"Line split: the new line is {self._label(change.speaker or '')}'s.",
                change.needs_regeneration,
            )

        self._start(work)

    # -- a line to a new speaker ------------------------------------------------------------------------

    def move_to_new_speaker(self, idx: int) -> None:
        async def work(sessions: SessionService, session_id: uuid.UUID) -> None:
            dialog = AddSpeakerDialog("Move line to a new speaker", parent=self._parent)
            if not await self._ask(dialog):
                return
            added = await sessions.add_speaker(session_id, dialog.role, dialog.name)
            assert added.speaker is not None
            await sessions.fix_segment(session_id, idx, speaker=added.speaker)
            after = await sessions.get(session_id)
            moved = f"Line moved to the new {speaker_number(added.speaker)}."
            self._report(session_id, moved, after.needs_regeneration)

        self._start(work)

    # -- the speakers bar's actions ---------------------------------------------------------------------

    def merge(self, source: str | None = None) -> None:
        async def work(sessions: SessionService, session_id: uuid.UUID) -> None:
            dialog = MergeSpeakersDialog(self._choices, source, parent=self._parent)
            if not await self._ask(dialog):
                return
            source_label, into_label = self._label(dialog.source), self._label(dialog.into)
            change = await sessions.merge_speakers(session_id, dialog.source, dialog.into)
            count = len(change.lines)
            message = f"{source_label} merged into {into_label} ({count} line{'' if count == 1 else 's'})."
            self._report(session_id, message, change.needs_regeneration)

        self._start(work)

    def add(self) -> None:
        async def work(sessions: SessionService, session_id: uuid.UUID) -> None:
            dialog = AddSpeakerDialog(parent=self._parent)
            if not await self._ask(dialog):
                return
            change = await sessions.add_speaker(session_id, dialog.role, dialog.name)
            self._report(session_id, f"{speaker_number(change.speaker or '')} added.", False)

        self._start(work)

    def rediarize(self) -> None:
        async def work(sessions: SessionService, session_id: uuid.UUID) -> None:
            current = len({seg.speaker for seg in self._segments}) or 2
            dialog = RediarizeDialog(current, parent=self._parent)
            if not await self._ask(dialog):
                return
            voices = dialog.voices
            await sessions.rediarize(session_id, voices)
            self.queued.emit(session_id)
            count = "automatically" if voices is None else f"into {voices} voice{'' if voices == 1 else 's'}"
            self.done.emit(session_id, f"Separating the speakers again, {count}.")

        self._start(work)


__all__ = ["NEW_SPEAKER", "SpeakerEditor"]
