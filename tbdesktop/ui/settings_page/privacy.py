"""The clinician's Privacy & retention card, and the Storage card (Advanced) with the data folder."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIntValidator
from PySide6.QtWidgets import QCheckBox, QFormLayout, QFrame, QHBoxLayout, QLineEdit, QPushButton, QWidget

from tbdesktop.services.retention import MAX_DAYS
from tbdesktop.services.settings import MAX_IDLE_LOCK_MINUTES, PrivacySettings, SettingsView
from tbdesktop.ui.forms import field_label, hint_label, settings_card
from tbdesktop.ui.settings_page.rows import FormRows, short_edit


def _days_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _days_value(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _number_row(
    rows: FormRows, form: QFormLayout, names: tuple[str, str, str, str], high: int, beside: str
) -> QLineEdit:
    """A short whole-number field (0 to ``high``) with its unit beside it; ``names``: field, object, label,
    placeholder."""
    field, object_name, label, placeholder = names
    edit = short_edit(object_name, placeholder)
    edit.setValidator(QIntValidator(0, high, edit))
    rows.add(form, field, label, edit, beside=beside)
    return edit


class PrivacyCard(QFrame):
    """Consent, retention and the idle lock: the clinician's own settings, kept with the profile."""

    def __init__(self, rows: FormRows, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _card, form = settings_card(
            "privacyForm", "Privacy & retention", "Your own settings, kept with your profile.", self
        )
        self.consent_check = QCheckBox("Require the client's recorded consent before a session is processed")
        self.consent_check.setObjectName("consentRequiredCheck")
        rows.add(form, "consent_required", "&Consent", self.consent_check)
        self.recording_days_edit = _number_row(
            rows,
            form,
            ("retention_recording_days", "recordingRetentionEdit", "Delete &recordings", "Keep"),
            MAX_DAYS,
            "days after processing (0 = right after processing; empty = keep them)",
        )
        self.transcript_days_edit = _number_row(
            rows,
            form,
            ("retention_transcript_days", "transcriptRetentionEdit", "Delete t&ranscripts", "Keep"),
            MAX_DAYS,
            "days after the note is signed (empty = keep them)",
        )
        self.idle_edit = _number_row(
            rows,
            form,
            ("idle_lock_minutes", "idleLockEdit", "&Lock after", "15"),
            MAX_IDLE_LOCK_MINUTES,
            f"minutes without activity (0 = never; at most {MAX_IDLE_LOCK_MINUTES})",
        )

    def set_privacy(self, privacy: PrivacySettings) -> None:
        self.consent_check.setChecked(privacy.consent_required)
        self.recording_days_edit.setText(_days_text(privacy.retention_recording_days))
        self.transcript_days_edit.setText(_days_text(privacy.retention_transcript_days))
        self.idle_edit.setText(str(privacy.idle_lock_minutes))

    def privacy(self) -> PrivacySettings:
        idle = self.idle_edit.text().strip()
        return PrivacySettings(
            consent_required=self.consent_check.isChecked(),
            retention_recording_days=_days_value(self.recording_days_edit.text()),
            retention_transcript_days=_days_value(self.transcript_days_edit.text()),
            idle_lock_minutes=int(idle) if idle.isdigit() else -1,
        )


class StorageCard(QFrame):
    """Where the data, the API keys and the settings file are kept on this computer."""

    notify = Signal(str, str)  # ("success" | "error", message)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _card, form = settings_card(
            "storageForm", "Storage", "Where TherapyBridge keeps its data on this computer.", self
        )
        row = QWidget()
        row_layout = QHBoxLayout(row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.setSpacing(8)
        self.data_dir_edit = QLineEdit()
        self.data_dir_edit.setObjectName("dataDirEdit")
        self.data_dir_edit.setReadOnly(True)
        self.data_dir_edit.setAccessibleName("Data folder")
        self.copy_button = QPushButton("Copy path")
        self.copy_button.setObjectName("copyDataDirButton")
        self.copy_button.setAutoDefault(False)
        self.copy_button.clicked.connect(self.copy_data_dir)
        self.open_button = QPushButton("Open folder")
        self.open_button.setObjectName("openDataDirButton")
        self.open_button.setAutoDefault(False)
        self.open_button.clicked.connect(self.open_data_dir)
        row_layout.addWidget(self.data_dir_edit, 1)
        row_layout.addWidget(self.copy_button)
        row_layout.addWidget(self.open_button)
        form.addRow(field_label("&Data folder", self.data_dir_edit), row)
        data_hint = hint_label("Recordings are stored encrypted. IT sets this folder (TB_DATA_DIR).")
        form.addRow("", data_hint)
        self.secrets_label = hint_label("", "secretsWhere")
        self.secrets_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secrets_label.setAccessibleName("Where API keys are kept")
        form.addRow(field_label("API keys"), self.secrets_label)
        self.settings_file_label = hint_label("", "settingsHint")
        self.settings_file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(field_label("Settings file"), self.settings_file_label)

    def set_view(self, view: SettingsView) -> None:
        self.data_dir_edit.setText(str(view.data_dir))
        self.data_dir_edit.setCursorPosition(0)
        if view.secrets_in_os_keyring:
            self.secrets_label.setText("In this computer's OS keyring (never in the settings file).")
        else:
            self.secrets_label.setText(
                f"In your profile's encrypted secret store, opened with your passcode: {view.secrets_dir}"
            )
        self.settings_file_label.setText(str(view.settings_path))

    def copy_data_dir(self) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.data_dir_edit.text())
        self.notify.emit("success", "The data folder's path was copied.")

    def open_data_dir(self) -> None:
        path = self.data_dir_edit.text()
        if path and not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.notify.emit("error", "The data folder could not be opened on this computer.")
