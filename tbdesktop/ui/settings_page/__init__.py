"""The Settings page: processing backends and API keys, privacy (consent, retention, idle lock), storage, about."""

from tbdesktop.ui.settings_page.fields import KEY_STORED, NO_KEY, KeyField
from tbdesktop.ui.settings_page.notes_model import GGUF_FILTER, GPU_CHECKING, ModelFileField, ModelTestBox
from tbdesktop.ui.settings_page.page import ASR_CHOICES, NOTES_CHOICES, SettingsPage

__all__ = [
    "ASR_CHOICES",
    "GGUF_FILTER",
    "GPU_CHECKING",
    "KEY_STORED",
    "NOTES_CHOICES",
    "NO_KEY",
    "KeyField",
    "ModelFileField",
    "ModelTestBox",
    "SettingsPage",
]
