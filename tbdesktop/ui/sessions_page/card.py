"""One session in the list: client, date and time, duration, who holds it, the AI summary, a risk badge, live
processing progress, and its actions (Edit, Retry, Cancel, the ⋮ menu)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.ui.formatting import ACTIVE_STATUSES, duration_badge, eta_words, long_date, status_words
from tbdesktop.ui.resources import icon
from tbdesktop.ui.sessions_page.elided_label import SUMMARY_LINES, ElidedLabel
from tbdesktop.ui.sessions_page.session_state import day_month_year, local_time, risk_words, with_event

RISK_LEVEL_WORDS = {"high": "High risk", "moderate": "Moderate risk", "low": "Low risk"}
NOTE_STATE_WORDS = {"draft": "Draft", "signed": "Signed"}
NOTE_STATE_TIPS = {
    "draft": "The progress note is a draft: review and sign it",
    "signed": "The progress note is signed; changes are added as addenda",
}
NOTE_STATE_STYLES = {
    "draft": "color: #8a5a00; background: #fff4db; border-radius: 8px; padding: 1px 8px;",
    "signed": "color: #2f5d3a; background: #e5f2e8; border-radius: 8px; padding: 1px 8px;",
}


def _repolish(widget: QWidget) -> None:
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


class SessionCard(QFrame):
    """Shows a SessionInfo; live updates come in as ProgressEvents through `apply_event`.

    Signals carry the session id: Edit opens the session (`editRequested`), as do a double-click and Enter on
    the card (`openRequested`); ⋮, the context-menu key and a right-click ask for the session's menu
    (`menuRequested`, with where to show it)."""

    openRequested = Signal(uuid.UUID)
    editRequested = Signal(uuid.UUID)
    cancelRequested = Signal(uuid.UUID)
    retryRequested = Signal(uuid.UUID)
    menuRequested = Signal(uuid.UUID, QPoint, bool)  # session id, global position, True: the menu's top-right corner

    def __init__(
        self, info: SessionInfo, parent: QWidget | None = None, *, current_user_id: uuid.UUID | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sessionCard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._info = info
        self._status = info.status
        self._current_user_id = current_user_id

        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 12, 14)
        outer.setSpacing(6)

        top = QHBoxLayout()
        top.setSpacing(8)
        self.client_label = QLabel()
        self.client_label.setObjectName("cardClient")
        self.client_label.setTextFormat(Qt.TextFormat.PlainText)
        top.addWidget(self.client_label)
        self.duration_label = QLabel()
        self.duration_label.setObjectName("durationBadge")
        top.addWidget(self.duration_label, 0, Qt.AlignmentFlag.AlignVCenter)
        self.risk_badge = QLabel()
        self.risk_badge.setObjectName("riskBadge")
        top.addWidget(self.risk_badge, 0, Qt.AlignmentFlag.AlignVCenter)
        # The latest note's state: Draft or Signed (nothing while there is no note).
        self.note_state_label = QLabel()
        self.note_state_label.setObjectName("noteState")
        top.addWidget(self.note_state_label, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addStretch(1)
        self.cancel_button = self._button("Cancel", "cancelButton", self._request_cancel, flat=True)
        top.addWidget(self.cancel_button)
        self.retry_button = self._button("Retry", "retryButton", self._request_retry)
        top.addWidget(self.retry_button)
        self.edit_button = self._button("Edit", "editButton", self._request_edit)
        self.edit_button.setIcon(icon("edit"))
        self.edit_button.setIconSize(QSize(14, 14))
        top.addWidget(self.edit_button)
        # The earlier name of the same button: it opens the session.
        self.open_button = self.edit_button
        self.more_button = QToolButton()
        self.more_button.setObjectName("moreButton")
        self.more_button.setIcon(icon("more-vertical"))
        self.more_button.setIconSize(QSize(18, 18))
        self.more_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.more_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.more_button.setToolTip("More actions")
        self.more_button.clicked.connect(self._request_menu_at_button)
        top.addWidget(self.more_button)
        outer.addLayout(top)

        meta = QHBoxLayout()
        meta.setSpacing(6)
        self.date_label = QLabel()
        self.date_label.setObjectName("cardDate")
        meta.addWidget(self.date_label)
        dot = QLabel("·")
        dot.setObjectName("metaDot")
        meta.addWidget(dot)
        self.held_label = QLabel()
        self.held_label.setObjectName("heldBy")
        self.held_label.setTextFormat(Qt.TextFormat.PlainText)
        meta.addWidget(self.held_label)
        self.recording_chip = QLabel("Recording deleted")
        self.recording_chip.setObjectName("stateChip")
        meta.addWidget(self.recording_chip)
        self.transcript_chip = QLabel("Transcript deleted")
        self.transcript_chip.setObjectName("stateChip")
        meta.addWidget(self.transcript_chip)
        meta.addStretch(1)
        outer.addLayout(meta)

        self.summary_label = ElidedLabel(SUMMARY_LINES)
        self.summary_label.setObjectName("summaryLabel")
        outer.addWidget(self.summary_label)

        status_row = QHBoxLayout()
        status_row.setSpacing(12)
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        status_row.addWidget(self.status_label)
        status_row.addStretch(1)
        self.eta_label = QLabel()
        self.eta_label.setObjectName("etaLabel")
        status_row.addWidget(self.eta_label)
        outer.addLayout(status_row)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("cardProgress")
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(False)
        outer.addWidget(self.progress_bar)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        outer.addWidget(self.error_label)

        self.update_info(info)

    def _button(self, text: str, name: str, slot: Callable[[], None], *, flat: bool = False) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        if flat:
            button.setProperty("flat", True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # -- data -----------------------------------------------------------------------------------------

    @property
    def session_id(self) -> uuid.UUID:
        return self._info.id

    @property
    def info(self) -> SessionInfo:
        return self._info

    @property
    def status(self) -> str:
        return self._status

    def update_info(self, info: SessionInfo) -> None:
        self._info = info
        client = info.display_client
        self.client_label.setText(client)
        self.duration_label.setText(duration_badge(info.duration_mins))
        self.duration_label.setAccessibleName(f"Duration {duration_badge(info.duration_mins)}")
        self.date_label.setText(self._when(info))
        own = self._current_user_id is not None and info.owner_id == self._current_user_id
        self.held_label.setText("Held by You" if own else f"Held by {info.owner_name}")
        self._show_risk(info)
        self._show_note_state(info)
        self._show_tombstones(info)
        self.summary_label.set_full_text(info.ai_summary or "")
        self.setAccessibleName(f"Session with {client}, {long_date(info.session_date)}")
        self.edit_button.setAccessibleName(f"Edit session with {client}")
        self.edit_button.setToolTip("Open the transcript and notes")
        self.retry_button.setAccessibleName(f"Retry processing the session with {client}")
        self.cancel_button.setAccessibleName(f"Cancel processing the session with {client}")
        self.more_button.setAccessibleName(f"More actions for the session with {client}")
        self._show_state(info.status, info.progress, info.stage_detail, info.eta_seconds, info.error)

    @staticmethod
    def _when(info: SessionInfo) -> str:
        text = long_date(info.session_date)
        created = local_time(info.created_at)
        # The time is the import's: it belongs to the session only when both fall on the same day.
        if created.date() == info.session_date:
            text += f" · {created:%H:%M}"
        return text

    def _show_risk(self, info: SessionInfo) -> None:
        level = info.risk_level
        self.risk_badge.setVisible(level in RISK_LEVEL_WORDS)
        if level not in RISK_LEVEL_WORDS:
            return
        words = RISK_LEVEL_WORDS[level]
        self.risk_badge.setText(f"⚠ {words}")
        self.risk_badge.setProperty("level", level)
        kinds = risk_words(info.risk_kinds)
        self.risk_badge.setToolTip(f"Raised in this session: {kinds}" if kinds else words)
        self.risk_badge.setAccessibleName(f"{words}: {kinds}" if kinds else words)
        _repolish(self.risk_badge)

    def _show_note_state(self, info: SessionInfo) -> None:
        state = info.note_state
        label = self.note_state_label
        label.setVisible(state in NOTE_STATE_WORDS)
        if state not in NOTE_STATE_WORDS:
            label.setText("")
            return
        label.setText(NOTE_STATE_WORDS[state])
        label.setProperty("state", state)
        label.setStyleSheet(NOTE_STATE_STYLES[state])
        label.setToolTip(NOTE_STATE_TIPS[state])
        label.setAccessibleName(f"Note {NOTE_STATE_WORDS[state].lower()}")

    def _show_tombstones(self, info: SessionInfo) -> None:
        for chip, moment, what in (
            (self.recording_chip, info.recording_deleted_at, "recording"),
            (self.transcript_chip, info.transcript_deleted_at, "transcript"),
        ):
            chip.setVisible(moment is not None)
            if moment is not None:
                chip.setToolTip(f"The {what} was deleted on {day_month_year(moment)}")

    def apply_event(self, event: ProgressEvent) -> None:
        if event.session_id != self.session_id:
            return
        self._info = with_event(self._info, event)
        self._show_state(event.status, event.progress, event.stage_detail, event.eta_seconds, event.error)

    def _show_state(self, status: str, progress: int, detail: str | None, eta: int | None, error: str | None) -> None:
        self._status = status
        consent = status == "queued" and detail == AWAITING_CONSENT
        active = status in ACTIVE_STATUSES and not consent
        state = "consent" if consent else status
        if status == "completed":
            text = "✓ Transcript ready" if self._info.transcript_deleted_at is None else "✓ Notes ready"
        elif status == "failed":
            text = "Processing failed"
        elif status == "cancelled":
            text = "Processing cancelled"
        elif consent:
            text = "Needs consent · open the session to record it"
        elif status == "queued":
            text = f"Queued · {detail}" if detail else "Queued"
        else:
            words = (detail or status_words(status)).rstrip("…. ")
            text = f"{words} · {progress}%"
        has_summary = bool(self._info.ai_summary)
        self.status_label.setText(text)
        self.status_label.setProperty("state", state)
        _repolish(self.status_label)
        # A finished session with a summary shows the summary; while processing, the stage takes its place.
        self.status_label.setVisible(not (status == "completed" and has_summary))
        self.summary_label.setVisible(has_summary and not active)
        self.progress_bar.setVisible(active)
        self.progress_bar.setValue(max(0, min(100, progress)))
        self.progress_bar.setAccessibleName(f"Processing progress {progress}%")
        self.eta_label.setText(eta_words(eta, progress) if active and status != "queued" else "")
        self.eta_label.setVisible(bool(self.eta_label.text()))
        failed_text = (error or "The recording could not be processed.") if status == "failed" else ""
        self.error_label.setText(failed_text)
        self.error_label.setVisible(bool(failed_text))
        self.edit_button.setVisible(status == "completed" or consent)
        self.cancel_button.setVisible(active)
        can_retry = status in ("failed", "cancelled") and self._info.recording_available
        self.retry_button.setVisible(can_retry)
        self.setAccessibleDescription(text if not failed_text else f"{text}: {failed_text}")
        self.setCursor(Qt.CursorShape.PointingHandCursor if status == "completed" else Qt.CursorShape.ArrowCursor)

    # -- actions --------------------------------------------------------------------------------------

    def _request_edit(self) -> None:
        self.editRequested.emit(self.session_id)

    def _request_cancel(self) -> None:
        self.cancelRequested.emit(self.session_id)

    def _request_retry(self) -> None:
        self.retryRequested.emit(self.session_id)

    def _request_menu_at_button(self) -> None:
        button = self.more_button
        # Under the ⋮ button, right edges aligned, as menus open from a button at the right of a row.
        self.menuRequested.emit(self.session_id, button.mapToGlobal(QPoint(button.width(), button.height())), True)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._status == "completed":
            self.openRequested.emit(self.session_id)
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() == QContextMenuEvent.Reason.Keyboard:
            self._request_menu_at_button()
        else:
            self.menuRequested.emit(self.session_id, event.globalPos(), False)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        shift_f10 = key == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._status == "completed":
            self.openRequested.emit(self.session_id)
        elif key == Qt.Key.Key_Menu or shift_f10:
            self._request_menu_at_button()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
