"""The clinician's Privacy & retention card, and the Storage card (Advanced) with the data folder."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIntValidator
from PySide6.QtWidgets import QCheckBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from tbdesktop.policy import Policy
from tbdesktop.services.retention import MAX_DAYS
from tbdesktop.services.settings import MAX_IDLE_LOCK_MINUTES, PrivacySettings, SettingsView
from tbdesktop.ui.forms import field_label, hint_label, settings_card
from tbdesktop.ui.settings_page.rows import FormRows, short_edit


def _days_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _days_value(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


RECORDINGS_BESIDE = "days after processing (0 = right after processing; empty = keep them)"
TRANSCRIPTS_BESIDE = "days after the note is signed (empty = keep them)"
IDLE_BESIDE = f"minutes without activity (0 = never; at most {MAX_IDLE_LOCK_MINUTES})"
IDLE_PLACEHOLDER = "15"


class NumberRow:
    """A short whole-number field (``low`` to ``high``) with its unit beside it; the clinic's policy may narrow
    the range, and then the words beside it say so."""

    def __init__(
        self, rows: FormRows, form: QFormLayout, names: tuple[str, str, str, str], high: int, beside: str
    ) -> None:
        """``names``: field, object, label, placeholder."""
        field, object_name, label, placeholder = names
        self.edit = short_edit(object_name, placeholder)
        self.validator = QIntValidator(0, high, self.edit)
        self.edit.setValidator(self.validator)
        self.high = high
        self.placeholder = placeholder
        self.beside_text = beside
        beside_label = rows.add(form, field, label, self.edit, beside=beside)
        assert beside_label is not None
        self.beside: QLabel = beside_label

    def bound(self, low: int = 0, high: int | None = None, beside: str | None = None, placeholder: str = "") -> None:
        """The range the field takes (the policy's, or the default with none given) and the words beside it."""
        self.validator.setRange(low, self.high if high is None else high)
        self.beside.setText(beside or self.beside_text)
        self.edit.setPlaceholderText(placeholder or self.placeholder)


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
        self.recording_days = NumberRow(
            rows,
            form,
            ("retention_recording_days", "recordingRetentionEdit", "Delete &recordings", "Keep"),
            MAX_DAYS,
            RECORDINGS_BESIDE,
        )
        self.transcript_days = NumberRow(
            rows,
            form,
            ("retention_transcript_days", "transcriptRetentionEdit", "Delete t&ranscripts", "Keep"),
            MAX_DAYS,
            TRANSCRIPTS_BESIDE,
        )
        self.idle = NumberRow(
            rows,
            form,
            ("idle_lock_minutes", "idleLockEdit", "&Lock after", IDLE_PLACEHOLDER),
            MAX_IDLE_LOCK_MINUTES,
            IDLE_BESIDE,
        )
        self.recording_days_edit = self.recording_days.edit
        self.transcript_days_edit = self.transcript_days.edit
        self.idle_edit = self.idle.edit
        self._locked: dict[str, Any] = {}

    def set_privacy(self, privacy: PrivacySettings) -> None:
        self.consent_check.setChecked(privacy.consent_required)
        self.recording_days_edit.setText(_days_text(privacy.retention_recording_days))
        self.transcript_days_edit.setText(_days_text(privacy.retention_transcript_days))
        self.idle_edit.setText(str(privacy.idle_lock_minutes))

    def set_view(self, view: SettingsView) -> None:
        """The view's privacy settings within the clinic's policy; call ``FormRows.apply_policy`` first."""
        privacy = view.privacy
        if view.policy.consent_required and "consent_required" in view.locked:
            privacy = dataclasses.replace(privacy, consent_required=True)  # in force whatever the profile says
        self._locked = {f.name: getattr(privacy, f.name) for f in dataclasses.fields(privacy) if f.name in view.locked}
        self.apply_bounds(view.policy)
        self.set_privacy(privacy)

    def apply_bounds(self, policy: Policy) -> None:
        """Retention at least the clinic's minimum, the idle lock on and at most its maximum; the defaults else."""
        for row, least, after in (
            (self.recording_days, policy.min_recording_days, "processing"),
            (self.transcript_days, policy.min_transcript_days, "the note is signed"),
        ):
            if least:
                row.bound(least, beside=f"days after {after} (at least {least}; empty = keep them)")
            else:
                row.bound()
        most = policy.idle_lock_max_minutes
        if most:
            self.idle.bound(
                1, most, f"minutes without activity (1 to {most})", placeholder=str(min(most, int(IDLE_PLACEHOLDER)))
            )
        else:
            self.idle.bound()

    def problems(self, policy: Policy) -> dict[str, str]:
        """What the clinic's policy refuses in the form, by field name (checked again when saved)."""
        privacy = self.privacy()
        problems: dict[str, str] = {}
        for name, value, least, what in (
            ("retention_recording_days", privacy.retention_recording_days, policy.min_recording_days, "recordings"),
            ("retention_transcript_days", privacy.retention_transcript_days, policy.min_transcript_days, "transcripts"),
        ):
            if name not in self._locked and least and value is not None and value < least:
                problems[name] = (
                    f"Your clinic's IT requires keeping {what} at least {least} days (or leave it empty to keep them)."
                )
        most = policy.idle_lock_max_minutes
        if "idle_lock_minutes" not in self._locked and most and not 1 <= privacy.idle_lock_minutes <= most:
            problems["idle_lock_minutes"] = f"Your clinic's IT requires the idle lock, after 1 to {most} minutes."
        return problems

    def privacy(self) -> PrivacySettings:
        """The form's settings; a value the clinic's IT fixed is sent as it is in force, whatever the field holds."""
        idle = self.idle_edit.text().strip()
        typed = PrivacySettings(
            consent_required=self.consent_check.isChecked(),
            retention_recording_days=_days_value(self.recording_days_edit.text()),
            retention_transcript_days=_days_value(self.transcript_days_edit.text()),
            idle_lock_minutes=int(idle) if idle.isdigit() else -1,
        )
        return dataclasses.replace(typed, **self._locked)


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
