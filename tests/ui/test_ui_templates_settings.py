"""The Templates page, its section editor and the Settings page, driven like a user would, on real services."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QWidget,
)
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import OPENAI_KEY_NAME, AppContext
from tbdesktop.services.dto import TemplateInfo, UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.secrets import SERVICE
from tbdesktop.services.settings import SettingsService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import User
from tbdesktop.ui.settings_page import KEY_STORED, NO_KEY, SettingsPage
from tbdesktop.ui.templates import TemplateEditorDialog, TemplatesPage, section_key

# Qt must not warn while these screens run (the offscreen platform's note about size hints aside).
pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

SIZE = (1024, 700)
Shot = Callable[[QWidget, str], Path]
BRIEF = {
    "sections": [
        {"key": "summary", "title": "Summary", "instructions": "What the session was about, in two sentences."},
        {"key": "plan", "title": "Plan", "instructions": "Next steps agreed in the session."},
    ]
}


class Toasts:
    def __init__(self, page: TemplatesPage | SettingsPage) -> None:
        self.seen: list[tuple[str, str]] = []
        page.notify.connect(lambda kind, message: self.seen.append((kind, message)))

    def last(self) -> tuple[str, str] | None:
        return self.seen[-1] if self.seen else None


def _show(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.addWidget(widget)
    widget.resize(*SIZE)
    widget.show()


def _templates_page(qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo) -> TemplatesPage:
    page = TemplatesPage(AppServices.compose(ctx, user))
    _show(qtbot, page)
    aio.run(aio.until(lambda: bool(page.templates()), message="the templates to load"))
    return page


def _by_name(page: TemplatesPage, name: str) -> TemplateInfo:
    found = next((t for t in page.templates() if t.name == name), None)
    assert found is not None, f"{name} not listed: {[t.name for t in page.templates()]}"
    return found


def _select(page: TemplatesPage, name: str) -> TemplateInfo:
    info = _by_name(page, name)
    assert page.select(info.id)
    assert page.selected() == info
    return info


def _open_editor(aio: AsyncDriver, page: TemplatesPage, button: QPushButton) -> TemplateEditorDialog:
    assert button.isEnabled()
    button.click()
    aio.run(aio.until(lambda: page.editor is not None and page.editor.isVisible(), message="the editor"))
    assert page.editor is not None
    return page.editor


def _fill_section(
    editor: TemplateEditorDialog, qtbot: QtBot, title: str, instructions: str, max_words: str = ""
) -> None:
    editor.title_edit.clear()
    qtbot.keyClicks(editor.title_edit, title)
    editor.instructions_edit.setPlainText(instructions)
    editor.max_words_edit.setText(max_words)


def _answer_delete(aio: AsyncDriver, page: TemplatesPage, confirm: bool) -> None:
    async def answer() -> None:
        await aio.until(lambda: page.confirm_box is not None and page.confirm_box.isVisible(), message="confirm")
        box = page.confirm_box
        assert box is not None
        assert "Delete the template" in box.text()
        name = "confirmDeleteButton" if confirm else "cancelDeleteButton"
        button = box.findChild(QPushButton, name)
        assert button is not None
        button.click()
        await aio.until(lambda: page.confirm_box is None, message="the box to close")

    page.delete_button.click()
    aio.run(answer())


# -- templates ---------------------------------------------------------------------------------------------


def test_section_keys_from_titles() -> None:
    assert section_key("Risk & safety") == "risk_safety"
    assert section_key("  Évaluation clinique ") == "evaluation_clinique"
    assert section_key("2. Plan") == "2_plan"
    assert len(section_key("x" * 100)) == 40


def test_groups_default_and_read_only_builtins(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Shot
) -> None:
    page = _templates_page(qtbot, aio, ui_ctx, therapist)
    toasts = Toasts(page)
    groups = page.item_texts()
    assert list(groups) == ["Built-in", "Clinic-wide", "My templates"]
    assert "SOAP ★ Default" in groups["Built-in"] and "DAP" in groups["Built-in"]
    assert groups["Clinic-wide"] == [] and groups["My templates"] == []
    selected = page.selected()
    assert selected is not None and selected.name == "SOAP"
    assert page.default_badge.isVisibleTo(page)

    _select(page, "BIRP")
    reason = "Built-in templates are read-only: duplicate it to customise."
    assert not page.edit_button.isEnabled() and page.edit_button.toolTip() == reason
    assert not page.delete_button.isEnabled() and "cannot be deleted" in page.delete_button.toolTip()
    assert page.reason_label.isVisibleTo(page) and page.reason_label.text() == reason
    assert page.duplicate_button.isEnabled() and page.default_button.isEnabled()
    assert "1. Behavior (behavior)" in page.preview.toPlainText()
    _select(page, "SOAP")
    assert not page.default_button.isEnabled()
    assert page.default_button.toolTip() == "This is already your default template."
    screenshot(page, "templates_page")

    # Duplicating a built-in gives an editable copy of my own, selected.
    _select(page, "BIRP")
    page.duplicate_button.click()
    aio.run(aio.until(lambda: any(t.name == "BIRP (copy)" for t in page.templates()), message="the copy"))
    copy = _by_name(page, "BIRP (copy)")
    assert copy.scope == "mine" and copy.editable
    assert page.selected() == copy and page.edit_button.isEnabled() and page.delete_button.isEnabled()
    assert page.item_texts()["My templates"] == ["BIRP (copy)"]
    assert [s.key for s in copy.sections] == [s.key for s in _by_name(page, "BIRP").sections]
    assert toasts.last() == ("success", "Duplicated as “BIRP (copy)”: it is yours to edit.")
    # A second copy does not clash with the first.
    _select(page, "BIRP")
    page.duplicate_button.click()
    aio.run(aio.until(lambda: any(t.name == "BIRP (copy 2)" for t in page.templates()), message="the 2nd copy"))


def test_create_template_with_sections_and_inline_validation(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, screenshot: Shot
) -> None:
    page = _templates_page(qtbot, aio, ui_ctx, therapist)
    toasts = Toasts(page)
    editor = _open_editor(aio, page, page.new_button)
    assert editor.clinic_check.isHidden()  # a therapist's templates are their own

    # Saving with no name: the service's message, inline; the dialog stays open.
    editor.save_button.click()
    aio.run(aio.until(lambda: bool(editor.error_text()), message="the name error"))
    assert editor.error_text() == "The template needs a name."
    assert editor.isVisible()

    qtbot.keyClicks(editor.name_edit, "CBT progress note")
    assert not editor.error_text()  # typing clears it
    _fill_section(editor, qtbot, "Presenting concerns", "What the client brought to the session.")
    assert editor.key_edit.text() == "presenting_concerns"  # made from the title
    editor.add_button.click()
    _fill_section(editor, qtbot, "Interventions", "CBT techniques used in the session.", "120")
    editor.add_button.click()
    qtbot.keyClicks(editor.title_edit, "Homework")  # no instructions yet
    assert [s.title for s in editor.sections()] == ["Presenting concerns", "Interventions", "Homework"]

    editor.up_button.click()  # Homework before Interventions
    assert [s.title for s in editor.sections()] == ["Presenting concerns", "Homework", "Interventions"]
    assert editor.current_row() == 1
    editor.section_list.setCurrentRow(0)
    editor.save_button.click()
    aio.run(aio.until(lambda: bool(editor.error_text()), message="the section error"))
    assert editor.error_text() == "Section 2 needs instructions of 1–2000 characters."
    assert editor.current_row() == 1 and editor.title_edit.text() == "Homework"  # the section at fault is shown
    editor.resize(*SIZE)
    screenshot(editor, "template_editor_error")
    editor.instructions_edit.setPlainText("What the client will practise before the next session.")

    # An extra section, removed again; then a key typed by hand.
    editor.add_button.click()
    assert len(editor.sections()) == 4 and editor.current_row() == 3
    editor.remove_button.click()
    assert len(editor.sections()) == 3
    editor.section_list.setCurrentRow(2)
    assert not editor.down_button.isEnabled()
    editor.key_edit.clear()
    qtbot.keyClicks(editor.key_edit, "cbt_interventions")
    editor.title_edit.setText("CBT interventions")
    assert editor.key_edit.text() == "cbt_interventions"  # a typed key no longer follows the title
    editor.resize(*SIZE)
    screenshot(editor, "template_editor")

    editor.save_button.click()
    aio.run(aio.until(lambda: page.editor is None, message="the editor to close"))
    aio.run(aio.until(lambda: any(t.name == "CBT progress note" for t in page.templates()), message="the list"))
    created = _by_name(page, "CBT progress note")
    assert created.scope == "mine" and page.selected() == created
    assert [(s.key, s.title, s.max_words) for s in created.sections] == [
        ("presenting_concerns", "Presenting concerns", None),
        ("homework", "Homework", None),
        ("cbt_interventions", "CBT interventions", 120),
    ]
    stored = TemplateService(ui_ctx, therapist).get_sync(created.id)
    assert stored.sections == created.sections
    assert page.item_texts()["My templates"] == ["CBT progress note"]
    assert toasts.last() == ("success", "Created “CBT progress note”.")


def test_edit_set_default_and_delete_with_confirmation(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    service = TemplateService(ui_ctx, therapist)
    brief = service.create_sync("Brief note", BRIEF)
    page = _templates_page(qtbot, aio, ui_ctx, therapist)
    toasts = Toasts(page)

    _select(page, "Brief note")
    editor = _open_editor(aio, page, page.edit_button)
    assert editor.name_edit.text() == "Brief note"
    assert [s.key for s in editor.sections()] == ["summary", "plan"]
    editor.section_list.setCurrentRow(1)
    editor.title_edit.setText("Next steps")
    assert editor.key_edit.text() == "plan"  # existing keys never follow the title
    editor.section_list.setCurrentRow(0)
    editor.key_edit.setText("")
    qtbot.keyClicks(editor.key_edit, "plan")  # duplicate key: refused inline
    editor.save_button.click()
    aio.run(aio.until(lambda: bool(editor.error_text()), message="the duplicate key error"))
    assert "share the key 'plan'" in editor.error_text()
    editor.key_edit.clear()
    qtbot.keyClicks(editor.key_edit, "summary")
    editor.name_edit.setText("Brief progress note")
    editor.save_button.click()
    aio.run(aio.until(lambda: page.editor is None, message="the editor to close"))
    aio.run(aio.until(lambda: any(t.name == "Brief progress note" for t in page.templates())))
    edited = service.get_sync(brief.id)
    assert edited.name == "Brief progress note" and [s.title for s in edited.sections] == ["Summary", "Next steps"]
    assert toasts.last() == ("success", "Saved “Brief progress note”.")

    page.default_button.click()
    aio.run(aio.until(lambda: _by_name(page, "Brief progress note").is_default, message="the new default"))
    assert page.item_texts()["My templates"] == ["Brief progress note ★ Default"]
    assert "SOAP" in page.item_texts()["Built-in"]
    assert service.default_sync().id == brief.id
    assert not page.default_button.isEnabled()

    _answer_delete(aio, page, confirm=False)
    aio.run(aio.until(lambda: not page._busy, message="the cancelled delete to finish"))
    assert service.get_sync(brief.id).name == "Brief progress note"
    assert any(t.id == brief.id for t in page.templates())

    _answer_delete(aio, page, confirm=True)
    aio.run(aio.until(lambda: all(t.id != brief.id for t in page.templates()), message="the deletion"))
    assert page.item_texts()["My templates"] == []
    assert service.default_sync().name == "SOAP"  # my default falls back to the clinic's
    assert _by_name(page, "SOAP").is_default and page.selected() == _by_name(page, "SOAP")
    assert toasts.last() == ("success", "Deleted “Brief progress note”.")


def test_clinic_wide_templates_are_for_practice_managers(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    manager = ProfileService(ui_ctx).create_profile_sync("Pat Lee", "pat.lee@clinic.test", "practice_manager")
    managers_page = _templates_page(qtbot, aio, ui_ctx, manager)
    editor = _open_editor(aio, managers_page, managers_page.new_button)
    assert not editor.clinic_check.isHidden() and editor.clinic_check.isEnabled()
    qtbot.keyClicks(editor.name_edit, "Clinic intake")
    _fill_section(editor, qtbot, "Reason for referral", "Why the client was referred, in their words.")
    editor.clinic_check.setChecked(True)
    editor.save_button.click()
    aio.run(aio.until(lambda: any(t.name == "Clinic intake" for t in managers_page.templates())))
    shared = _by_name(managers_page, "Clinic intake")
    assert shared.scope == "clinic" and managers_page.item_texts()["Clinic-wide"] == ["Clinic intake"]

    # A therapist sees it, may use and duplicate it, but not change it.
    page = _templates_page(qtbot, aio, ui_ctx, therapist)
    assert page.item_texts()["Clinic-wide"] == ["Clinic intake"]
    _select(page, "Clinic intake")
    assert not page.edit_button.isEnabled() and not page.delete_button.isEnabled()
    assert "practice managers" in page.edit_button.toolTip()
    assert "practice managers" in page.delete_button.toolTip()
    assert page.duplicate_button.isEnabled() and page.default_button.isEnabled()
    page.edit_selected()  # even when asked directly (double-click), nothing opens
    assert page.editor is None

    # The manager edits it; the scope is fixed once created.
    _select(managers_page, "Clinic intake")
    assert managers_page.edit_button.isEnabled() and managers_page.delete_button.isEnabled()
    editor = _open_editor(aio, managers_page, managers_page.edit_button)
    assert editor.clinic_check.isChecked() and not editor.clinic_check.isEnabled()
    editor.add_button.click()
    _fill_section(editor, qtbot, "Risk", "Any risk to self or others discussed.")
    editor.save_button.click()
    aio.run(aio.until(lambda: managers_page.editor is None, message="the editor to close"))
    assert [s.key for s in TemplateService(ui_ctx, therapist).get_sync(shared.id).sections] == [
        "reason_for_referral",
        "risk",
    ]


# -- settings ----------------------------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


def _settings_page(qtbot: QtBot, aio: AsyncDriver, ctx: AppContext, user: UserInfo, config_dir: Path) -> SettingsPage:
    page = SettingsPage(
        dataclasses.replace(
            AppServices.compose(ctx, user), settings=SettingsService(ctx, user, config_dir=config_dir, env={})
        )
    )
    _show(qtbot, page)
    # loaded, About included: until then the page runs its load and a click on Save would be dropped
    aio.run(aio.until(lambda: page.view() is not None and not page._busy, message="the settings to load"))
    page.show_advanced()  # servers and API keys are IT's, under Advanced
    return page


def _save(aio: AsyncDriver, page: SettingsPage) -> None:
    page.save_button.click()
    aio.run(aio.until(lambda: not page._busy, message="saving"))


def _user_settings(ctx: AppContext, user: UserInfo) -> dict[str, Any]:
    with ctx.db.unit_of_work() as s:
        row = s.get(User, user.id)
        assert row is not None
        return dict(row.settings)


def test_settings_save_and_reload(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    config_dir: Path,
    screenshot: Shot,
) -> None:
    page = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)
    toasts = Toasts(page)
    assert page.asr_combo.currentData() == "local" and not page.asr_url_edit.isEnabled()
    assert page.consent_check.isChecked() and page.idle_edit.text() == "15"
    assert page.recording_days_edit.text() == "" and page.transcript_days_edit.text() == ""
    assert page.data_dir_edit.isReadOnly() and page.data_dir_edit.text() == str(ui_ctx.settings.data_dir)
    assert "OS keyring" in page.secrets_label.text()
    assert "next time TherapyBridge starts" in page.restart_label.text()

    page.asr_combo.setCurrentIndex(page.asr_combo.findData("openai"))
    assert page.asr_url_edit.isEnabled() and not page.notes_url_edit.isEnabled()
    qtbot.keyClicks(page.asr_url_edit, "https://asr.clinic.test/v1")
    qtbot.keyClicks(page.asr_model_edit, "whisper-large-v3")
    page.notes_combo.setCurrentIndex(page.notes_combo.findData("openai"))
    qtbot.keyClicks(page.notes_model_edit, "llama3.1:8b")
    page.consent_check.setChecked(False)
    qtbot.keyClicks(page.recording_days_edit, "0")
    qtbot.keyClicks(page.transcript_days_edit, "30")
    page.idle_edit.clear()
    qtbot.keyClicks(page.idle_edit, "5")
    _save(aio, page)

    assert page.errors() == {}
    assert toasts.last() == ("success", "Settings saved. Processing changes apply after a restart.")
    assert "restart TherapyBridge" in page.restart_label.text()
    stored = json.loads((config_dir / "settings.json").read_text())
    assert stored["asr_backend"] == "openai" and stored["openai_base_url"] == "https://asr.clinic.test/v1"
    assert stored["notes_backend"] == "openai" and stored["notes_model"] == "llama3.1:8b"
    assert stored["notes_base_url"] == ""  # notes share the transcription server
    user_settings = _user_settings(ui_ctx, therapist)
    assert user_settings["consent_required"] is False
    assert user_settings["retention_recording_days"] == 0 and user_settings["retention_transcript_days"] == 30
    assert user_settings["idle_lock_minutes"] == 5
    assert ProfileService(ui_ctx).idle_lock_minutes_sync(therapist.id) == 5

    screenshot(page, "settings_page")
    scroll = page.findChild(QScrollArea, "settingsScroll")
    assert scroll is not None
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    screenshot(page, "settings_page_privacy_storage")

    # A new page (as after a restart of the window) shows what was saved.
    again = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)
    assert again.asr_combo.currentData() == "openai" and again.asr_url_edit.text() == "https://asr.clinic.test/v1"
    assert again.asr_model_edit.text() == "whisper-large-v3"
    assert again.notes_combo.currentData() == "openai" and again.notes_model_edit.text() == "llama3.1:8b"
    assert not again.consent_check.isChecked()
    assert (again.recording_days_edit.text(), again.transcript_days_edit.text()) == ("0", "30")
    assert again.idle_edit.text() == "5"

    # Emptying a retention field means "keep".
    again.transcript_days_edit.clear()
    _save(aio, again)
    assert _user_settings(ui_ctx, therapist)["retention_transcript_days"] is None


def test_invalid_settings_are_refused_inline(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, config_dir: Path, screenshot: Shot
) -> None:
    page = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)
    page.asr_combo.setCurrentIndex(page.asr_combo.findData("openai"))
    qtbot.keyClicks(page.asr_url_edit, "asr.clinic.test/v1")
    page.consent_check.setChecked(False)
    page.idle_edit.clear()
    _save(aio, page)

    errors = page.errors()
    assert set(errors) == {"openai_base_url", "idle_lock_minutes"}
    assert errors["openai_base_url"] == "The transcription server address must be an http:// or https:// URL."
    assert page.asr_url_edit.property("invalid") is True
    assert page.form_error.isVisibleTo(page)
    screenshot(page, "settings_page_errors")
    assert not (config_dir / "settings.json").exists()
    assert _user_settings(ui_ctx, therapist)["consent_required"] is True  # nothing written

    page.asr_url_edit.setText("http://asr.clinic.test:9000")
    page.idle_edit.setText("0")
    _save(aio, page)
    assert page.errors() == {} and not page.form_error.isVisibleTo(page)
    assert page.asr_url_edit.property("invalid") is False
    assert _user_settings(ui_ctx, therapist)["idle_lock_minutes"] == 0


def test_api_key_goes_to_the_keyring_and_is_never_shown(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    config_dir: Path,
    memory_keyring: Any,
) -> None:
    page = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)
    key_field = page.openai_key
    assert key_field.edit.echoMode() == QLineEdit.EchoMode.Password
    assert key_field.status.text() == NO_KEY and not key_field.clear_button.isEnabled()
    assert not key_field.save_button.isEnabled()

    secret = "sk-live-4f8a9c0d1e2b3a4f"
    qtbot.keyClicks(key_field.edit, secret)
    key_field.save_button.click()
    aio.run(aio.until(lambda: key_field.status.text() == KEY_STORED, message="the key to be stored"))
    assert memory_keyring.store[(SERVICE, OPENAI_KEY_NAME)] == secret
    assert key_field.edit.text() == "" and key_field.clear_button.isEnabled()
    assert page.notes_key.status.text() == NO_KEY

    def shown_texts(root: QWidget) -> list[str]:
        texts = [w.text() for w in root.findChildren(QLineEdit)]
        texts += [w.text() for w in root.findChildren(QLabel)]
        return texts

    assert not any(secret in t for t in shown_texts(page))
    again = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)  # a fresh page: only "A key is stored"
    assert again.openai_key.status.text() == KEY_STORED and again.openai_key.edit.text() == ""
    assert not any(secret in t for t in shown_texts(again))
    again.asr_combo.setCurrentIndex(again.asr_combo.findData("openai"))
    again.asr_url_edit.setText("https://asr.clinic.test")
    _save(aio, again)
    assert again.errors() == {}
    assert secret not in (config_dir / "settings.json").read_text()

    # The keyring refusing a key: its message, at the key.
    from keyring.errors import PasswordSetError

    def refuse(service_name: str, username: str, password: str) -> None:
        raise PasswordSetError("locked")

    original = memory_keyring.set_password
    memory_keyring.set_password = refuse
    qtbot.keyClicks(page.notes_key.edit, "another-key")
    qtbot.keyClick(page.notes_key.edit, Qt.Key.Key_Return)
    aio.run(aio.until(lambda: "refused" in page.notes_key.status.text(), message="the keyring's refusal"))
    assert page.notes_key.status.text() == "The OS keyring refused the key, so it was not saved."
    memory_keyring.set_password = original

    key_field.clear_button.click()
    aio.run(aio.until(lambda: key_field.status.text() == NO_KEY, message="the key to be cleared"))
    assert (SERVICE, OPENAI_KEY_NAME) not in memory_keyring.store


def test_delete_confirmation_is_a_warning_box(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo
) -> None:
    TemplateService(ui_ctx, therapist).create_sync("Brief note", BRIEF)
    page = _templates_page(qtbot, aio, ui_ctx, therapist)
    _select(page, "Brief note")
    page.delete_button.click()
    aio.run(aio.until(lambda: page.confirm_box is not None and page.confirm_box.isVisible()))
    box = page.confirm_box
    assert box is not None and box.icon() == QMessageBox.Icon.Warning
    assert box.defaultButton() is box.findChild(QPushButton, "cancelDeleteButton")  # Enter does not delete
    box.reject()
    aio.run(aio.until(lambda: page.confirm_box is None and not page._busy))
    assert any(t.name == "Brief note" for t in page.templates())


def _unnamed_controls(root: QWidget) -> list[str]:
    """Visible controls a screen reader could not name (a button's text names it)."""
    unnamed: list[str] = []
    for kind in (QLineEdit, QComboBox, QCheckBox, QPlainTextEdit, QAbstractItemView, QPushButton):
        for w in root.findChildren(kind):  # type: ignore[call-overload]
            if not w.isVisibleTo(root) or isinstance(w.parentWidget(), QComboBox):
                continue
            if not (w.accessibleName() or (isinstance(w, QPushButton) and w.text().strip())):
                unnamed.append(w.objectName() or type(w).__name__)
    return unnamed


def test_controls_have_accessible_names(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, config_dir: Path
) -> None:
    templates = _templates_page(qtbot, aio, ui_ctx, therapist)
    assert _unnamed_controls(templates) == []
    editor = _open_editor(aio, templates, templates.new_button)
    assert _unnamed_controls(editor) == []
    editor.reject()
    aio.run(aio.until(lambda: templates.editor is None, message="the editor to close"))
    settings = _settings_page(qtbot, aio, ui_ctx, therapist, config_dir)
    assert _unnamed_controls(settings) == []
    # The template list is reachable with the keyboard, and its actions follow it in the tab order.
    assert templates.tree.focusPolicy() & Qt.FocusPolicy.TabFocus
    chain, widget = [], templates.tree.nextInFocusChain()
    while widget is not templates.tree and len(chain) < 50:
        chain.append(widget)
        widget = widget.nextInFocusChain()
    assert chain.index(templates.duplicate_button) < chain.index(templates.delete_button)
