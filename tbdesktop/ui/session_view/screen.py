"""What the session controller needs from the session view it serves, declared here so that the view builds its
controller and the controller never imports the view."""

from __future__ import annotations

import uuid
from typing import Protocol

from PySide6.QtCore import SignalInstance

from tbdesktop.services.dto import NoteInfo, RiskFlagInfo, SegmentInfo, SessionInfo, TemplateInfo
from tbdesktop.ui.anonymous_toggle import AnonymousToggle
from tbdesktop.ui.audio_player import AudioPlayer
from tbdesktop.ui.conflict_panel import ConflictPanel
from tbdesktop.ui.notes_panel import NotesPanel
from tbdesktop.ui.session_view.bars import SpeakersBar
from tbdesktop.ui.speakers.widgets import SpeakerActions
from tbdesktop.ui.transcript import TranscriptView


class SessionScreen(Protocol):
    """What the controller needs from the session view: its signals, its widgets, the session shown and how to
    show another."""

    @property
    def speakerRoleChanged(self) -> SignalInstance: ...

    @property
    def consentRecorded(self) -> SignalInstance: ...

    @property
    def notify(self) -> SignalInstance: ...

    @property
    def changed(self) -> SignalInstance: ...

    @property
    def processingQueued(self) -> SignalInstance: ...

    @property
    def speakers_bar(self) -> SpeakersBar: ...

    @property
    def anonymous_toggle(self) -> AnonymousToggle: ...

    @property
    def speaker_actions(self) -> SpeakerActions: ...

    @property
    def transcript(self) -> TranscriptView: ...

    @property
    def conflict_panel(self) -> ConflictPanel: ...

    @property
    def notes_panel(self) -> NotesPanel: ...

    @property
    def player(self) -> AudioPlayer: ...

    @property
    def session_id(self) -> uuid.UUID | None: ...

    @property
    def info(self) -> SessionInfo | None: ...

    def isHidden(self) -> bool: ...

    def set_content(
        self,
        info: SessionInfo,
        segments: list[SegmentInfo],
        note: NoteInfo | None = None,
        flags: list[RiskFlagInfo] | None = None,
        templates: list[TemplateInfo] | None = None,
    ) -> None: ...

    def show_title(self, anonymous: bool) -> None: ...

    def speaker_choices(self) -> list[tuple[str, str]]: ...
