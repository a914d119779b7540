"""The template editor: a template's name, whether it is clinic-wide, and its ordered sections."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import TemplateInfo
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.buttons import dialog_buttons, primary_button
from tbdesktop.ui.forms import field_label
from tbdesktop.ui.templates.drafts import (
    MAX_KEY_LEN,
    MAX_SECTION_WORDS,
    Saver,
    SectionDraft,
    TemplateDraft,
    section_key,
    unique_key,
)

__all__ = ["Saver", "TemplateDraft", "TemplateEditorDialog", "section_key"]

_SECTION_REF = re.compile(r"^Section (\d+)")


class TemplateEditorDialog(QDialog):
    """Edits a draft and hands it to ``saver`` (a service call); the service's validation errors show inline."""

    saved = Signal(TemplateInfo)

    def __init__(
        self,
        saver: Saver,
        template: TemplateInfo | None = None,
        *,
        can_share: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("templateEditor")
        self.setWindowTitle("Edit template" if template is not None else "New template")
        self.setMinimumSize(760, 560)
        self._saver = saver
        self._template = template
        self._sections: list[SectionDraft] = []
        self._current = -1
        self._loading = False
        self._saving = False
        self._can_share = can_share

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(8)
        title = QLabel(f"Edit “{template.name}”" if template is not None else "New template")
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        hint = QLabel(
            "Notes are written section by section, in this order. The instructions tell the note writer what "
            "belongs in each section."
        )
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(6)

        self.name_edit = QLineEdit(template.name if template is not None else "")
        self.name_edit.setObjectName("templateNameEdit")
        self.name_edit.setAccessibleName("Template name")
        self.name_edit.setPlaceholderText("e.g. CBT progress note")
        self.name_edit.setMaxLength(200)
        layout.addWidget(field_label("&Name", self.name_edit))
        layout.addWidget(self.name_edit)

        self.clinic_check = QCheckBox("Clinic-wide: every therapist in the clinic can use it")
        self.clinic_check.setObjectName("clinicWideCheck")
        self.clinic_check.setAccessibleName("Clinic-wide template")
        self.clinic_check.setVisible(can_share)
        if template is not None:
            self.clinic_check.setChecked(template.scope == "clinic")
            self.clinic_check.setEnabled(False)
            self.clinic_check.setToolTip(
                "Who can use a template is chosen when it is created; duplicate it to share a copy."
            )
        else:
            self.clinic_check.setToolTip("Practice managers and admins edit clinic-wide templates.")
        layout.addWidget(self.clinic_check)
        layout.addSpacing(6)

        sections_title = QLabel("Sections")
        sections_title.setObjectName("sectionTitle")
        layout.addWidget(sections_title)

        body = QHBoxLayout()
        body.setSpacing(16)
        left = QVBoxLayout()
        left.setSpacing(6)
        self.section_list = QListWidget()
        self.section_list.setObjectName("sectionList")
        self.section_list.setAccessibleName("Sections, in note order")
        self.section_list.setMinimumWidth(220)
        self.section_list.currentRowChanged.connect(self._row_changed)
        left.addWidget(self.section_list, 1)
        list_buttons = QHBoxLayout()
        list_buttons.setSpacing(6)
        self.add_button = self._small_button("&Add", "addSectionButton", "Add a section at the end")
        self.remove_button = self._small_button("&Remove", "removeSectionButton", "Remove the selected section")
        self.up_button = self._small_button("Move &up", "moveSectionUpButton", "Move the section up")
        self.down_button = self._small_button("Move d&own", "moveSectionDownButton", "Move the section down")
        self.add_button.clicked.connect(self.add_section)
        self.remove_button.clicked.connect(self.remove_section)
        self.up_button.clicked.connect(lambda: self.move_section(-1))
        self.down_button.clicked.connect(lambda: self.move_section(1))
        for button in (self.add_button, self.remove_button):
            list_buttons.addWidget(button)
        list_buttons.addStretch(1)
        left.addLayout(list_buttons)
        order_buttons = QHBoxLayout()
        order_buttons.setSpacing(6)
        for button in (self.up_button, self.down_button):
            order_buttons.addWidget(button)
        order_buttons.addStretch(1)
        left.addLayout(order_buttons)
        body.addLayout(left, 2)

        self.section_form = QFrame()
        self.section_form.setObjectName("sectionForm")
        form = QFormLayout(self.section_form)
        form.setContentsMargins(16, 14, 16, 14)
        form.setVerticalSpacing(10)
        form.setHorizontalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("sectionTitleEdit")
        self.title_edit.setAccessibleName("Section title")
        self.title_edit.setPlaceholderText("e.g. Interventions")
        self.title_edit.setMaxLength(120)
        # The key names the section in stored notes: made from the title, never shown to clinicians.
        self.key_edit = QLineEdit(self.section_form)
        self.key_edit.setObjectName("sectionKeyEdit")
        self.key_edit.setVisible(False)
        self.key_edit.setAccessibleName("Section key")
        self.key_edit.setPlaceholderText("interventions")
        self.key_edit.setMaxLength(MAX_KEY_LEN)
        self.key_edit.setToolTip("Letters, digits or underscores; unique in the template.")
        self.instructions_edit = QPlainTextEdit()
        self.instructions_edit.setObjectName("sectionInstructionsEdit")
        self.instructions_edit.setAccessibleName("Section instructions")
        self.instructions_edit.setPlaceholderText("What this section should say, drawn from the session.")
        self.instructions_edit.setTabChangesFocus(True)
        self.max_words_edit = QLineEdit()
        self.max_words_edit.setObjectName("sectionMaxWordsEdit")
        self.max_words_edit.setAccessibleName("Maximum words")
        self.max_words_edit.setPlaceholderText("No limit")
        self.max_words_edit.setValidator(QIntValidator(0, MAX_SECTION_WORDS, self.max_words_edit))
        self.max_words_edit.setFixedWidth(96)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(field_label("&Title", self.title_edit), self.title_edit)
        form.addRow(field_label("&Instructions", self.instructions_edit), self.instructions_edit)
        words_row = QHBoxLayout()
        words_row.setSpacing(10)
        words_row.addWidget(self.max_words_edit)
        words_hint = QLabel(f"words at most (up to {MAX_SECTION_WORDS}); empty: no limit")
        words_hint.setObjectName("muted")
        words_hint.setWordWrap(True)
        words_row.addWidget(words_hint, 1)
        self.max_words_label = field_label("&Word limit", self.max_words_edit)
        form.addRow(self.max_words_label, words_row)
        body.addWidget(self.section_form, 3)
        layout.addLayout(body, 1)

        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Error")
        self.error_label.hide()
        layout.addWidget(self.error_label)

        self.save_button = primary_button("Save template", "templateSaveButton")
        buttons, self.cancel_button = dialog_buttons(
            self.save_button, "Cancel", "templateCancelButton", self.submit, self.reject
        )
        layout.addWidget(buttons)

        self.title_edit.textChanged.connect(self._title_edited)
        self.key_edit.textEdited.connect(self._key_edited)
        self.instructions_edit.textChanged.connect(self._instructions_edited)
        self.max_words_edit.textChanged.connect(self._max_words_edited)
        self.name_edit.textChanged.connect(self._clear_error)

        if template is not None:
            for s in template.sections:
                self._sections.append(
                    SectionDraft(s.key, s.title, s.instructions, s.max_words, key_follows_title=False)
                )
        else:
            self._sections.append(SectionDraft())
        self._rebuild_list(0)
        self.name_edit.setFocus()

    def _small_button(self, text: str, name: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        return button

    # -- sections -------------------------------------------------------------------------------------

    def sections(self) -> list[SectionDraft]:
        return list(self._sections)

    def current_row(self) -> int:
        return self._current

    def _item_text(self, n: int, section: SectionDraft) -> str:
        return f"{n + 1}. {section.title.strip() or 'Untitled section'}"

    def _rebuild_list(self, select: int) -> None:
        self._loading = True
        self.section_list.clear()
        for n, section in enumerate(self._sections):
            self.section_list.addItem(QListWidgetItem(self._item_text(n, section)))
        self._loading = False
        self._current = -1
        if self._sections:
            self.section_list.setCurrentRow(max(0, min(select, len(self._sections) - 1)))
        else:
            self._show_section(-1)
        self._update_buttons()

    def _row_changed(self, row: int) -> None:
        if not self._loading:
            self._show_section(row)
            self._update_buttons()

    def _show_section(self, row: int) -> None:
        self._current = row
        section = self._sections[row] if 0 <= row < len(self._sections) else None
        self._loading = True
        self.title_edit.setText(section.title if section else "")
        self.key_edit.setText(section.key if section else "")
        self.instructions_edit.setPlainText(section.instructions if section else "")
        max_words = section.max_words if section else None
        self.max_words_edit.setText("" if max_words is None else str(max_words))
        self._loading = False
        self.section_form.setEnabled(section is not None)

    def _update_buttons(self) -> None:
        n, row = len(self._sections), self._current
        self.remove_button.setEnabled(n > 0 and row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < n - 1)

    def add_section(self) -> None:
        self._sections.append(SectionDraft())
        self._rebuild_list(len(self._sections) - 1)
        self._clear_error()
        self.title_edit.setFocus()

    def remove_section(self) -> None:
        row = self._current
        if 0 <= row < len(self._sections):
            del self._sections[row]
            self._rebuild_list(row)
            self._clear_error()

    def move_section(self, step: int) -> None:
        row, target = self._current, self._current + step
        if 0 <= row < len(self._sections) and 0 <= target < len(self._sections):
            self._sections[row], self._sections[target] = self._sections[target], self._sections[row]
            self._rebuild_list(target)
            self._clear_error()

    def _editing(self) -> SectionDraft | None:
        if self._loading or not 0 <= self._current < len(self._sections):
            return None
        self._clear_error()
        return self._sections[self._current]

    def _title_edited(self, text: str) -> None:
        section = self._editing()
        if section is None:
            return
        section.title = text
        if section.key_follows_title:
            taken = {s.key for n, s in enumerate(self._sections) if n != self._current}
            section.key = unique_key(section_key(text), taken)
            self._loading = True
            self.key_edit.setText(section.key)
            self._loading = False
        item = self.section_list.item(self._current)
        if item is not None:
            item.setText(self._item_text(self._current, section))

    def _key_edited(self, text: str) -> None:
        section = self._editing()
        if section is not None:
            section.key = text
            section.key_follows_title = not text

    def _instructions_edited(self) -> None:
        section = self._editing()
        if section is not None:
            section.instructions = self.instructions_edit.toPlainText()

    def _max_words_edited(self, text: str) -> None:
        section = self._editing()
        if section is not None:
            section.max_words = int(text) if text.strip().isdigit() else None

    # -- saving ---------------------------------------------------------------------------------------

    def draft(self) -> TemplateDraft:
        return TemplateDraft(
            name=self.name_edit.text().strip(),
            sections=[s.to_content() for s in self._sections],
            clinic_wide=self._can_share and self._template is None and self.clinic_check.isChecked(),
        )

    def submit(self) -> None:
        if self._saving:
            return
        self._set_saving(True)
        spawn(self._saver(self.draft()), on_error=self._failed, on_done=self._saved)

    def _set_saving(self, saving: bool) -> None:
        self._saving = saving
        self.save_button.setEnabled(not saving)
        self.save_button.setText("Saving…" if saving else "Save template")

    def _saved(self, info: TemplateInfo) -> None:
        self._set_saving(False)
        self.saved.emit(info)
        self.accept()

    def _failed(self, message: str) -> None:
        self._set_saving(False)
        self.show_error(message)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        found = _SECTION_REF.match(message)
        if found is not None:
            row = int(found.group(1)) - 1
            if 0 <= row < len(self._sections) and row != self._current:
                self.section_list.setCurrentRow(row)
        elif "template needs a name" in message or "template name" in message:
            self.name_edit.setFocus()

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    def _clear_error(self) -> None:
        if not self.error_label.isHidden() and not self._loading:
            self.error_label.hide()
