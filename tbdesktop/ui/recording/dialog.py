"""Record in the room: input device, client, consent, a live level meter and elapsed time, pause/resume, stop,
then save as a session (queued for processing) or discard. Audio is on disk, encrypted, as it is recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import ClientInfo, SessionInfo
from tbdesktop.services.recording import (
    InputDevice,
    LevelReading,
    RecorderState,
    RecorderStatus,
    RecordingParams,
    RecordingService,
)
from tbdesktop.services.recording.recorder import Recorder
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.aio import run_dialog
from tbdesktop.ui.forms import choice_combo
from tbdesktop.ui.recording.controller import RecorderController
from tbdesktop.ui.recording.relay import CONSENT_CHOICES, SESSION_TYPES, STATE_WORDS, clock, meter_value
from tbdesktop.ui.resources import icon

__all__ = ["RecorderDialog", "clock", "meter_value"]


class RecorderDialog(QDialog):
    saved = Signal(SessionInfo)
    notify = Signal(str, str)  # ("success" | "error", message)

    def __init__(
        self,
        recording: RecordingService,
        sessions: SessionService,
        parent: QWidget | None = None,
        *,
        consent_required: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("recorderDialog")
        self.setWindowTitle("Record session")
        self.setWindowIcon(icon("app"))
        self.setMinimumWidth(520)
        self._consent_required = consent_required
        self._controller = RecorderController(recording, sessions, self, parent=self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 18)
        layout.setSpacing(12)
        title = QLabel("Record session")
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        hint = QLabel(
            "Audio is written to this computer, encrypted, every second while you record: a crash or power cut "
            "loses at most a second, and the recording is offered back at the next start."
        )
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        device_row = QHBoxLayout()
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.setAccessibleName("Microphone")
        device_row.addWidget(self.device_combo, 1)
        self.rescan_button = QPushButton("Refresh")
        self.rescan_button.setObjectName("rescanButton")
        self.rescan_button.setToolTip("Look for microphones plugged in since the app started")
        self.rescan_button.clicked.connect(lambda: self.load_devices(rescan=True))
        device_row.addWidget(self.rescan_button)
        device_label = QLabel("&Microphone")
        device_label.setBuddy(self.device_combo)
        form.addRow(device_label, device_row)
        self.client_combo = QComboBox()
        self.client_combo.setObjectName("clientCombo")
        self.client_combo.setEditable(True)
        self.client_combo.setAccessibleName("Client")
        line = self.client_combo.lineEdit()
        if line is not None:
            line.setPlaceholderText("Choose a client or type a new name (optional)")
        form.addRow("C&lient", self.client_combo)
        self.type_combo = choice_combo("typeCombo", SESSION_TYPES, "Session type")
        form.addRow("Session &type", self.type_combo)
        unchosen = "Confirm the client's consent…" if consent_required else "Not recorded yet"
        self.consent_combo = choice_combo("consentCombo", ((None, unchosen), *CONSENT_CHOICES), "Client consent")
        self.consent_combo.currentIndexChanged.connect(self.update_buttons)
        form.addRow("&Consent", self.consent_combo)
        layout.addLayout(form)

        self.elapsed_label = QLabel(clock(0))
        self.elapsed_label.setObjectName("recorderElapsed")
        self.elapsed_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.elapsed_label.setAccessibleName("Recorded time")
        layout.addWidget(self.elapsed_label)
        self.meter = QProgressBar()
        self.meter.setObjectName("levelMeter")
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName("Input level")
        layout.addWidget(self.meter)
        self.state_label = QLabel(STATE_WORDS[RecorderState.IDLE])
        self.state_label.setObjectName("recorderState")
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("formError")
        self.problem_label.setWordWrap(True)
        self.problem_label.hide()
        layout.addWidget(self.problem_label)

        buttons = QHBoxLayout()
        self.discard_button = self._button(buttons, "Discard", "discardButton", self.discard)
        buttons.addStretch(1)
        self.pause_button = self._button(buttons, "Pause", "pauseButton", self.toggle_pause)
        self.pause_button.setShortcut(QKeySequence("Ctrl+P"))
        self.stop_button = self._button(buttons, "Stop", "stopButton", self.stop)
        self.record_button = self._button(buttons, "● Record", "recordButton", self.start, primary=True)
        self.record_button.setDefault(True)
        self.save_button = self._button(buttons, "Save session", "saveRecordingButton", self.save, primary=True)
        layout.addLayout(buttons)
        self.update_buttons()

    @staticmethod
    def _button(
        row: QHBoxLayout, text: str, name: str, slot: Callable[[], None], *, primary: bool = False
    ) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        if primary:
            button.setProperty("primary", True)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    # -- set-up -------------------------------------------------------------------------------------------

    @property
    def state(self) -> RecorderState:
        return self._controller.state

    @property
    def recorder(self) -> Recorder | None:
        """The recorder once recording has started; None before and once saved or discarded."""
        return self._controller.recorder

    @property
    def _recording(self) -> RecordingService:
        # The one service the dialog was built on (the window checks it is the bundle's).
        return self._controller.recording

    def load(self, clients: list[ClientInfo]) -> None:
        """Fill the client picker, then look for microphones (off the GUI thread)."""
        self.client_combo.clear()
        self.client_combo.addItem("", None)
        for client in clients:
            self.client_combo.addItem(client.name, client.id)
        self.load_devices()

    def load_devices(self, *, rescan: bool = False) -> None:
        self._controller.load_devices(rescan=rescan)

    def set_devices(self, devices: list[InputDevice], remembered: str | None) -> None:
        """The microphones found: the one chosen stays chosen, else the one used last, else the default."""
        current_name = self.device_combo.currentData()
        self.device_combo.clear()
        for device in devices:
            # A two-channel device is recorded as two channels: one microphone per person.
            text = f"{device.name} (2 channels: one microphone per person)" if device.channels == 2 else device.name
            self.device_combo.addItem(text, device.name)
        wanted = current_name if current_name else remembered
        names = [d.name for d in devices]
        if wanted in names:
            self.device_combo.setCurrentIndex(names.index(wanted))
        elif any(d.is_default for d in devices):
            self.device_combo.setCurrentIndex(next(i for i, d in enumerate(devices) if d.is_default))
        if not devices:
            self.show_problem("No microphone was found. Plug one in and press Refresh, or import a recording instead.")
        else:
            self.show_problem("")
        self.update_buttons()

    def _params(self) -> RecordingParams:
        name = self.client_combo.currentText().strip()
        data = self.client_combo.currentData()
        client_id = (
            data
            if isinstance(data, uuid.UUID) and self.client_combo.itemText(self.client_combo.currentIndex()) == name
            else None
        )
        return RecordingParams(
            device=self.device_combo.currentData(),
            client_name=None if client_id is not None or not name else name,
            client_id=client_id,
            session_type=str(self.type_combo.currentData() or "individual"),
            consent_method=self.consent_combo.currentData(),
        )

    # -- actions ------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._controller.recorder is not None or self._controller.busy:
            return
        if self._consent_required and self.consent_combo.currentData() is None:
            self.show_problem("Confirm how the client consented to being recorded before you start.")
            self.consent_combo.setFocus()
            return
        self._controller.start(self._params())

    def toggle_pause(self) -> None:
        self._controller.toggle_pause(self.device_combo.currentData())

    def stop(self) -> None:
        self._controller.stop()

    def save(self) -> None:
        self._controller.save(self._params(), self.client_combo.currentText().strip())

    def discard(self) -> None:
        self._controller.discard()

    async def confirm_discard(self) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Discard recording",
            "Delete everything recorded in this session? It cannot be recovered.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("discardRecordingDialog")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        await run_dialog(box)
        confirmed = box.clickedButton() is box.button(QMessageBox.StandardButton.Discard)
        box.deleteLater()
        return confirmed

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing never loses audio: an unsaved recording is stopped and saved as a session."""
        if self._controller.unsaved:
            event.ignore()
            if not self._controller.busy:
                self.save()
            return
        super().closeEvent(event)

    def reject(self) -> None:  # Esc: the same as closing
        if self._controller.unsaved:
            if not self._controller.busy:
                self.save()
            return
        super().reject()

    # -- what the recorder says ---------------------------------------------------------------------------

    def show_level(self, reading: LevelReading) -> None:
        self.meter.setValue(meter_value(reading.peak_dbfs))
        if bool(self.meter.property("clipping")) != reading.clipping:
            self.meter.setProperty("clipping", reading.clipping)
            self.meter.style().unpolish(self.meter)
            self.meter.style().polish(self.meter)

    def show_elapsed(self, seconds: float) -> None:
        self.elapsed_label.setText(clock(seconds))

    def show_state(self, status: RecorderStatus) -> None:
        self.state_label.setText(STATE_WORDS.get(status.state, status.state.value))
        self.elapsed_label.setText(clock(status.elapsed_s))

    def show_problem(self, message: str) -> None:
        self.problem_label.setText(message)
        self.problem_label.setVisible(bool(message))

    def update_buttons(self) -> None:
        state = self.state
        idle = self.recorder is None
        live = self._controller.live
        busy = self._controller.busy
        self.record_button.setVisible(idle)
        self.record_button.setEnabled(idle and not busy and self.device_combo.count() > 0)
        self.pause_button.setVisible(not idle)
        self.pause_button.setEnabled(live and not busy)
        self.pause_button.setText("Pause" if state is RecorderState.RECORDING else "Resume")
        self.stop_button.setVisible(not idle)
        self.stop_button.setEnabled(live and not busy)
        self.save_button.setVisible(not idle)
        self.save_button.setEnabled(not idle and not busy)
        self.discard_button.setText("Cancel" if idle else "Discard")
        self.discard_button.setEnabled(not busy)
        # The set-up is fixed once recording starts, except the microphone when it has to change.
        self.device_combo.setEnabled(idle or state is RecorderState.DEVICE_LOST)
        self.rescan_button.setEnabled(idle or state is RecorderState.DEVICE_LOST)
        self.type_combo.setEnabled(idle)
