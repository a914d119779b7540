"""The Settings page itself: its sections in order, the save bar, and what it shows of the stored settings; what
it does goes through its controller."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.settings import PrivacySettings, ProcessingSettings, SettingsView
from tbdesktop.ui.about_section import AboutSection
from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.forms import LockedNote, WheelScrollsPage, hint_label
from tbdesktop.ui.settings_page.controller import SettingsController
from tbdesktop.ui.settings_page.fields import KeyField
from tbdesktop.ui.settings_page.privacy import PrivacyCard, StorageCard
from tbdesktop.ui.settings_page.processing import (
    ASR_CHOICES,
    NOTES_CHOICES,
    NotesCard,
    ProcessingCard,
    notes_backend_combo,
)
from tbdesktop.ui.settings_page.profile import ProfileSection
from tbdesktop.ui.settings_page.rows import FormRows

__all__ = ["ASR_CHOICES", "MANAGED_BANNER", "NOTES_CHOICES", "SettingsPage"]

MANAGED_BANNER = "Some settings are managed by your clinic's IT."


class SettingsPage(QWidget):
    notify = Signal(str, str)  # ("success" | "error", message) for toasts
    loaded = Signal()

    def __init__(self, services: AppServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._view: SettingsView | None = None
        self._rows = FormRows()

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
        # Shown while a clinic policy is in force; the settings it fixes say so where they are.
        self.policy_banner = LockedNote(MANAGED_BANNER)
        self.policy_banner.setObjectName("policyBanner")
        self.policy_banner.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.policy_banner.row.setContentsMargins(12, 8, 12, 8)
        self.policy_banner.setToolTip(
            "Your clinic's IT manages some settings for every account on this computer; "
            'those show "Set by your clinic\'s IT" or the limit IT set.'
        )
        layout.addWidget(self.policy_banner)

        # Clinician's sections first; servers, models, API keys and storage under "Advanced (IT)", collapsed.
        self.profile_section = ProfileSection(services.user)
        self.profile_section.notify.connect(self.notify)
        layout.addWidget(self.profile_section)
        self.privacy_card = PrivacyCard(self._rows)
        layout.addWidget(self.privacy_card)
        self.notes_combo = notes_backend_combo()
        self.processing_card = ProcessingCard(self._rows, self.notes_combo)
        layout.addWidget(NotesCard(self._rows, self.notes_combo))
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
        advanced_layout.addWidget(self.processing_card)
        self.storage_card = StorageCard()
        self.storage_card.notify.connect(self.notify)
        advanced_layout.addWidget(self.storage_card)
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
        bar_row.addWidget(self.save_button)
        outer.addWidget(bar)
        self._expose_fields()
        self._wheel = WheelScrollsPage(scroll)
        self._wheel.guard(content)

        self._controller = SettingsController(services, self, parent=self)
        self.save_button.clicked.connect(self.save)
        self.profile_section.saveRequested.connect(self._controller.save_profile)
        self.profile_section.passcodeRequested.connect(self._controller.change_passcode)
        for key_field in (self.openai_key, self.notes_key):
            key_field.saveRequested.connect(self._controller.save_key)
            key_field.clearRequested.connect(self._controller.clear_key)
        self.processing_card.llmShown.connect(self._controller.llm_shown)
        self.model_test.testRequested.connect(self._controller.test_model)
        self.model_test.cancelRequested.connect(self._controller.cancel_model_test)
        self.model_rows.on_change(self._controller.model_changed)
        self._set_enabled(False)
        self.processing_card.backend_changed()  # the rows of the chosen notes backend only, from the first paint

    def _expose_fields(self) -> None:
        """The sections' fields, by the names the page has always given them."""
        processing, privacy, storage = self.processing_card, self.privacy_card, self.storage_card
        self.asr_combo = processing.asr_combo
        self.asr_url_edit = processing.asr_url_edit
        self.asr_model_edit = processing.asr_model_edit
        self.openai_key = processing.openai_key
        self.notes_url_edit = processing.notes_url_edit
        self.notes_model_edit = processing.notes_model_edit
        self.notes_key = processing.notes_key
        self.restart_label = processing.restart_label
        self.model_rows = processing.model
        self.notes_file = self.model_rows.notes_file
        self.notes_threads_spin = self.model_rows.notes_threads_spin
        self.notes_gpu_spin = self.model_rows.notes_gpu_spin
        self.notes_context_spin = self.model_rows.notes_context_spin
        self.gpu_label = self.model_rows.gpu_label
        self.model_test = self.model_rows.model_test
        self.consent_check = privacy.consent_check
        self.recording_days_edit = privacy.recording_days_edit
        self.transcript_days_edit = privacy.transcript_days_edit
        self.idle_edit = privacy.idle_edit
        self.data_dir_edit = storage.data_dir_edit
        self.copy_button = storage.copy_button
        self.open_button = storage.open_button
        self.secrets_label = storage.secrets_label
        self.settings_file_label = storage.settings_file_label

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

    # -- loading --------------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._view is None and not self._controller.busy:
            self.schedule_refresh()

    @property
    def _busy(self) -> bool:
        return self._controller.busy

    def schedule_refresh(self) -> None:
        self._controller.schedule_refresh()

    async def refresh(self) -> None:
        await self._controller.refresh()

    def view(self) -> SettingsView | None:
        return self._view

    def set_view(self, view: SettingsView) -> None:
        """Show the stored settings (discarding unsaved edits)."""
        self._view = view
        self.policy_banner.setVisible(view.policy.active or bool(view.locked) or bool(view.limits))
        self._rows.apply_policy(view.locked, view.limits)
        self.processing_card.set_view(view)
        self.privacy_card.set_view(view)
        self.storage_card.set_view(view)
        self._clear_errors()
        self.processing_card.backend_changed()
        self._set_enabled(True)
        self.loaded.emit()

    def update_keys(self, view: SettingsView) -> None:
        """Only the keys' state: unsaved edits elsewhere on the page stay."""
        if self._view is not None:
            self._view = view
        self.processing_card.set_keys(view)

    def key_field(self, name: str) -> KeyField:
        return self.processing_card.key_field(name)

    # -- reading the form -----------------------------------------------------------------------------

    def processing(self) -> ProcessingSettings:
        return self.processing_card.processing()

    def privacy(self) -> PrivacySettings:
        return self.privacy_card.privacy()

    def problems(self) -> dict[str, str]:
        """What the clinic's policy refuses in the form now, by field name; empty before the settings load."""
        if self._view is None:
            return {}
        policy = self._view.policy
        return {**self.processing_card.problems(policy), **self.privacy_card.problems(policy)}

    def errors(self) -> dict[str, str]:
        """The inline errors shown now, by field name."""
        return self._rows.shown()

    def show_errors(self, errors: dict[str, str]) -> None:
        if self.notes_combo.currentData() == "llm" and "notes_model" in errors:
            errors = {("notes_model_file" if k == "notes_model" else k): v for k, v in errors.items()}
        first = self._rows.show(errors)
        self.show_form_error("Some settings need a look before they can be saved.")
        if first is not None and self.advanced.isAncestorOf(first):
            self.show_advanced(True)  # a field that needs a look is never left hidden
        if first is not None:
            first.setFocus()
            self._scroll.ensureWidgetVisible(first, 50, 80)

    def show_form_error(self, message: str) -> None:
        self.form_error.setText(message)
        self.form_error.show()
        self.saved_label.hide()

    def show_saved(self, message: str) -> None:
        self.saved_label.setText(message)
        self.saved_label.show()

    def _clear_errors(self) -> None:
        self._rows.clear()
        self.form_error.hide()

    # -- actions --------------------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy and self._view is not None)

    def _set_enabled(self, enabled: bool) -> None:
        self.save_button.setEnabled(enabled)
        self.processing_card.set_keys_enabled(enabled)

    def save(self) -> None:
        self.saved_label.hide()
        self._controller.save()

    def save_key(self, name: str, value: str) -> None:
        self._controller.save_key(name, value)

    def clear_key(self, name: str) -> None:
        self._controller.clear_key(name)

    @property
    def model_test_running(self) -> bool:
        return self._controller.model_test_running

    def test_model(self) -> None:
        self._controller.test_model()

    def cancel_model_test(self) -> None:
        self._controller.cancel_model_test()

    def copy_data_dir(self) -> None:
        self.storage_card.copy_data_dir()

    def open_data_dir(self) -> None:
        self.storage_card.open_data_dir()
