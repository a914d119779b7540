"""One session in the list: date, duration, client, processing status with live progress, Open."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.ui.formatting import (
    ACTIVE_STATUSES,
    duration_badge,
    eta_words,
    long_date,
    status_words,
)


def _repolish(widget: QWidget) -> None:
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


class SessionCard(QFrame):
    """Shows a SessionInfo; live updates come in as ProgressEvents through `apply_event`."""

    openRequested = Signal(object)  # session id
    cancelRequested = Signal(object)  # session id

    def __init__(self, info: SessionInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionCard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._info = info
        self._status = info.status

        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(6)

        top = QHBoxLayout()
        top.setSpacing(10)
        self.client_label = QLabel()
        self.client_label.setObjectName("cardClient")
        top.addWidget(self.client_label)
        self.duration_label = QLabel()
        self.duration_label.setObjectName("durationBadge")
        top.addWidget(self.duration_label, 0, Qt.AlignmentFlag.AlignVCenter)
        top.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setProperty("flat", True)
        self.cancel_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.cancel_button.clicked.connect(self._request_cancel)
        top.addWidget(self.cancel_button)
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("openButton")
        self.open_button.setProperty("primary", True)
        self.open_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.open_button.clicked.connect(self._request_open)
        top.addWidget(self.open_button)
        outer.addLayout(top)

        self.date_label = QLabel()
        self.date_label.setObjectName("cardDate")
        outer.addWidget(self.date_label)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summaryLabel")
        self.summary_label.setWordWrap(True)
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
        outer.addWidget(self.error_label)

        self.update_info(info)

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
        self.client_label.setText(info.display_client)
        self.duration_label.setText(duration_badge(info.duration_mins))
        self.date_label.setText(long_date(info.session_date))
        self.summary_label.setText(info.ai_summary or "")
        self.summary_label.setVisible(bool(info.ai_summary))
        self._show_state(info.status, info.progress, info.stage_detail, info.eta_seconds, info.error)

    def apply_event(self, event: ProgressEvent) -> None:
        if event.session_id != self.session_id:
            return
        self._show_state(event.status, event.progress, event.stage_detail, event.eta_seconds, event.error)

    def _show_state(self, status: str, progress: int, detail: str | None, eta: int | None, error: str | None) -> None:
        self._status = status
        active = status in ACTIVE_STATUSES
        if status == "completed":
            text = "✓ Transcript ready"
        elif status == "failed":
            text = "Processing failed"
        elif status == "cancelled":
            text = "Processing cancelled"
        elif status == "queued":
            text = f"Queued · {detail}" if detail else "Queued"
        else:
            words = (detail or status_words(status)).rstrip("…. ")
            text = f"{words} · {progress}%"
        self.status_label.setText(text)
        self.status_label.setProperty("state", status)
        _repolish(self.status_label)
        self.progress_bar.setVisible(active)
        self.progress_bar.setValue(max(0, min(100, progress)))
        self.eta_label.setText(eta_words(eta) if active and status != "queued" else "")
        self.eta_label.setVisible(bool(self.eta_label.text()))
        failed_text = (error or "The recording could not be processed.") if status == "failed" else ""
        self.error_label.setText(failed_text)
        self.error_label.setVisible(bool(failed_text))
        self.open_button.setVisible(status == "completed")
        self.cancel_button.setVisible(active)
        self.setCursor(Qt.CursorShape.PointingHandCursor if status == "completed" else Qt.CursorShape.ArrowCursor)

    def _request_open(self) -> None:
        self.openRequested.emit(self.session_id)

    def _request_cancel(self) -> None:
        self.cancelRequested.emit(self.session_id)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._status == "completed":
            self.openRequested.emit(self.session_id)
        super().mouseDoubleClickEvent(event)
