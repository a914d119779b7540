"""Progress of one recording: copying it in, then processing (stage, percent, ETA), then Open. A session kept
until the client's consent is recorded says so, and the consent can be recorded here."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT, CONSENT_METHODS
from tbdesktop.ui.formatting import ACTIVE_STATUSES, eta_words, status_words
from tbdesktop.ui.resources import icon


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


class ProcessingDialog(QDialog):
    """Non-modal: processing goes on whether or not the dialog is open."""

    cancelRequested = Signal(uuid.UUID)
    openRequested = Signal(uuid.UUID)
    consentRecorded = Signal(uuid.UUID, str)  # verbal | written | electronic

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("processingDialog")
        self.setWindowTitle("Processing recording")
        self.setMinimumWidth(480)
        self.setModal(False)
        self._session_id: uuid.UUID | None = None
        self._state = "copying"

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(8)

        head = QHBoxLayout()
        art = QLabel()
        art.setPixmap(icon("mic").pixmap(28, 28))
        head.addWidget(art, 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        self.title_label = QLabel(title)
        self.title_label.setObjectName("dialogTitle")
        self.title_label.setWordWrap(True)
        self.subtitle_label = QLabel("Importing the recording…")
        self.subtitle_label.setObjectName("dialogHint")
        self.subtitle_label.setWordWrap(True)
        titles.addWidget(self.title_label)
        titles.addWidget(self.subtitle_label)
        head.addLayout(titles, 1)
        layout.addLayout(head)
        layout.addSpacing(10)

        self.stage_label = QLabel("Copying the recording…")
        self.stage_label.setObjectName("stageLabel")
        layout.addWidget(self.stage_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("processingProgress")
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setTextVisible(False)
        layout.addWidget(self.progress_bar)
        detail_row = QHBoxLayout()
        self.percent_label = QLabel("0%")
        self.percent_label.setObjectName("percentLabel")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("etaLabel")
        detail_row.addWidget(self.percent_label)
        detail_row.addStretch(1)
        detail_row.addWidget(self.eta_label)
        layout.addLayout(detail_row)

        self.error_label = QLabel()
        self.error_label.setObjectName("processingError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)

        self.consent_row = QWidget()
        self.consent_row.setObjectName("consentRow")
        consent_outer = QVBoxLayout(self.consent_row)
        consent_outer.setContentsMargins(0, 4, 0, 0)
        consent_text = QLabel(
            "The recording is kept but not processed until the client's consent is recorded. How did the client "
            "consent?"
        )
        consent_text.setObjectName("consentPrompt")
        consent_text.setWordWrap(True)
        consent_outer.addWidget(consent_text)
        consent_layout = QHBoxLayout()
        consent_outer.addLayout(consent_layout)
        self.consent_buttons: dict[str, QPushButton] = {}
        for method in CONSENT_METHODS:
            button = QPushButton(method.title())
            button.setObjectName(f"recordConsent_{method}")
            button.setToolTip(f"The client gave {method} consent: record it, and processing starts")
            button.clicked.connect(lambda _=False, m=method: self._record_consent(m))
            consent_layout.addWidget(button)
            self.consent_buttons[method] = button
        consent_layout.addStretch(1)
        self.consent_row.hide()
        layout.addWidget(self.consent_row)
        layout.addSpacing(12)

        buttons = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel processing")
        self.cancel_button.setObjectName("cancelProcessingButton")
        self.cancel_button.clicked.connect(self._cancel)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.background_button = QPushButton("Continue in background")
        self.background_button.setObjectName("backgroundButton")
        self.background_button.clicked.connect(self.close)
        buttons.addWidget(self.background_button)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.close_button)
        self.open_button = QPushButton("Open session")
        self.open_button.setObjectName("openSessionButton")
        self.open_button.setProperty("primary", True)
        self.open_button.clicked.connect(self._open)
        buttons.addWidget(self.open_button)
        layout.addLayout(buttons)
        self._sync_buttons()

    # -- state ----------------------------------------------------------------------------------------

    @property
    def session_id(self) -> uuid.UUID | None:
        return self._session_id

    @property
    def state(self) -> str:
        return self._state

    def set_copy_progress(self, done: int, total: int) -> None:
        if self._state != "copying":
            return
        percent = int(done * 100 / total) if total > 0 else 0
        self.stage_label.setText("Copying the recording…")
        self.progress_bar.setValue(percent)
        self.percent_label.setText(f"{percent}%")
        self.eta_label.setText(f"{_mib(done)} of {_mib(total)}")

    def bind_session(self, info: SessionInfo) -> None:
        """The import finished: from now on the dialog follows this session's processing."""
        self._session_id = info.id
        self.subtitle_label.setText(f"{info.display_client} · {info.session_date:%d %b %Y}")
        self._show(info.status, info.progress, info.stage_detail, info.eta_seconds, info.error)

    def apply_event(self, event: ProgressEvent) -> None:
        if event.session_id != self._session_id:
            return
        self._show(event.status, event.progress, event.stage_detail, event.eta_seconds, event.error)

    def set_failed(self, message: str) -> None:
        self._show("failed", 0, None, None, message)

    def _show(self, status: str, progress: int, detail: str | None, eta: int | None, error: str | None) -> None:
        consent = status == "queued" and detail == AWAITING_CONSENT
        self._state = "consent" if consent else status
        for button in self.consent_buttons.values():
            button.setEnabled(True)
        self.consent_row.setVisible(consent)
        if consent:
            self.stage_label.setText("Waiting for consent")
            self.progress_bar.setVisible(False)
            self.percent_label.setText("")
            self.eta_label.setText("")
            self.error_label.hide()
            self._sync_buttons()
            return
        if status == "completed":
            self.stage_label.setText("✓ The transcript is ready.")
            progress = 100
        elif status == "failed":
            self.stage_label.setText("Processing failed")
        elif status == "cancelled":
            self.stage_label.setText("Processing was cancelled.")
        elif status == "queued":
            self.stage_label.setText(detail or "Waiting to start…")
        else:
            self.stage_label.setText(detail or f"{status_words(status)}…")
        active = status in ACTIVE_STATUSES
        self.progress_bar.setVisible(status not in ("failed", "cancelled"))
        self.progress_bar.setValue(max(0, min(100, progress)))
        self.percent_label.setText(f"{progress}%" if active or status == "completed" else "")
        self.eta_label.setText(eta_words(eta, progress) if active else "")
        message = (error or "The recording could not be processed.") if status == "failed" else ""
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        active = self._state in ACTIVE_STATUSES
        self.cancel_button.setVisible(active or self._state == "copying")
        # The copy itself cannot be interrupted; cancelling becomes possible once the job exists.
        self.cancel_button.setEnabled(active and self._session_id is not None)
        self.background_button.setVisible(active or self._state == "copying")
        self.close_button.setVisible(self._state in ("failed", "cancelled", "completed", "consent"))
        self.open_button.setVisible(self._state == "completed")
        if self._state == "completed":
            self.open_button.setDefault(True)
            self.open_button.setFocus()

    def _cancel(self) -> None:
        if self._session_id is not None:
            self.cancel_button.setEnabled(False)
            self.stage_label.setText("Cancelling…")
            self.cancelRequested.emit(self._session_id)

    def _record_consent(self, method: str) -> None:
        if self._session_id is not None:
            for button in self.consent_buttons.values():
                button.setEnabled(False)
            self.stage_label.setText("Recording consent…")
            self.consentRecorded.emit(self._session_id, method)

    def consent_failed(self) -> None:
        """Recording the consent did not work (the window says why): the buttons can be tried again."""
        for button in self.consent_buttons.values():
            button.setEnabled(True)
        if self._state == "consent":
            self.stage_label.setText("Waiting for consent")

    def _open(self) -> None:
        if self._session_id is not None:
            self.openRequested.emit(self._session_id)
        self.accept()
