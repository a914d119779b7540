"""One session: a header (client, date, duration, status) and the transcript, one row per segment."""

from __future__ import annotations

import html
import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import NoteInfo, RiskFlagInfo, SegmentInfo, SessionInfo, TemplateInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.ui.formatting import duration_badge, long_date, status_words, timestamp
from tbdesktop.ui.notes_panel import NotesPanel
from tbdesktop.ui.resources import icon

# Speaker chips: (text, background) pairs, calm and distinguishable.
SPEAKER_COLOURS = (
    ("#1f5f63", "#e1f0ef"),
    ("#6a3d8f", "#efe7f6"),
    ("#8a5a12", "#f8eedb"),
    ("#27548a", "#e3ecf8"),
    ("#8c2f4f", "#f7e4eb"),
    ("#3f6b2a", "#e8f2e1"),
)


ROLE_CHOICES = (
    ("therapist", "Therapist"),
    ("client", "Client"),
    ("partner", "Partner"),
    ("participant", "Participant"),
    ("other", "Other"),
)


def speaker_number(speaker: str) -> str:
    """`SPEAKER_01` → `Speaker 2`: what a therapist reads."""
    tail = speaker.rsplit("_", 1)[-1]
    return f"Speaker {int(tail) + 1}" if tail.isdigit() else speaker


def speaker_label(segment: SegmentInfo) -> str:
    """The role when known (`Therapist`), else the speaker's number."""
    if segment.role:
        return dict(ROLE_CHOICES).get(segment.role, segment.role.title())
    return speaker_number(segment.speaker or "SPEAKER")


def segment_row(segment: SegmentInfo, *, with_hours: bool = False) -> str:
    """The plain-text form of a transcript row: `01:23  Therapist  text`."""
    return f"{timestamp(segment.start_s, with_hours=with_hours)}  {speaker_label(segment)}  {segment.text}"


class SpeakersBar(QFrame):
    """One entry per detected speaker: colour chip, number, talk time, and a role the user can correct."""

    roleChanged = Signal(str, str)  # speaker, role

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakersBar")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(20, 10, 20, 10)
        self._layout.setSpacing(16)
        self.combos: dict[str, QComboBox] = {}

    def set_speakers(self, speakers: dict[str, dict[str, object]], colours: dict[str, tuple[str, str]]) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.combos = {}
        title = QLabel("Speakers")
        title.setObjectName("sectionTitle")
        self._layout.addWidget(title)
        for speaker in sorted(speakers):
            entry = speakers[speaker]
            fg, bg = colours.get(speaker, SPEAKER_COLOURS[len(self.combos) % len(SPEAKER_COLOURS)])
            chip = QLabel(speaker_number(speaker))
            chip.setObjectName("speakerChip")
            chip.setStyleSheet(f"color:{fg}; background:{bg}; font-weight:600; padding:2px 8px; border-radius:8px;")
            self._layout.addWidget(chip)
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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._info: SessionInfo | None = None
        self._segments: list[SegmentInfo] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 16, 32, 24)
        layout.setSpacing(12)

        self.back_button = QToolButton()
        self.back_button.setObjectName("backButton")
        self.back_button.setText("Sessions")
        self.back_button.setIcon(icon("back"))
        self.back_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.back_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.back_button.clicked.connect(self.backRequested)
        layout.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignLeft)

        header = QFrame()
        header.setObjectName("sessionHeader")
        header_layout = QHBoxLayout(header)
        header_layout.setContentsMargins(20, 16, 20, 16)
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
        self.duration_label = QLabel()
        self.duration_label.setObjectName("durationBadge")
        header_layout.addWidget(self.duration_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        header_layout.addWidget(self.status_label, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(header)

        self.consent_bar = ConsentBar()
        self.consent_bar.consentRecorded.connect(self.consentRecorded)
        self.consent_bar.setVisible(False)
        layout.addWidget(self.consent_bar)

        self.speakers_bar = SpeakersBar()
        self.speakers_bar.roleChanged.connect(self.speakerRoleChanged)
        self.speakers_bar.setVisible(False)
        layout.addWidget(self.speakers_bar)

        transcript_card = QFrame()
        transcript_card.setObjectName("transcriptCard")
        card_layout = QVBoxLayout(transcript_card)
        card_layout.setContentsMargins(20, 14, 12, 12)
        card_layout.setSpacing(8)
        section_row = QHBoxLayout()
        section_title = QLabel("Transcript")
        section_title.setObjectName("sectionTitle")
        self.segment_count_label = QLabel()
        self.segment_count_label.setObjectName("muted")
        section_row.addWidget(section_title)
        section_row.addStretch(1)
        section_row.addWidget(self.segment_count_label)
        card_layout.addLayout(section_row)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("transcriptView")
        self.transcript.setOpenLinks(False)
        self.transcript.setFrameShape(QFrame.Shape.NoFrame)
        self.transcript.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
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
        layout.addWidget(self.splitter, 1)
        self._highlighted: set[int] = set()

    # -- content --------------------------------------------------------------------------------------

    @property
    def session_id(self) -> uuid.UUID | None:
        return self._info.id if self._info is not None else None

    def set_content(
        self,
        info: SessionInfo,
        segments: list[SegmentInfo],
        note: NoteInfo | None = None,
        flags: list[RiskFlagInfo] | None = None,
        templates: list[TemplateInfo] | None = None,
    ) -> None:
        self._info = info
        self._segments = list(segments)
        self._highlighted = set()
        self.consent_bar.setVisible(info.consent_obtained_at is None and info.stage_detail == AWAITING_CONSENT)
        self.summary_label.setText(info.ai_summary or "")
        self.summary_label.setVisible(bool(info.ai_summary))
        if templates is not None:
            self.notes_panel.set_templates(templates, note.template_id if note is not None else None)
        can_regenerate = bool(self._segments) and info.transcript_deleted_at is None
        self.notes_panel.set_note(note, list(flags or []), can_regenerate=can_regenerate)
        self.title_label.setText(info.display_client)
        self.meta_label.setText(f"{long_date(info.session_date)} · {info.owner_name}")
        self.duration_label.setText(duration_badge(info.duration_mins))
        self.status_label.setText(status_words(info.status))
        self.status_label.setProperty("state", info.status)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)
        count = len(self._segments)
        self.segment_count_label.setText(f"{count} segment" + ("" if count == 1 else "s") if count else "")
        speakers = dict(info.speakers) if self._segments else {}
        self.speakers_bar.set_speakers(speakers, self._colours())
        self.transcript.setHtml(self._render(info))

    def show_evidence(self, indexes: list[int]) -> None:
        """Highlight the transcript lines a note sentence (or risk flag) rests on, and scroll to the first."""
        known = {s.idx for s in self._segments}
        self._highlighted = {i for i in indexes if i in known}
        if self._info is None or not self._highlighted:
            return
        self.transcript.setHtml(self._render(self._info))
        self.transcript.scrollToAnchor(f"seg-{min(self._highlighted)}")

    @property
    def highlighted(self) -> set[int]:
        return set(self._highlighted)

    def _colours(self) -> dict[str, tuple[str, str]]:
        """One colour per speaker, in order of first appearance; the same in the bar and the transcript."""
        colours: dict[str, tuple[str, str]] = {}
        for seg in self._segments:
            if seg.speaker not in colours:
                colours[seg.speaker] = SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)]
        for speaker in sorted(self._info.speakers if self._info else {}):
            colours.setdefault(speaker, SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)])
        return colours

    def _with_hours(self) -> bool:
        return any(s.start_s >= 3600 for s in self._segments)

    def rows(self) -> list[str]:
        with_hours = self._with_hours()
        return [segment_row(s, with_hours=with_hours) for s in self._segments]

    def _render(self, info: SessionInfo) -> str:
        if info.transcript_deleted_at is not None:
            return self._notice(f"The transcript was deleted on {info.transcript_deleted_at:%d %b %Y}.")
        if not self._segments:
            if info.status == "completed":
                return self._notice("No speech was found in this recording.")
            if info.status == "failed":
                return self._notice(html.escape(info.error or "Processing failed; there is no transcript."))
            return self._notice("The transcript appears here when processing has finished.")
        colours = self._colours()
        with_hours = self._with_hours()
        rows = []
        for seg in self._segments:
            label = speaker_label(seg)
            fg, bg = colours[seg.speaker]
            role = (
                f"<br><span style='color:#5b6b73; font-size:9pt;'>{html.escape(speaker_number(seg.speaker))}</span>"
                if seg.role
                else ""
            )
            marked = " bgcolor='#fff4c2'" if seg.idx in self._highlighted else ""
            rows.append(
                f"<tr{marked}>"
                f"<td width='64' style='color:#5b6b73; font-family:monospace; padding:6px 8px 6px 0;'>"
                f"<a name='seg-{seg.idx}'></a>{timestamp(seg.start_s, with_hours=with_hours)}</td>"
                f"<td width='120' style='padding:6px 10px 6px 0;'>"
                f"<span style='color:{fg}; background-color:{bg}; font-weight:600; font-size:9pt;'>"
                f"&nbsp;{html.escape(label)}&nbsp;</span>{role}</td>"
                f"<td style='padding:6px 0;'>{html.escape(seg.text)}</td>"
                "</tr>"
            )
        return (
            "<table width='100%' cellspacing='0' cellpadding='0' style='border-collapse:collapse;'>"
            + "".join(rows)
            + "</table>"
        )

    @staticmethod
    def _notice(text: str) -> str:
        return f"<p style='color:#5b6b73; margin-top:24px;' align='center'>{text}</p>"
