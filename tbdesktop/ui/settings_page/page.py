"""The Settings page itself: its cards, loading and saving, the API keys and the data folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIntValidator, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.errors import TBError
from tbdesktop.services.context import NOTES_KEY_NAME, OPENAI_KEY_NAME
from tbdesktop.services.notes_model import NotesModelService
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.retention import MAX_DAYS
from tbdesktop.services.settings import (
    MAX_IDLE_LOCK_MINUTES,
    PrivacySettings,
    ProcessingSettings,
    SettingsService,
    SettingsValidationError,
    SettingsView,
)
from tbdesktop.ui.about_section import AboutSection
from tbdesktop.ui.aio import spawn, user_message
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.settings_page.fields import KeyField, field_label, hint_label, mark_invalid
from tbdesktop.ui.settings_page.notes_model import NotesModelRows
from tbdesktop.ui.settings_page.profile import ProfileSection

ASR_CHOICES = (("local", "On this computer (offline)"), ("openai", "OpenAI-compatible server"))
NOTES_CHOICES = (
    ("local", "On this computer (offline draft)"),
    ("llm", "Language model on this workstation"),
    ("openai", "OpenAI-compatible chat server"),
)
LLM_FIELDS = ("notes_model_file", "notes_threads", "notes_gpu_layers", "notes_context", "notes_model_test")
SERVER_NOTE_FIELDS = ("notes_base_url", "notes_model", NOTES_KEY_NAME)


def _days_text(value: int | None) -> str:
    return "" if value is None else str(value)


def _days_value(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


class SettingsPage(NotesModelRows, QWidget):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    loaded = Signal()

    def __init__(
        self, settings: SettingsService, parent: QWidget | None = None, *, models: NotesModelService | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._service = settings
        self._models = models if models is not None else NotesModelService()
        self._model_test: asyncio.Task[None] | None = None
        self._gpu: list[str] | None = None  # the notes runtime's GPUs, once asked
        self._gpu_asked = False
        self._rows: dict[str, int] = {}  # form rows that come and go with the notes backend
        self._view: SettingsView | None = None
        self._busy = False
        self._errors: dict[str, QLabel] = {}
        self._fields: dict[str, QWidget] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        scroll = QScrollArea()
        scroll.setObjectName("settingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content = QWidget()
        content.setObjectName("settingsContent")
        content.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(14)
        scroll.setWidget(content)
        outer.addWidget(scroll, 1)
        self._scroll = scroll
        self._sections = layout

        title = QLabel("Settings")
        title.setObjectName("pageTitle")
        subtitle = QLabel("Your profile and privacy choices; how this workstation works is under Advanced (IT).")
        subtitle.setObjectName("pageSubtitle")
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(title)
        titles.addWidget(subtitle)
        layout.addLayout(titles)

        # Clinician's sections first; servers, models, API keys and storage under "Advanced (IT)", collapsed.
        self.profile_section = ProfileSection(ProfileService(settings.ctx), settings.user)
        self.profile_section.notify.connect(self.notify)
        layout.addWidget(self.profile_section)
        layout.addWidget(self._build_privacy())
        processing = self._build_processing()  # builds the notes choice too, shown in its own section
        layout.addWidget(self._build_notes())
        self.advanced_button = QToolButton()
        self.advanced_button.setObjectName("advancedToggle")
        self.advanced_button.setText("Advanced (IT): servers, models, API keys, storage")
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setCheckable(True)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.advanced_button.setAccessibleName("Advanced settings for IT")
        self.advanced_button.toggled.connect(self.show_advanced)
        layout.addWidget(self.advanced_button)
        self.advanced = QWidget()
        self.advanced.setObjectName("advancedSettings")
        advanced_layout = QVBoxLayout(self.advanced)
        advanced_layout.setContentsMargins(0, 0, 0, 0)
        advanced_layout.setSpacing(14)
        advanced_layout.addWidget(processing)
        advanced_layout.addWidget(self._build_storage())
        self.advanced.setVisible(False)
        layout.addWidget(self.advanced)
        self.about = AboutSection()
        layout.addWidget(self.about)
        layout.addStretch(1)

        # The save bar stays in view below the scrolling sections.
        bar = QFrame()
        bar.setObjectName("saveBar")
        bar_row = QHBoxLayout(bar)
        bar_row.setContentsMargins(32, 10, 32, 10)
        self.form_error = hint_label("", "formError")
        self.form_error.setAccessibleName("Error")
        self.form_error.hide()
        bar_row.addWidget(self.form_error, 1)
        self.saved_label = hint_label("", "muted")
        bar_row.addWidget(self.saved_label, 1)
        self.save_button = action_button("Save settings", "saveSettingsButton")
        self.save_button.setAccessibleName("Save settings")
        self.save_button.setShortcut("Ctrl+S")
        self.save_button.setToolTip("Save the processing and privacy settings (Ctrl+S)")
        self.save_button.clicked.connect(self.save)
        bar_row.addWidget(self.save_button)
        outer.addWidget(bar)
        self._set_enabled(False)
        self._backend_changed()  # the rows of the chosen notes backend only, from the first paint

    def show_advanced(self, on: bool = True) -> None:
        """Open (or close) the Advanced (IT) section."""
        if self.advanced_button.isChecked() != on:
            self.advanced_button.setChecked(on)  # comes back here through toggled
            return
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(on)

    def add_section(self, section: QWidget) -> None:
        """A section the window provides (Clinic), placed above About."""
        self._sections.insertWidget(self._sections.indexOf(self.about), section)

    def show_section(self, section: QWidget) -> None:
        """Scrolls the section into view (once the page is laid out)."""
        QTimer.singleShot(0, lambda: self._scroll.ensureWidgetVisible(section, 0, 24))

    # -- building -------------------------------------------------------------------------------------

    def _card(self, name: str, title: str, hint: str) -> tuple[QFrame, QFormLayout]:
        card = QFrame()
        card.setObjectName("settingsCard")
        card.setAccessibleName(title)
        box = QVBoxLayout(card)
        box.setContentsMargins(20, 16, 20, 18)
        box.setSpacing(4)
        heading = QLabel(title)
        heading.setObjectName("sectionTitle")
        box.addWidget(heading)
        box.addWidget(hint_label(hint, "muted"))
        box.addSpacing(8)
        form = QFormLayout()
        form.setObjectName(name)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        box.addLayout(form)
        return card, form

    def _field(
        self, form: QFormLayout, name: str, label: str, widget: QWidget, hint: str = "", *, beside: str = ""
    ) -> QLabel | None:
        """A row with the field, an optional hint (under it, or ``beside`` a short field) and an inline error;
        returns the ``beside`` hint."""
        column = QVBoxLayout()
        column.setSpacing(3)
        beside_label = None
        if beside:
            row = QHBoxLayout()
            row.setSpacing(10)
            row.addWidget(widget)
            beside_label = hint_label(beside)
            row.addWidget(beside_label, 1)
            column.addLayout(row)
        else:
            column.addWidget(widget)
        if hint:
            column.addWidget(hint_label(hint))
        error = hint_label("", "fieldError")
        error.hide()
        column.addWidget(error)
        self._errors[name] = error
        self._fields[name] = widget
        widget.setAccessibleName(label.replace("&", ""))
        form.addRow(field_label(label, widget), column)
        self._rows[name] = form.rowCount() - 1
        return beside_label

    def _line(self, name: str, placeholder: str = "", *, max_length: int = 2000) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(max_length)
        return edit

    def _combo(self, name: str, choices: tuple[tuple[str, str], ...]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        for value, text in choices:
            combo.addItem(text, value)
        return combo

    def _build_processing(self) -> QFrame:
        card, form = self._card(
            "processingForm",
            "Processing",
            "Where recordings are transcribed and notes are written. With both on this computer, no part of a "
            "recording or transcript leaves the workstation.",
        )
        self._processing_form = form
        self.asr_combo = self._combo("asrBackendCombo", ASR_CHOICES)
        self._field(form, "asr_backend", "&Transcription", self.asr_combo)
        self.asr_url_edit = self._line("asrBaseUrlEdit", "https://transcribe.clinic.example/v1")
        self._field(form, "openai_base_url", "Server &address", self.asr_url_edit)
        self.asr_model_edit = self._line("asrModelEdit", "whisper-1", max_length=200)
        self._field(form, "openai_model", "&Model", self.asr_model_edit)
        self.openai_key = KeyField(OPENAI_KEY_NAME, "Transcription server API key", "Paste a new key to store it")
        self._field(form, OPENAI_KEY_NAME, "API &key", self.openai_key)
        self.openai_key.setAccessibleName("Transcription server API key")

        self.notes_combo = self._combo("notesBackendCombo", NOTES_CHOICES)
        self.notes_url_edit = self._line("notesBaseUrlEdit", "Empty: the transcription server's address")
        self._field(form, "notes_base_url", "Notes server add&ress", self.notes_url_edit)
        self.notes_model_edit = self._line("notesModelEdit", "e.g. gpt-4o-mini or llama3.1:8b", max_length=200)
        self._field(form, "notes_model", "Notes mod&el", self.notes_model_edit)
        self._build_notes_model(form)
        self.notes_key = KeyField(
            NOTES_KEY_NAME, "Notes server API key", "Empty: the transcription server's key is used"
        )
        self._field(form, NOTES_KEY_NAME, "Notes API ke&y", self.notes_key)
        self.notes_key.setAccessibleName("Notes server API key")

        for key_field in (self.openai_key, self.notes_key):
            key_field.saveRequested.connect(self.save_key)
            key_field.clearRequested.connect(self.clear_key)
        self.restart_label = hint_label("", "restartNote")
        form.addRow("", self.restart_label)
        self.asr_combo.currentIndexChanged.connect(self._backend_changed)
        self.notes_combo.currentIndexChanged.connect(self._backend_changed)
        return card

    def _build_notes(self) -> QFrame:
        card, form = self._card(
            "notesForm",
            "Notes",
            "Who writes the draft progress note you review and sign. A model file or server is set up by IT "
            "under Advanced (IT).",
        )
        self._field(form, "notes_backend", "&Written by", self.notes_combo)
        return card

    def _build_privacy(self) -> QFrame:
        card, form = self._card("privacyForm", "Privacy & retention", "Your own settings, kept with your profile.")
        self.consent_check = QCheckBox("Require the client's recorded consent before a session is processed")
        self.consent_check.setObjectName("consentRequiredCheck")
        self._field(form, "consent_required", "&Consent", self.consent_check)
        self.recording_days_edit = self._line("recordingRetentionEdit", "Keep", max_length=4)
        self.recording_days_edit.setValidator(QIntValidator(0, MAX_DAYS, self.recording_days_edit))
        self.recording_days_edit.setMaximumWidth(110)
        self._field(
            form,
            "retention_recording_days",
            "Delete &recordings",
            self.recording_days_edit,
            beside="days after processing (0 = right after processing; empty = keep them)",
        )
        self.transcript_days_edit = self._line("transcriptRetentionEdit", "Keep", max_length=4)
        self.transcript_days_edit.setValidator(QIntValidator(0, MAX_DAYS, self.transcript_days_edit))
        self.transcript_days_edit.setMaximumWidth(110)
        self._field(
            form,
            "retention_transcript_days",
            "Delete t&ranscripts",
            self.transcript_days_edit,
            beside="days after the note is signed (empty = keep them)",
        )
        self.idle_edit = self._line("idleLockEdit", "15", max_length=4)
        self.idle_edit.setValidator(QIntValidator(0, MAX_IDLE_LOCK_MINUTES, self.idle_edit))
        self.idle_edit.setMaximumWidth(110)
        self._field(
            form,
            "idle_lock_minutes",
            "&Lock after",
            self.idle_edit,
            beside=f"minutes without activity (0 = never; at most {MAX_IDLE_LOCK_MINUTES})",
        )
        return card

    def _build_storage(self) -> QFrame:
        card, form = self._card("storageForm", "Storage", "Where TherapyBridge keeps its data on this computer.")
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
        return card

    # -- loading --------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._view is None and not self._busy:
            self.schedule_refresh()

    def schedule_refresh(self) -> None:
        self._run(self.refresh())

    async def refresh(self) -> None:
        await self.profile_section.refresh()
        self.set_view(await self._service.view())
        self.about.set_info(await self._service.about())

    def view(self) -> SettingsView | None:
        return self._view

    def set_view(self, view: SettingsView) -> None:
        """Show the stored settings (discarding unsaved edits)."""
        self._view = view
        p, privacy = view.processing, view.privacy
        self.asr_combo.setCurrentIndex(max(self.asr_combo.findData(p.asr_backend), 0))
        self.asr_url_edit.setText(p.openai_base_url)
        self.asr_model_edit.setText(p.openai_model)
        self.notes_combo.setCurrentIndex(max(self.notes_combo.findData(p.notes_backend), 0))
        self.notes_url_edit.setText(p.notes_base_url)
        model_file = p.notes_backend == "llm"  # the one setting holds a file path for llm, a model name else
        self.notes_model_edit.setText("" if model_file else p.notes_model)
        self.notes_file.setText(p.notes_model if model_file else "")
        self.notes_threads_spin.setValue(p.notes_threads)
        self.notes_gpu_spin.setValue(p.notes_gpu_layers)
        self.notes_context_spin.setValue(p.notes_context)
        self.openai_key.set_stored(view.openai_key_stored, view.secrets_problem)
        self.notes_key.set_stored(view.notes_key_stored, view.secrets_problem)
        self.consent_check.setChecked(privacy.consent_required)
        self.recording_days_edit.setText(_days_text(privacy.retention_recording_days))
        self.transcript_days_edit.setText(_days_text(privacy.retention_transcript_days))
        self.idle_edit.setText(str(privacy.idle_lock_minutes))
        self.data_dir_edit.setText(str(view.data_dir))
        self.data_dir_edit.setCursorPosition(0)
        if view.secrets_in_os_keyring:
            self.secrets_label.setText("In this computer's OS keyring (never in the settings file).")
        else:
            self.secrets_label.setText(
                f"In your profile's encrypted secret store, opened with your passcode: {view.secrets_dir}"
            )
        self.settings_file_label.setText(str(view.settings_path))
        self._show_restart_note()
        self._clear_errors()
        self._backend_changed()
        self._set_enabled(True)
        self.loaded.emit()

    def _show_restart_note(self) -> None:
        view = self._view
        if view is None:
            return
        words = "Processing changes apply the next time TherapyBridge starts."
        if view.restart_pending:
            words = "Saved processing changes are waiting: restart TherapyBridge to use them."
        if view.env_overrides:
            names = ", ".join(f"TB_{n.upper()}" for n in view.env_overrides)
            words += f" {names} set on this computer override what is saved here."
        self.restart_label.setText(words)
        self.restart_label.setProperty("pending", view.restart_pending)
        self.restart_label.style().unpolish(self.restart_label)
        self.restart_label.style().polish(self.restart_label)

    def _backend_changed(self) -> None:
        asr_server = self.asr_combo.currentData() == "openai"
        notes_server = self.notes_combo.currentData() == "openai"
        # The notes server may share the transcription server's address; keys can be stored at any time.
        self.asr_url_edit.setEnabled(asr_server or notes_server)
        self.asr_model_edit.setEnabled(asr_server)
        self.notes_url_edit.setEnabled(notes_server)
        self.notes_model_edit.setEnabled(notes_server)
        notes_llm = self.notes_combo.currentData() == "llm"
        for name in LLM_FIELDS:
            self._processing_form.setRowVisible(self._rows[name], notes_llm)
        for name in SERVER_NOTE_FIELDS:
            self._processing_form.setRowVisible(self._rows[name], not notes_llm)
        for name in (*LLM_FIELDS, *SERVER_NOTE_FIELDS):  # showing a row shows its empty error line too
            if not self._errors[name].text():
                self._errors[name].hide()
        if notes_llm and not self._gpu_asked:
            self._gpu_asked = True
            spawn(self._ask_gpu())

    # -- reading the form -----------------------------------------------------------------------------

    def processing(self) -> ProcessingSettings:
        notes_backend = str(self.notes_combo.currentData() or "local")
        return ProcessingSettings(
            asr_backend=str(self.asr_combo.currentData() or "local"),
            openai_base_url=self.asr_url_edit.text().strip(),
            openai_model=self.asr_model_edit.text().strip(),
            notes_backend=notes_backend,
            notes_base_url=self.notes_url_edit.text().strip(),
            notes_model=self.notes_file.text() if notes_backend == "llm" else self.notes_model_edit.text().strip(),
            notes_threads=self.notes_threads_spin.value(),
            notes_gpu_layers=self.notes_gpu_spin.value(),
            notes_context=self.notes_context_spin.value(),
        )

    def privacy(self) -> PrivacySettings:
        idle = self.idle_edit.text().strip()
        return PrivacySettings(
            consent_required=self.consent_check.isChecked(),
            retention_recording_days=_days_value(self.recording_days_edit.text()),
            retention_transcript_days=_days_value(self.transcript_days_edit.text()),
            idle_lock_minutes=int(idle) if idle.isdigit() else -1,
        )

    def errors(self) -> dict[str, str]:
        """The inline errors shown now, by field name."""
        return {name: label.text() for name, label in self._errors.items() if not label.isHidden()}

    def _show_errors(self, errors: dict[str, str]) -> None:
        self._clear_errors()
        if self.notes_combo.currentData() == "llm" and "notes_model" in errors:
            errors = {("notes_model_file" if k == "notes_model" else k): v for k, v in errors.items()}
        for name, message in errors.items():
            label = self._errors.get(name)
            if label is None:
                continue
            label.setText(message)
            label.show()
            field = self._fields.get(name)
            if field is not None:
                mark_invalid(field, True)
        self.form_error.setText("Some settings need a look before they can be saved.")
        self.form_error.show()
        self.saved_label.hide()
        first = next((self._fields[n] for n in self._errors if n in errors and n in self._fields), None)
        if first is not None and self.advanced.isAncestorOf(first):
            self.show_advanced(True)  # a field that needs a look is never left hidden
        if first is not None:
            first.setFocus()
            self._scroll.ensureWidgetVisible(first, 50, 80)

    def _clear_errors(self) -> None:
        for name, label in self._errors.items():
            label.hide()
            label.clear()
            field = self._fields.get(name)
            if field is not None and field.property("invalid"):
                mark_invalid(field, False)
        self.form_error.hide()

    # -- actions --------------------------------------------------------------------------------------

    def _set_enabled(self, enabled: bool) -> None:
        self.save_button.setEnabled(enabled)
        for key_field in (self.openai_key, self.notes_key):
            key_field.setEnabled(enabled)
        if enabled:
            self._backend_changed()

    def _run(self, coro: Coroutine[Any, Any, Any], on_error: Callable[[BaseException], None] | None = None) -> None:
        """One call at a time; a TBError's message goes to ``on_error`` (else a toast)."""
        if self._busy:
            coro.close()
            return
        self._busy = True
        self.save_button.setEnabled(False)

        async def guarded() -> None:
            try:
                await coro
            except TBError as exc:
                if on_error is None:
                    raise
                on_error(exc)
            finally:
                self._busy = False
                self.save_button.setEnabled(self._view is not None)

        spawn(guarded(), on_error=lambda message: self.notify.emit("error", message))

    def save(self) -> None:
        self.saved_label.hide()
        self._run(self._save(), on_error=self._save_failed)

    async def _save(self) -> None:
        before = self._view
        view = await self._service.save(self.processing(), self.privacy())
        self.set_view(view)
        restart = before is not None and view.processing != before.processing
        message = "Settings saved." + (" Processing changes apply after a restart." if restart else "")
        self.saved_label.setText(message)
        self.saved_label.show()
        self.notify.emit("success", message)

    def _save_failed(self, exc: BaseException) -> None:
        if isinstance(exc, SettingsValidationError):
            self._show_errors(exc.errors)
        else:
            self.form_error.setText(user_message(exc))
            self.form_error.show()
            self.notify.emit("error", user_message(exc))

    def _key_field(self, name: str) -> KeyField:
        return self.openai_key if name == OPENAI_KEY_NAME else self.notes_key

    def save_key(self, name: str, value: str) -> None:
        field = self._key_field(name)

        def failed(exc: BaseException) -> None:
            field.show_error(user_message(exc))
            self.notify.emit("error", user_message(exc))

        async def store() -> None:
            view = await self._service.set_api_key(name, value)
            self._update_keys(view)
            self.notify.emit("success", "The API key was stored.")

        self._run(store(), on_error=failed)

    def clear_key(self, name: str) -> None:
        field = self._key_field(name)

        def failed(exc: BaseException) -> None:
            field.show_error(user_message(exc))
            self.notify.emit("error", user_message(exc))

        async def clear() -> None:
            view = await self._service.clear_api_key(name)
            self._update_keys(view)
            self.notify.emit("success", "The API key was removed.")

        self._run(clear(), on_error=failed)

    def _update_keys(self, view: SettingsView) -> None:
        """Only the keys' state: unsaved edits elsewhere on the page stay."""
        if self._view is not None:
            self._view = view
        self.openai_key.set_stored(view.openai_key_stored, view.secrets_problem)
        self.notes_key.set_stored(view.notes_key_stored, view.secrets_problem)

    def copy_data_dir(self) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.data_dir_edit.text())
        self.notify.emit("success", "The data folder's path was copied.")

    def open_data_dir(self) -> None:
        path = self.data_dir_edit.text()
        if path and not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.notify.emit("error", "The data folder could not be opened on this computer.")
