"""The Processing card (Advanced): transcription and notes servers, the note model on this workstation, the API
keys; and the Notes card, where the clinician chooses who writes the draft note."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QWidget

from tbdesktop.policy import Policy
from tbdesktop.services.context import NOTES_KEY_NAME, OPENAI_KEY_NAME
from tbdesktop.services.settings import ProcessingSettings, SettingsView
from tbdesktop.ui.forms import choice_allowed, choice_combo, hint_label, repolish, restrict_choices, settings_card
from tbdesktop.ui.settings_page.fields import KeyField
from tbdesktop.ui.settings_page.notes_model import NotesModelRows
from tbdesktop.ui.settings_page.rows import FormRows, line_edit

ASR_CHOICES = (("local", "On this computer (offline)"), ("openai", "OpenAI-compatible server"))
NOTES_CHOICES = (
    ("local", "On this computer (offline draft)"),
    ("llm", "Language model on this workstation"),
    ("openai", "OpenAI-compatible chat server"),
)
LLM_FIELDS = ("notes_model_file", "notes_threads", "notes_gpu_layers", "notes_context", "notes_model_test")
SERVER_NOTE_FIELDS = ("notes_base_url", "notes_model", NOTES_KEY_NAME)
PROCESSING_FIELDS = tuple(f.name for f in dataclasses.fields(ProcessingSettings))


def shown_processing(view: SettingsView) -> ProcessingSettings:
    """The saved settings, except where the clinic's IT fixed a value: that one as it is in force."""
    return dataclasses.replace(view.processing, **locked_processing(view))


def locked_processing(view: SettingsView) -> dict[str, Any]:
    """The values the clinic's IT fixed, as they are in force (the next start's), by field name."""
    return {name: getattr(view.next_start, name) for name in PROCESSING_FIELDS if name in view.locked}


def notes_backend_combo() -> QComboBox:
    return choice_combo("notesBackendCombo", NOTES_CHOICES)


class NotesCard(QFrame):
    """Who writes the draft note: the choice only; its servers and model are set under Advanced."""

    def __init__(self, rows: FormRows, notes_combo: QComboBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _card, form = settings_card(
            "notesForm",
            "Notes",
            "Who writes the draft progress note you review and sign. A model file or server is set up by IT "
            "under Advanced (IT).",
            self,
        )
        rows.add(form, "notes_backend", "&Written by", notes_combo)


class ProcessingCard(QFrame):
    """Where recordings are transcribed and notes written; the rows shown follow the chosen backends."""

    llmShown = Signal()  # the workstation model's rows came into view

    def __init__(self, rows: FormRows, notes_combo: QComboBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _card, form = settings_card(
            "processingForm",
            "Processing",
            "Where recordings are transcribed and notes are written. With both on this computer, no part of a "
            "recording or transcript leaves the workstation.",
            self,
        )
        self._rows = rows
        self._form = form
        self.notes_combo = notes_combo
        self.asr_combo = choice_combo("asrBackendCombo", ASR_CHOICES)
        rows.add(form, "asr_backend", "&Transcription", self.asr_combo)
        self.asr_url_edit = line_edit("asrBaseUrlEdit", "https://transcribe.clinic.example/v1")
        rows.add(form, "openai_base_url", "Server &address", self.asr_url_edit)
        self.asr_model_edit = line_edit("asrModelEdit", "whisper-1", max_length=200)
        rows.add(form, "openai_model", "&Model", self.asr_model_edit)
        self.openai_key = KeyField(OPENAI_KEY_NAME, "Transcription server API key", "Paste a new key to store it")
        rows.add(form, OPENAI_KEY_NAME, "API &key", self.openai_key)
        self.openai_key.setAccessibleName("Transcription server API key")

        self.notes_url_edit = line_edit("notesBaseUrlEdit", "Empty: the transcription server's address")
        rows.add(form, "notes_base_url", "Notes server add&ress", self.notes_url_edit)
        self.notes_model_edit = line_edit("notesModelEdit", "e.g. gpt-4o-mini or llama3.1:8b", max_length=200)
        rows.add(form, "notes_model", "Notes mod&el", self.notes_model_edit)
        self.model = NotesModelRows(rows, form)
        self.notes_key = KeyField(
            NOTES_KEY_NAME, "Notes server API key", "Empty: the transcription server's key is used"
        )
        rows.add(form, NOTES_KEY_NAME, "Notes API ke&y", self.notes_key)
        self.notes_key.setAccessibleName("Notes server API key")
        self.restart_label = hint_label("", "restartNote")
        form.addRow("", self.restart_label)
        self.asr_combo.currentIndexChanged.connect(self.backend_changed)
        self.notes_combo.currentIndexChanged.connect(self.backend_changed)
        self._locked: dict[str, Any] = {}

    def key_field(self, name: str) -> KeyField:
        return self.openai_key if name == OPENAI_KEY_NAME else self.notes_key

    def set_view(self, view: SettingsView) -> None:
        """Shows the view's settings; call ``FormRows.apply_policy`` first (it locks the rows IT fixed)."""
        restrict_choices(self.asr_combo, view.policy.allowed_transcription)
        restrict_choices(self.notes_combo, view.policy.allowed_notes)
        self._locked = locked_processing(view)
        p = shown_processing(view)
        self.asr_combo.setCurrentIndex(max(self.asr_combo.findData(p.asr_backend), 0))
        self.asr_url_edit.setText(p.openai_base_url)
        self.asr_model_edit.setText(p.openai_model)
        self.notes_combo.setCurrentIndex(max(self.notes_combo.findData(p.notes_backend), 0))
        self.notes_url_edit.setText(p.notes_base_url)
        model_file = p.notes_backend == "llm"  # the one setting holds a file path for llm, a model name else
        self.notes_model_edit.setText("" if model_file else p.notes_model)
        self.model.notes_file.setText(p.notes_model if model_file else "")
        self.model.notes_threads_spin.setValue(p.notes_threads)
        self.model.notes_gpu_spin.setValue(p.notes_gpu_layers)
        self.model.notes_context_spin.setValue(p.notes_context)
        self.set_keys(view)
        self._show_restart_note(view)

    def set_keys(self, view: SettingsView) -> None:
        self.openai_key.set_stored(view.openai_key_stored, view.secrets_problem)
        self.notes_key.set_stored(view.notes_key_stored, view.secrets_problem)

    def _show_restart_note(self, view: SettingsView) -> None:
        words = "Processing changes apply the next time TherapyBridge starts."
        if view.restart_pending:
            words = "Saved processing changes are waiting: restart TherapyBridge to use them."
        if view.env_overrides:
            names = ", ".join(f"TB_{n.upper()}" for n in view.env_overrides)
            words += f" {names} set on this computer override what is saved here."
        self.restart_label.setText(words)
        self.restart_label.setProperty("pending", view.restart_pending)
        repolish(self.restart_label)

    def backend_changed(self) -> None:
        asr_server = self.asr_combo.currentData() == "openai"
        notes_server = self.notes_combo.currentData() == "openai"
        # The notes server may share the transcription server's address; keys can be stored at any time.
        self._rows.enable("openai_base_url", asr_server or notes_server)
        self._rows.enable("openai_model", asr_server)
        self._rows.enable("notes_base_url", notes_server)
        self._rows.enable("notes_model", notes_server)
        notes_llm = self.notes_combo.currentData() == "llm"
        for name in LLM_FIELDS:
            self._form.setRowVisible(self._rows.rows[name], notes_llm)
        for name in SERVER_NOTE_FIELDS:
            self._form.setRowVisible(self._rows.rows[name], not notes_llm)
        self._rows.hide_empty((*LLM_FIELDS, *SERVER_NOTE_FIELDS))
        if notes_llm:
            self.llmShown.emit()

    def processing(self) -> ProcessingSettings:
        """The form's settings; a value the clinic's IT fixed is sent as it is in force, whatever the field holds."""
        notes_backend = str(self._locked.get("notes_backend", self.notes_combo.currentData() or "local"))
        model = self.model
        typed = ProcessingSettings(
            asr_backend=str(self.asr_combo.currentData() or "local"),
            openai_base_url=self.asr_url_edit.text().strip(),
            openai_model=self.asr_model_edit.text().strip(),
            notes_backend=notes_backend,
            notes_base_url=self.notes_url_edit.text().strip(),
            notes_model=model.notes_file.text() if notes_backend == "llm" else self.notes_model_edit.text().strip(),
            notes_threads=model.notes_threads_spin.value(),
            notes_gpu_layers=model.notes_gpu_spin.value(),
            notes_context=model.notes_context_spin.value(),
        )
        return dataclasses.replace(typed, **self._locked)

    def problems(self, policy: Policy) -> dict[str, str]:
        """What the clinic's policy refuses in the form, by field name (checked again when saved)."""
        problems: dict[str, str] = {}
        for name, combo, what in (
            ("asr_backend", self.asr_combo, "transcription"),
            ("notes_backend", self.notes_combo, "notes"),
        ):
            if name not in self._locked and not choice_allowed(combo, combo.currentIndex()):
                problems[name] = f"Your clinic's IT does not allow this {what} choice on this computer."
        p = self.processing()
        asr_server, notes_server = p.asr_backend == "openai", p.notes_backend == "openai"
        for name, url, used in (
            ("openai_base_url", p.openai_base_url, asr_server or (notes_server and not p.notes_base_url)),
            ("notes_base_url", p.notes_base_url, notes_server),
        ):
            if name not in self._locked and used and url and not policy.allows_server(url):
                problems[name] = "Your clinic's IT does not allow this server; ask IT which servers may be used."
        return problems

    def set_keys_enabled(self, enabled: bool) -> None:
        for key_field in (self.openai_key, self.notes_key):
            key_field.setEnabled(enabled)
        if enabled:
            self.backend_changed()
