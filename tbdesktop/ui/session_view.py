"""One session: a header (client, date, duration, status, anonymous switch), the recording's player, the transcript
synced with it, and the notes. With a SessionService it also names speakers, corrects lines and marks the session
anonymous itself; everything else goes out as signals."""

from __future__ import annotations

import asyncio
import bisect
import uuid
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.convert import MASK, mask_name
from tbdesktop.services.dto import (
    ANONYMOUS_CLIENT,
    NoteInfo,
    RiskFlagInfo,
    SegmentInfo,
    SessionInfo,
    TemplateInfo,
)
from tbdesktop.services.export import ExportService
from tbdesktop.services.notes import NoteService
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT, MAX_SPEAKER_NAME
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.speakers.edits import cited_lines
from tbdesktop.services.sync.service import SyncService
from tbdesktop.ui.aio import run_dialog, spawn
from tbdesktop.ui.anonymous_toggle import AnonymousToggle
from tbdesktop.ui.audio_player import AudioPlayer
from tbdesktop.ui.conflict_panel import ConflictPanel
from tbdesktop.ui.export_menu import NoteExporter
from tbdesktop.ui.formatting import duration_badge, long_date, status_words
from tbdesktop.ui.notes_panel import NotesPanel
from tbdesktop.ui.resources import icon
from tbdesktop.ui.speakers.editor import SpeakerEditor
from tbdesktop.ui.speakers.widgets import RegenerateBanner, SpeakerActions
from tbdesktop.ui.transcript_view import (
    ROLE_CHOICES,
    SPEAKER_COLOURS,
    Line,
    LineFixDialog,
    TranscriptView,
    build_lines,
    segment_row,
    speaker_choices,
    speaker_colours,
    speaker_name,
    speaker_number,
)

__all__ = ["ConsentBar", "SessionView", "SpeakersBar", "day_month_year"]

# A line stays marked as playing through a pause shorter than this before the next line starts.
HOLD_S = 2.0


def day_month_year(moment: datetime) -> str:
    """`3 Nov 2026`, in local time."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{local.day} {local:%b %Y}"


class SpeakersBar(QFrame):
    """One entry per detected speaker: colour chip, a name the user can give, a role the user can correct, and
    talk time."""

    roleChanged = Signal(str, str)  # speaker, role
    nameChanged = Signal(str, str)  # speaker, name ("" clears it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakersBar")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(20, 8, 20, 8)
        self._layout.setSpacing(8)
        self.combos: dict[str, QComboBox] = {}
        self.name_edits: dict[str, QLineEdit] = {}
        self._names: dict[str, str] = {}

    def set_speakers(
        self,
        speakers: dict[str, dict[str, object]],
        colours: dict[str, tuple[str, str]],
        *,
        names_editable: bool = False,
        hide_names: bool = False,
    ) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # no focus-out edits from a row that is going away
                widget.deleteLater()
        self.combos = {}
        self.name_edits = {}
        self._names = {}
        title = QLabel("Speakers")
        title.setObjectName("sectionTitle")
        self._layout.addWidget(title)
        self._layout.addSpacing(6)
        for position, speaker in enumerate(sorted(speakers)):
            entry = speakers[speaker]
            if position:
                self._layout.addSpacing(14)
            fg, bg = colours.get(speaker, SPEAKER_COLOURS[len(self.combos) % len(SPEAKER_COLOURS)])
            chip = QLabel(speaker_number(speaker))
            chip.setObjectName("speakerChip")
            chip.setStyleSheet(f"color:{fg}; background:{bg}; font-weight:600; padding:2px 8px; border-radius:8px;")
            self._layout.addWidget(chip)
            if names_editable:
                self._layout.addWidget(self._name_edit(speaker, entry, hide_names))
            combo = QComboBox()
            combo.setObjectName(f"roleCombo_{speaker}")
            combo.setAccessibleName(f"Role of {speaker_number(speaker)}")
            for value, text in ROLE_CHOICES:
                combo.addItem(text, value)
            role = str(entry.get("role") or "")
            index = combo.findData(role)
            if index < 0:
                combo.insertItem(0, "Unknown", "")
                index = 0
            combo.setCurrentIndex(index)
            combo.activated.connect(lambda _i, s=speaker, c=combo: self._chosen(s, c))
            self._layout.addWidget(combo)
            talk = entry.get("talk_time_s")
            if isinstance(talk, (int, float)) and talk > 0:
                minutes = QLabel(f"{talk / 60:.1f} min" if talk >= 60 else f"{talk:.0f} s")
                minutes.setObjectName("muted")
                self._layout.addWidget(minutes)
            self.combos[speaker] = combo
        self._layout.addStretch(1)
        self.setVisible(bool(speakers))

    def focus_chain(self) -> list[QWidget]:
        """The bar's controls in reading order (for the view's tab order)."""
        chain: list[QWidget] = []
        for speaker in sorted(self.combos):
            if speaker in self.name_edits:
                chain.append(self.name_edits[speaker])
            chain.append(self.combos[speaker])
        return chain

    def _name_edit(self, speaker: str, entry: dict[str, object], hidden: bool) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"speakerName_{speaker}")
        edit.setAccessibleName(f"Name of {speaker_number(speaker)}")
        edit.setMaxLength(MAX_SPEAKER_NAME)
        edit.setFixedWidth(120)
        if hidden:
            edit.setPlaceholderText("Hidden")
            edit.setEnabled(False)
            edit.setToolTip("Speaker names are hidden while the session is anonymous")
        else:
            name = speaker_name({speaker: entry}, speaker) or ""
            edit.setText(name)
            edit.setPlaceholderText("Add a name")
            edit.setToolTip(f"What to call {speaker_number(speaker)} in the transcript (Enter to save)")
            self._names[speaker] = name
            edit.editingFinished.connect(lambda s=speaker, e=edit: self._named(s, e))
        self.name_edits[speaker] = edit
        return edit

    def _named(self, speaker: str, edit: QLineEdit) -> None:
        name = " ".join(edit.text().split())
        if speaker in self._names and name != self._names[speaker]:
            self._names[speaker] = name
            self.nameChanged.emit(speaker, name)

    def _chosen(self, speaker: str, combo: QComboBox) -> None:
        role = str(combo.currentData() or "")
        if role:
            self.roleChanged.emit(speaker, role)


class ConsentBar(QFrame):
    """Shown while a session waits for the client's consent: record it here and processing starts."""

    consentRecorded = Signal(str)  # verbal | written | electronic

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("consentBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(20, 10, 20, 10)
        label = QLabel("This session waits for the client's consent to be recorded before it is processed.")
        label.setWordWrap(True)
        layout.addWidget(label, 1)
        self.buttons: dict[str, QToolButton] = {}
        for method in ("verbal", "written", "electronic"):
            button = QToolButton()
            button.setObjectName(f"consent_{method}")
            button.setText(f"{method.title()} consent")
            button.clicked.connect(lambda _=False, m=method: self.consentRecorded.emit(m))
            layout.addWidget(button)
            self.buttons[method] = button


class SessionView(QWidget):
    backRequested = Signal()
    speakerRoleChanged = Signal(str, str)  # speaker, role
    consentRecorded = Signal(str)
    notify = Signal(str, str)  # "success" | "error", message
    changed = Signal(object)  # session id, after a change made here
    processingQueued = Signal(object)  # session id: a speaker separation was queued here
    cancelRequested = Signal(object)  # session id: stop its processing

    def __init__(self, sessions: SessionService | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._sessions = sessions
        self._notes = NoteService(sessions.ctx, sessions.user) if sessions is not None else None
        self._info: SessionInfo | None = None
        self._segments: list[SegmentInfo] = []
        self._starts: list[float] = []
        self._highlighted: set[int] = set()
        self._client_names: dict[uuid.UUID, str] = {}
        self.line_dialog: LineFixDialog | None = None

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

        layout.addWidget(self._build_header())

        self.consent_bar = ConsentBar()
        self.consent_bar.consentRecorded.connect(self.consentRecorded)
        self.consent_bar.setVisible(False)
        layout.addWidget(self.consent_bar)

        self.speakers_bar = SpeakersBar()
        self.speakers_bar.roleChanged.connect(self.speakerRoleChanged)
        self.speakers_bar.nameChanged.connect(self.rename_speaker)
        self.speakers_bar.setVisible(False)
        self.speaker_editor = SpeakerEditor(sessions, self)
        self.speaker_editor.done.connect(self._done)
        self.speaker_editor.failed.connect(self._error)
        self.speaker_editor.queued.connect(self.processingQueued)
        self.speaker_actions = SpeakerActions()
        self.speaker_actions.mergeRequested.connect(lambda: self.speaker_editor.merge())
        self.speaker_actions.addRequested.connect(self.speaker_editor.add)
        self.speaker_actions.rediarizeRequested.connect(self.speaker_editor.rediarize)
        self.speaker_actions.cancelRequested.connect(lambda: self.cancelRequested.emit(self.session_id))
        self.speaker_actions.setVisible(False)
        # side by side when the window has the room, the actions under the speakers when it has not
        self.speakers_row = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.speakers_row.setSpacing(0)
        self.speakers_row.addWidget(self.speakers_bar, 1)
        self.speakers_row.addWidget(self.speaker_actions, 0, Qt.AlignmentFlag.AlignRight)
        layout.addLayout(self.speakers_row)
        self.regenerate_banner = RegenerateBanner()
        layout.addWidget(self.regenerate_banner)
        self.conflict_panel = ConflictPanel(
            SyncService(sessions.ctx) if sessions is not None else None, sessions.user.id if sessions else None
        )
        self.conflict_panel.resolved.connect(self._done)
        self.conflict_panel.failed.connect(self._error)
        layout.addWidget(self.conflict_panel)

        transcript_card = QFrame()
        transcript_card.setObjectName("transcriptCard")
        card_layout = QVBoxLayout(transcript_card)
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
        self.player = AudioPlayer()
        self.player.positionChanged.connect(self._position_changed)
        self.player.setVisible(False)
        card_layout.addWidget(self.player)
        # Clinic mode: a session recorded on another workstation has its recording there only.
        self.elsewhere_label = QLabel("")
        self.elsewhere_label.setObjectName("recordingElsewhere")
        self.elsewhere_label.setWordWrap(True)
        self.elsewhere_label.setVisible(False)
        card_layout.addWidget(self.elsewhere_label)
        self.transcript = TranscriptView()
        self.transcript.lineActivated.connect(self.play_line)
        self.transcript.fixRequested.connect(self.correct_line)
        self.transcript.moveRequested.connect(self.move_line)
        self.transcript.splitRequested.connect(self.split_line)
        self.transcript.newSpeakerRequested.connect(self.speaker_editor.move_to_new_speaker)
        card_layout.addWidget(self.transcript, 1)

        self.notes_panel = NotesPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("sessionSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(transcript_card)
        self.splitter.addWidget(self.notes_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.notes_panel.evidenceRequested.connect(self.show_evidence)
        # Copy, export and print the note shown (the audited export service).
        exports = ExportService(sessions.ctx, sessions.user) if sessions is not None else None
        self.exporter = NoteExporter(exports, self) if exports is not None else None
        if self.exporter is not None:
            self.exporter.notify.connect(self.notify)
            self.notes_panel.export_button.noteRequested.connect(self.exporter.export_note)
        self.notes_panel.export_button.setVisible(self.exporter is not None)
        self.regenerate_banner.regenerateRequested.connect(self.notes_panel.regenerate_button.click)
        layout.addWidget(self.splitter, 1)

    def _build_header(self) -> QFrame:
        header = QFrame()
        header.setObjectName("sessionHeader")
        header_layout = QHBoxLayout(header)
        header_layout.setContentsMargins(20, 14, 20, 14)
        header_layout.setSpacing(12)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        self.title_label = QLabel()
        self.title_label.setObjectName("sessionTitle")
        self.meta_label = QLabel()
        self.meta_label.setObjectName("sessionMeta")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("sessionSummary")
        self.summary_label.setWordWrap(True)
        titles.addWidget(self.title_label)
        titles.addWidget(self.meta_label)
        titles.addWidget(self.summary_label)
        header_layout.addLayout(titles, 1)
        side = QVBoxLayout()
        side.setSpacing(8)
        badges = QHBoxLayout()
        badges.setSpacing(12)
        badges.addStretch(1)
        self.duration_label = QLabel()
        self.duration_label.setObjectName("durationBadge")
        badges.addWidget(self.duration_label)
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        badges.addWidget(self.status_label)
        side.addLayout(badges)
        self.anonymous_toggle = AnonymousToggle()
        self.anonymous_toggle.changeRequested.connect(self.set_anonymous)
        self.anonymous_toggle.setVisible(self._sessions is not None)
        side.addWidget(self.anonymous_toggle, 0, Qt.AlignmentFlag.AlignRight)
        side.addStretch(1)
        header_layout.addLayout(side)
        return header

    # -- content --------------------------------------------------------------------------------------

    @property
    def session_id(self) -> uuid.UUID | None:
        return self._info.id if self._info is not None else None

    @property
    def info(self) -> SessionInfo | None:
        return self._info

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
        self.consent_bar.setVisible(info.consent_obtained_at is None and info.stage_detail == AWAITING_CONSENT)
        if templates is not None:
            self.notes_panel.set_templates(templates, note.template_id if note is not None else None)
        can_regenerate = bool(self._segments) and info.transcript_deleted_at is None
        self.notes_panel.set_note(note, list(flags or []), can_regenerate=can_regenerate)
        self._show_header(info.is_anonymous)
        self.anonymous_toggle.set_on(info.is_anonymous)
        self.meta_label.setText(f"{long_date(info.session_date)} · {info.owner_name}")
        self.duration_label.setText(duration_badge(info.duration_mins))
        waiting = info.consent_obtained_at is None and info.stage_detail == AWAITING_CONSENT  # the bar below asks
        self.status_label.setText("Waiting for consent" if waiting else status_words(info.status))
        self.status_label.setToolTip("Record the client's consent just below to start processing" if waiting else "")
        self.status_label.setProperty("state", "consent" if waiting else info.status)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)
        count = len(self._segments)
        self.segment_count_label.setText(f"{count} line" + ("" if count == 1 else "s") if count else "")
        speakers = dict(info.speakers) if self._segments else {}
        for seg in self._segments:
            speakers.setdefault(seg.speaker, {"role": seg.role})
        self.speakers_bar.set_speakers(
            speakers,
            self._colours(),
            names_editable=self._sessions is not None,
            hide_names=info.is_anonymous,
        )
        editable = self._sessions is not None and bool(self._segments) and info.transcript_deleted_at is None
        self.speaker_actions.setVisible(editable)
        self.speaker_actions.set_session(info, len(speakers))
        self._arrange_speakers()
        self.speaker_editor.set_session(info, self._segments, self._speaker_choices())
        self.regenerate_banner.setVisible(editable and info.needs_regeneration and info.status == "completed")
        self._show_transcript(info)
        self._show_recording_state()
        self._order_focus()
        hidden = self._client_names.get(info.id) if info.is_anonymous else None
        self.conflict_panel.show_session(info, note, self._segments, hidden)

    def _order_focus(self) -> None:
        """Tab goes down the page: header, speakers (rebuilt with each session), player, transcript, notes."""
        chain = [self.back_button, self.anonymous_toggle, *self.speakers_bar.focus_chain(), self.player.play_button]
        for before, after in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(before, after)

    def _show_header(self, anonymous: bool) -> None:
        """Title and summary; with `anonymous` the client's name is nowhere in them."""
        info = self._info
        if info is None:
            return
        known = self._client_names.get(info.id)
        if anonymous:
            title = ANONYMOUS_CLIENT
            summary = mask_name(info.ai_summary or "", known) if not info.is_anonymous else info.ai_summary or ""
        else:
            title = info.client_name or known or ("No client" if info.client_id is None else self.title_label.text())
            summary = info.ai_summary or ""
        self.title_label.setText(title)
        self.summary_label.setText(summary)
        self.summary_label.setVisible(bool(summary))

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
            self.transcript.list.editable = self._sessions is not None
            lines = build_lines(self._segments, info.speakers, self._colours(), hide_names=info.is_anonymous)
            self.transcript.set_lines(lines, self._speaker_choices())
            self._position_changed(self.player.position_ms if self.player.loaded else -1)

    def _speaker_choices(self) -> list[tuple[str, str]]:
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
        info, sessions = self._info, self._sessions
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
        elif not info.recording_available or sessions is None:
            self.player.release(remember=False)
            self.player.setVisible(False)
        else:
            self.player.setVisible(True)
            if self.isVisible():  # decrypted only while the view is on screen
                session_id = info.id
                self.player.open_recording(session_id, lambda: sessions.open_recording(session_id))

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
        self._arrange_speakers()

    def _arrange_speakers(self) -> None:
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else None
        room = self.width() - (margins.left() + margins.right() if margins is not None else 0)
        needed = self.speakers_bar.sizeHint().width() + self.speaker_actions.sizeHint().width()
        direction = QBoxLayout.Direction.LeftToRight if needed <= room else QBoxLayout.Direction.TopToBottom
        if self.speakers_row.direction() != direction:
            self.speakers_row.setDirection(direction)

    # -- changes through the service ------------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.notify.emit("error", message)

    def _done(self, session_id: uuid.UUID, message: str) -> None:
        self.notify.emit("success", message)
        self.changed.emit(session_id)
        if self.session_id == session_id:
            spawn(self.reload(), on_error=self._error)

    async def reload(self) -> None:
        """Read the session again (transcript and notes come back masked when it is anonymous)."""
        sessions, notes, session_id = self._sessions, self._notes, self.session_id
        if sessions is None or notes is None or session_id is None:
            return
        shown = self.notes_panel.note
        older = shown is not None and bool(shown.versions) and shown.version != shown.versions[-1]
        info = await sessions.get(session_id)
        segments = await sessions.transcript(session_id)
        if shown is not None and older:
            note: NoteInfo | None = await notes.get(session_id, shown.version)
        else:
            note = await asyncio.to_thread(notes.latest_or_none_sync, session_id)
        flags = await notes.risk_flags(session_id)
        if self.session_id == session_id:
            self.set_content(info, segments, note, flags)

    def rename_speaker(self, speaker: str, name: str) -> None:
        sessions, session_id = self._sessions, self.session_id
        if sessions is None or session_id is None:
            return
        label = name or speaker_number(speaker)
        spawn(
            sessions.update(session_id, speaker_names={speaker: name or None}),
            on_error=self._error,
            on_done=lambda _info: self._done(session_id, f"{speaker_number(speaker)} is now shown as {label}."),
        )

    def move_line(self, idx: int, speaker: str) -> None:
        label = dict(self._speaker_choices()).get(speaker, speaker_number(speaker))
        self._fix_line(idx, None, speaker, f"Line moved to {label}.")

    def split_line(self, idx: int, word: int) -> None:
        """Split line ``idx`` from a word on (the one right-clicked, else chosen in the dialog)."""
        line = next((x for x in self.transcript.lines() if x.idx == idx), None)
        if line is not None:
            self.speaker_editor.split_line(line, word if word >= 0 else None)

    def _fix_line(self, idx: int, text: str | None, speaker: str | None, message: str) -> None:
        sessions, session_id = self._sessions, self.session_id
        if sessions is None or session_id is None:
            return
        spawn(
            sessions.fix_segment(session_id, idx, text=text, speaker=speaker),
            on_error=self._error,
            on_done=lambda _segment: self._done(session_id, message),
        )

    def correct_line(self, idx: int) -> None:
        """Open the correction dialog for line `idx` (words and speaker)."""
        line = next((x for x in self.transcript.lines() if x.idx == idx), None)
        if line is None or self._sessions is None or self.line_dialog is not None:
            return
        spawn(self._correct(line), on_error=self._error)

    async def _correct(self, line: Line) -> None:
        dialog = LineFixDialog(line, self._speaker_choices(), parent=self)
        if MASK in line.text and self._info is not None and self._info.is_anonymous:
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

    def set_anonymous(self, on: bool) -> None:
        """The switch was flipped: the header changes now; the service is asked, and on failure it flips back."""
        sessions, info = self._sessions, self._info
        if sessions is None or info is None:
            self.anonymous_toggle.set_on(info.is_anonymous if info is not None else False)
            return
        session_id, before = info.id, info.is_anonymous
        self.anonymous_toggle.set_on(on)
        self._show_header(on)
        self.anonymous_toggle.setEnabled(False)

        def failed(message: str) -> None:
            if self.session_id == session_id:
                self.anonymous_toggle.set_on(before)
                self._show_header(before)
            self.anonymous_toggle.setEnabled(True)
            self._error(message)

        def done(_info: SessionInfo) -> None:
            self.anonymous_toggle.setEnabled(True)
            message = (
                "The session is anonymous: the client's name is hidden."
                if on
                else "The client's name is shown again in this session."
            )
            self._done(session_id, message)

        spawn(sessions.set_anonymous(session_id, on), on_error=failed, on_done=done)
