"""One session: a header (client, date, duration, status, anonymous switch), the recording's player, the transcript
synced with it, and the notes. The widgets render what they are given and emit what the user asks for; the
controller (``controller.py``) loads the session and turns the requests into service calls."""

from __future__ import annotations

import bisect
import uuid
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QSplitter, QToolButton, QVBoxLayout, QWidget

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import NoteInfo, ProgressEvent, RiskFlagInfo, SegmentInfo, SessionInfo, TemplateInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.services.speakers.edits import cited_lines
from tbdesktop.ui.audio_player import AudioPlayer
from tbdesktop.ui.conflict_panel import ConflictPanel
from tbdesktop.ui.notes_panel import NotesPanel
from tbdesktop.ui.resources import icon
from tbdesktop.ui.session_view.bars import ConsentBar, SpeakersBar
from tbdesktop.ui.session_view.controller import SessionController
from tbdesktop.ui.session_view.header import SessionHeader, day_month_year
from tbdesktop.ui.speakers.widgets import RegenerateBanner, SpeakerActions
from tbdesktop.ui.transcript import TranscriptView, build_lines, segment_row, speaker_choices, speaker_colours

# A line stays marked as playing through a pause shorter than this before the next line starts.
HOLD_S = 2.0


class SessionView(QWidget):
    """Without services it only shows what ``set_content`` gives it (nothing is editable, nothing is played)."""

    backRequested = Signal()
    speakerRoleChanged = Signal(str, str)  # speaker, role
    consentRecorded = Signal(str)  # verbal | written | electronic
    notify = Signal(str, str)  # "success" | "error", message
    changed = Signal(uuid.UUID)  # after a change made here
    processingQueued = Signal(uuid.UUID)  # work for the processing runner was queued here
    cancelRequested = Signal(uuid.UUID)  # stop its processing

    def __init__(self, services: AppServices | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._info: SessionInfo | None = None
        self._segments: list[SegmentInfo] = []
        self._starts: list[float] = []
        self._highlighted: set[int] = set()
        self._client_names: dict[uuid.UUID, str] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 12, 32, 20)
        layout.setSpacing(10)

        self.back_button = QToolButton()
        self.back_button.setObjectName("backButton")
        self.back_button.setText("Sessions")
        self.back_button.setIcon(icon("back"))
        self.back_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.back_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.back_button.clicked.connect(self.backRequested)
        layout.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.header = SessionHeader()
        self.title_label = self.header.title_label
        self.summary_label = self.header.summary_label
        self.duration_label = self.header.duration_label
        self.status_label = self.header.status_label
        self.anonymous_toggle = self.header.anonymous_toggle
        self.anonymous_toggle.setVisible(services is not None)
        layout.addWidget(self.header)

        self.consent_bar = ConsentBar()
        self.consent_bar.consentRecorded.connect(self.consentRecorded)
        self.consent_bar.setVisible(False)
        layout.addWidget(self.consent_bar)

        self.speakers_bar = SpeakersBar()
        self.speakers_bar.roleChanged.connect(self.speakerRoleChanged)
        self.speakers_bar.setVisible(False)
        self.speaker_actions = SpeakerActions()
        self.speaker_actions.cancelRequested.connect(self._cancel)
        self.speaker_actions.setVisible(False)
        # side by side when the window has the room, the actions under the speakers when it has not
        self.speakers_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.speakers_row.setSpacing(0)
        self.speakers_row.addWidget(self.speakers_bar, 1)
        self.speakers_row.addWidget(self.speaker_actions, 0, Qt.AlignmentFlag.AlignRight)
        layout.addLayout(self.speakers_row)
        self.regenerate_banner = RegenerateBanner()
        layout.addWidget(self.regenerate_banner)
        self.conflict_panel = ConflictPanel()
        layout.addWidget(self.conflict_panel)

        self.player = AudioPlayer()
        self.player.positionChanged.connect(self._position_changed)
        self.player.setVisible(False)
        # Clinic mode: a session recorded on another workstation has its recording there only.
        self.elsewhere_label = QLabel("")
        self.elsewhere_label.setObjectName("recordingElsewhere")
        self.elsewhere_label.setWordWrap(True)
        self.elsewhere_label.setVisible(False)
        self.transcript = TranscriptView()
        self.transcript.lineActivated.connect(self.play_line)
        self.notes_panel = NotesPanel()
        self.notes_panel.evidenceRequested.connect(self.show_evidence)
        self.notes_panel.export_button.setVisible(services is not None)
        self.regenerate_banner.regenerateRequested.connect(self.notes_panel.regenerate_button.click)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("sessionSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self._build_transcript_card())
        self.splitter.addWidget(self.notes_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        self.controller = SessionController(services, self, parent=self) if services is not None else None

    def _build_transcript_card(self) -> QFrame:
        card = QFrame()
        card.setObjectName("transcriptCard")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(16, 12, 8, 8)
        card_layout.setSpacing(8)
        section_row = QHBoxLayout()
        section_row.setContentsMargins(4, 0, 8, 0)
        section_title = QLabel("Transcript")
        section_title.setObjectName("sectionTitle")
        self.segment_count_label = QLabel()
        self.segment_count_label.setObjectName("muted")
        section_row.addWidget(section_title)
        section_row.addStretch(1)
        section_row.addWidget(self.segment_count_label)
        card_layout.addLayout(section_row)
        card_layout.addWidget(self.player)
        card_layout.addWidget(self.elsewhere_label)
        card_layout.addWidget(self.transcript, 1)
        return card

    # -- what the window asks of it -------------------------------------------------------------------

    async def open(self, session_id: uuid.UUID, version: int | None = None) -> SessionInfo:
        """Read the session (its note at ``version``, else the latest) once and show it."""
        if self.controller is None:
            raise RuntimeError("a session view without services only shows what it is given")
        return await self.controller.open(session_id, version)

    async def reload(self) -> None:
        """Read the session again where it is (transcript and notes come back masked when it is anonymous)."""
        if self.controller is not None:
            await self.controller.reload()

    def on_progress(self, event: ProgressEvent) -> None:
        """A processing event, of any session (the view keeps those of the one it shows)."""
        if self.controller is not None:
            self.controller.on_progress(event)

    def show_match(self, segment_idx: int) -> bool:
        """Mark and scroll to a search hit's line; False when the line is no longer there."""
        return self.transcript.show_match(segment_idx)

    def _cancel(self) -> None:
        if self.session_id is not None:
            self.cancelRequested.emit(self.session_id)

    # -- content --------------------------------------------------------------------------------------

    @property
    def session_id(self) -> uuid.UUID | None:
        return self._info.id if self._info is not None else None

    @property
    def info(self) -> SessionInfo | None:
        return self._info

    @property
    def segments(self) -> list[SegmentInfo]:
        return list(self._segments)

    @property
    def hidden_client_name(self) -> str | None:
        """The client's name as last seen while the session shown was not anonymous (to mask it in what is shown)."""
        info = self._info
        return self._client_names.get(info.id) if info is not None and info.is_anonymous else None

    def set_content(
        self,
        info: SessionInfo,
        segments: list[SegmentInfo],
        note: NoteInfo | None = None,
        flags: list[RiskFlagInfo] | None = None,
        templates: list[TemplateInfo] | None = None,
    ) -> None:
        if self._info is not None and self._info.id != info.id:
            self.player.release()
        self._info = info
        if not info.is_anonymous and info.client_name:
            self._client_names[info.id] = info.client_name
        self._segments = sorted(segments, key=lambda s: (s.start_s, s.idx))
        self._starts = [s.start_s for s in self._segments]
        self._highlighted = set()
        waiting = info.consent_obtained_at is None and info.stage_detail == AWAITING_CONSENT
        self.consent_bar.setVisible(waiting)
        if templates is not None:
            self.notes_panel.set_templates(templates, note.template_id if note is not None else None)
        can_regenerate = bool(self._segments) and info.transcript_deleted_at is None
        self.notes_panel.set_note(note, list(flags or []), can_regenerate=can_regenerate)
        self.show_title(info.is_anonymous)
        self.anonymous_toggle.set_on(info.is_anonymous)
        self.header.show_info(info, waiting_for_consent=waiting)
        count = len(self._segments)
        self.segment_count_label.setText(f"{count} line" + ("" if count == 1 else "s") if count else "")
        speakers = dict(info.speakers) if self._segments else {}
        for seg in self._segments:
            speakers.setdefault(seg.speaker, {"role": seg.role})
        editable = self.controller is not None
        self.speakers_bar.set_speakers(speakers, self._colours(), names_editable=editable, hide_names=info.is_anonymous)
        editable = editable and bool(self._segments) and info.transcript_deleted_at is None
        self.speaker_actions.setVisible(editable)
        self.speaker_actions.set_session(info, len(speakers))
        self._arrange_speakers()
        if self.controller is not None:
            self.controller.speaker_editor.set_session(info, self._segments, self.speaker_choices())
        self.regenerate_banner.setVisible(editable and info.needs_regeneration and info.status == "completed")
        self._show_transcript(info)
        self._show_recording_state()
        self._order_focus()
        self.conflict_panel.show_session(info, note, self._segments, self.hidden_client_name)

    def _order_focus(self) -> None:
        """Tab goes down the page: header, speakers (rebuilt with each session), player, transcript, notes."""
        chain = [self.back_button, self.anonymous_toggle, *self.speakers_bar.focus_chain(), self.player.play_button]
        for before, after in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(before, after)

    def show_title(self, anonymous: bool) -> None:
        """Title and summary; with `anonymous` the client's name is nowhere in them."""
        if self._info is not None:
            self.header.show_title(self._info, self._client_names.get(self._info.id), anonymous=anonymous)

    def _show_transcript(self, info: SessionInfo) -> None:
        if info.transcript_deleted_at is not None:
            self.transcript.set_notice(f"Transcript deleted on {day_month_year(info.transcript_deleted_at)}")
        elif not self._segments:
            if info.status == "completed":
                self.transcript.set_notice("No speech was found in this recording.")
            elif info.status == "failed":
                self.transcript.set_notice(info.error or "Processing failed; there is no transcript.")
            else:
                self.transcript.set_notice("The transcript appears here when processing has finished.")
        else:
            self.transcript.list.editable = self.controller is not None
            lines = build_lines(self._segments, info.speakers, self._colours(), hide_names=info.is_anonymous)
            self.transcript.set_lines(lines, self.speaker_choices())
            self._position_changed(self.player.position_ms if self.player.loaded else -1)

    def speaker_choices(self) -> list[tuple[str, str]]:
        """(speaker, label) of everyone who speaks in the session shown."""
        info = self._info
        if info is None:
            return []
        return speaker_choices(self._segments, info.speakers, hide_names=info.is_anonymous)

    def rows(self) -> list[str]:
        info = self._info
        speakers = info.speakers if info is not None else {}
        hide = info.is_anonymous if info is not None else False
        with_hours = any(s.start_s >= 3600 for s in self._segments)
        return [segment_row(s, with_hours=with_hours, speakers=speakers, hide_names=hide) for s in self._segments]

    def _colours(self) -> dict[str, tuple[str, str]]:
        return speaker_colours(self._segments, self._info.speakers if self._info else {})

    # -- evidence and the playing line ----------------------------------------------------------------

    def show_evidence(self, indexes: list[int]) -> None:
        """Highlight the transcript lines a note sentence (or risk flag) rests on, scroll to the first, and move the
        recording to where it is said."""
        known = {s.idx for s in self._segments}
        covered = cited_lines(indexes, [(s.idx, s.split_from) for s in self._segments])  # and lines split off
        self._highlighted = {i for i in covered if i in known}
        if self._info is None or not self._highlighted:
            return
        self.transcript.set_evidence(self._highlighted)
        first = min((s for s in self._segments if s.idx in self._highlighted), key=lambda s: s.start_s)
        self._seek(first)

    @property
    def highlighted(self) -> set[int]:
        return set(self._highlighted)

    def line_at(self, seconds: float) -> int | None:
        """The line being said at `seconds` (the last one started, through a short pause after it)."""
        i = bisect.bisect_right(self._starts, seconds) - 1
        if i < 0:
            return None
        seg = self._segments[i]
        return seg.idx if seconds < seg.end_s + HOLD_S else None

    def _position_changed(self, position_ms: int) -> None:
        idx = self.line_at(position_ms / 1000) if position_ms >= 0 else None
        self.transcript.set_current(idx, follow=True)

    def play_line(self, idx: int) -> None:
        """A line was clicked: the recording moves to its start (and plays on if it was playing)."""
        seg = next((s for s in self._segments if s.idx == idx), None)
        if seg is not None:
            self._seek(seg)

    def _seek(self, seg: SegmentInfo) -> None:
        self.transcript.set_current(seg.idx, follow=False)
        if self.session_id is not None and self.player.recording_key == self.session_id:
            self.player.seek(seg.start_s)  # applied once loaded when the recording is still being opened

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.modifiers() and self.player.isVisible():
            self.player.toggle()
            event.accept()
            return
        super().keyPressEvent(event)

    # -- the recording --------------------------------------------------------------------------------

    def _show_recording_state(self) -> None:
        info = self._info
        if info is None:
            return
        elsewhere = info.recording_elsewhere
        self.elsewhere_label.setText(f"Recording kept on {elsewhere}" if elsewhere else "")
        self.elsewhere_label.setVisible(bool(elsewhere))
        if elsewhere:
            self.player.release(remember=False)
            self.player.setVisible(False)
        elif info.recording_deleted_at is not None:
            self.player.release(remember=False)
            self.player.show_message(f"Recording deleted on {day_month_year(info.recording_deleted_at)}")
            self.player.setVisible(True)
        elif not info.recording_available or self.controller is None:
            self.player.release(remember=False)
            self.player.setVisible(False)
        else:
            self.player.setVisible(True)
            if self.isVisible():  # decrypted only while the view is on screen
                self.controller.play_recording(info.id)

    def release(self) -> None:
        """Stop playback and remove the decrypted copy of the recording (it is opened again when shown)."""
        self.player.release()

    @property
    def recording_path(self) -> Path | None:
        """The decrypted copy the player reads now, if any."""
        return self.player.recording_path

    def hideEvent(self, event: QHideEvent) -> None:
        if not event.spontaneous():  # left, locked or closed; a minimised window keeps playing
            self.player.release()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._info is not None and not event.spontaneous():
            self._show_recording_state()
        self._arrange_speakers()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():  # only the width decides the speakers' row
            self._arrange_speakers()

    def _arrange_speakers(self) -> None:
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else None
        room = self.width() - (margins.left() + margins.right() if margins is not None else 0)
        needed = self.speakers_bar.sizeHint().width() + self.speaker_actions.sizeHint().width()
        direction = QBoxLayout.Direction.LeftToRight if needed <= room else QBoxLayout.Direction.TopToBottom
        if self.speakers_row.direction() != direction:
            self.speakers_row.setDirection(direction)
