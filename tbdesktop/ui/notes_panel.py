"""The notes panel of a session: the progress note with its evidence, risk flags, versions, regenerate, edit, sign."""

from __future__ import annotations

import html
import uuid

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.dto import NoteInfo, RiskFlagInfo, TemplateInfo
from tbdesktop.ui.export_menu import ExportButton
from tbdesktop.ui.risk_flags import RISK_WORDS, RiskFlagList, risk_source_text, risk_text

__all__ = ["RISK_WORDS", "NoteEditDialog", "NotesPanel", "risk_source_text", "risk_text"]

SIGN_QUESTION = "Sign this note? You will not be able to change it; add an addendum instead."


DRAFT_TIP = (
    "Written on this computer from the transcript itself: each line quotes what was said. Review before signing."
)
MODEL_TIP = (
    "Written by a language model from the transcript. Each statement was checked against the lines it cites; "
    "statements the transcript does not support were removed. Review before signing."
)


class NoteEditDialog(QDialog):
    """Edit one section of a draft note, or write an addendum to a signed one."""

    def __init__(self, note: NoteInfo, *, addendum: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noteEditDialog")
        self.setWindowTitle("Add an addendum" if addendum else "Edit note")
        self.resize(560, 360)
        self.note = note
        self.addendum = addendum
        layout = QVBoxLayout(self)
        self.section_combo = QComboBox()
        self.section_combo.setObjectName("sectionCombo")
        for section in note.sections:
            self.section_combo.addItem(section.title, section.key)
        self.section_combo.setVisible(not addendum)
        self.section_combo.currentIndexChanged.connect(self._load)
        hint = QLabel(
            "The signed note stays as it is; the addendum is added with today's date."
            if addendum
            else "Your words replace the draft's for this section."
        )
        hint.setObjectName("muted")
        hint.setWordWrap(True)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("noteEditor")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.section_combo)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self._load()

    def _load(self) -> None:
        if self.addendum:
            return
        key = self.section_combo.currentData()
        section = next((s for s in self.note.sections if s.key == key), None)
        self.editor.setPlainText(section.text if section is not None else "")

    @property
    def section_key(self) -> str:
        return str(self.section_combo.currentData() or "")

    @property
    def text(self) -> str:
        return self.editor.toPlainText().strip()


class NotesPanel(QFrame):
    regenerateRequested = Signal(uuid.UUID)  # template id
    versionRequested = Signal(int)
    signRequested = Signal()
    editRequested = Signal()
    addendumRequested = Signal()
    evidenceRequested = Signal(list)  # segment indexes
    flagReviewRequested = Signal(str, int)  # flag kind, segment idx (-1: the flag quotes no line)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notesPanel")
        self.note: NoteInfo | None = None
        self.flags: list[RiskFlagInfo] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        layout.setSpacing(8)

        top = QHBoxLayout()
        title = QLabel("Progress note")
        title.setObjectName("sectionTitle")
        top.addWidget(title)
        # Who wrote the shown version: the transcript-quote draft or a model (named by its file).
        self.written_by = QLabel()
        self.written_by.setObjectName("writtenBy")
        self.written_by.setAccessibleName("Who wrote the note")
        self.draft_badge = self.written_by
        top.addWidget(self.written_by)
        top.addStretch(1)
        self.version_combo = QComboBox()
        self.version_combo.setObjectName("versionCombo")
        self.version_combo.setAccessibleName("Note version")
        self.version_combo.activated.connect(self._version_chosen)
        top.addWidget(self.version_combo)
        self.export_button = ExportButton()  # copy, PDF, DOCX, print
        top.addWidget(self.export_button)
        layout.addLayout(top)

        actions = QHBoxLayout()
        self.template_combo = QComboBox()
        self.template_combo.setObjectName("templateCombo")
        self.template_combo.setAccessibleName("Note template")
        actions.addWidget(self.template_combo, 1)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setObjectName("regenerateButton")
        self.regenerate_button.setToolTip("Write a new version of the note with the chosen template")
        self.regenerate_button.clicked.connect(self._regenerate)
        actions.addWidget(self.regenerate_button)
        self.edit_button = QPushButton("Edit")
        self.edit_button.setObjectName("editNoteButton")
        self.edit_button.clicked.connect(self._edit)
        actions.addWidget(self.edit_button)
        self.sign_button = QPushButton("Sign")
        self.sign_button.setObjectName("signNoteButton")
        self.sign_button.setToolTip("Sign the note: it can no longer be changed, only added to")
        self.sign_button.clicked.connect(self.confirm_sign)
        self.sign_dialog: QMessageBox | None = None
        actions.addWidget(self.sign_button)
        layout.addLayout(actions)

        self.progress = QProgressBar()
        self.progress.setObjectName("notesProgress")
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)

        self.notices_label = QLabel()
        self.notices_label.setObjectName("noteNotices")
        self.notices_label.setWordWrap(True)
        self.notices_label.setAccessibleName("What the note's checks found")
        layout.addWidget(self.notices_label)

        self.flags_list = RiskFlagList()
        self.flags_list.reviewRequested.connect(self.flagReviewRequested)
        self.flags_list.evidenceRequested.connect(self.evidenceRequested)
        self.flags_label = self.flags_list  # the earlier name: its text() reads every flag
        layout.addWidget(self.flags_list)

        self.body = QTextBrowser()
        self.body.setObjectName("noteView")
        self.body.setOpenLinks(False)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.body.anchorClicked.connect(lambda url: self._link(url.toString()))
        layout.addWidget(self.body, 1)
        self.set_note(None, [])

    # -- content --------------------------------------------------------------------------------------

    def set_templates(self, templates: list[TemplateInfo], selected: uuid.UUID | None = None) -> None:
        self.template_combo.clear()
        for t in templates:
            label = t.name + ("  (default)" if t.is_default else "")
            self.template_combo.addItem(label, str(t.id))
        wanted = selected or next((t.id for t in templates if t.is_default), None)
        index = self.template_combo.findData(str(wanted)) if wanted is not None else -1
        if index >= 0:
            self.template_combo.setCurrentIndex(index)

    def set_busy(self, busy: bool, percent: int = 0, words: str = "") -> None:
        self.progress.setVisible(busy)
        self.progress.setValue(percent)
        self.progress.setFormat(f"{words} {percent}%".strip())
        self.regenerate_button.setEnabled(not busy and self.template_combo.count() > 0)

    def set_note(self, note: NoteInfo | None, flags: list[RiskFlagInfo], *, can_regenerate: bool = True) -> None:
        self.note = note
        self.export_button.set_note(note)
        self.flags = list(flags)
        signed = note is not None and note.status == "signed"
        self.written_by.setVisible(note is not None)
        if note is not None:
            self.written_by.setText(note.written_by)
            self.written_by.setToolTip(DRAFT_TIP if note.is_local_draft else MODEL_TIP)
            self.written_by.setProperty("kind", "draft" if note.is_local_draft else "model")
            self.written_by.style().unpolish(self.written_by)
            self.written_by.style().polish(self.written_by)
        notices = note.notices if note is not None else []
        self.notices_label.setText("\n".join(f"⚠ {line}" for line in notices))
        self.notices_label.setVisible(bool(notices))
        self.edit_button.setEnabled(note is not None)
        self.edit_button.setText("Add addendum" if signed else "Edit")
        self.sign_button.setEnabled(note is not None and not signed)
        self.regenerate_button.setEnabled(can_regenerate and self.template_combo.count() > 0)
        self.regenerate_button.setToolTip(
            "Write a new version of the note with the chosen template"
            if can_regenerate
            else "Notes can be written once the session has a transcript"
        )
        self.version_combo.clear()
        if note is not None:
            for v in note.versions:
                self.version_combo.addItem(f"Version {v}" + (" (latest)" if v == note.versions[-1] else ""), v)
            self.version_combo.setCurrentIndex(max(self.version_combo.findData(note.version), 0))
        self.version_combo.setVisible(note is not None and len(note.versions) > 1)
        self.flags_list.set_flags(self.flags)
        self.body.setHtml(self._note_html())

    def set_flags(self, flags: list[RiskFlagInfo]) -> None:
        """The session's risk flags as they now stand (after one was marked reviewed)."""
        self.flags = list(flags)
        self.flags_list.set_flags(self.flags)

    def _note_html(self) -> str:
        note = self.note
        if note is None:
            return "<p style='color:#5b6b73;'>No note yet. It is written when processing finishes.</p>"
        out = []
        meta = f"{html.escape(note.template_name or 'Note')} · version {note.version}"
        if note.signed_at is not None:
            meta += f" · signed {note.signed_at:%d %b %Y %H:%M}"
        out.append(f"<p style='color:#5b6b73;'>{meta}</p>")
        for section in note.sections:
            edited = " <span style='color:#5b6b73; font-weight:normal;'>(edited)</span>" if section.edited else ""
            out.append(f"<h4 style='margin-bottom:2px;'>{html.escape(section.title)}{edited}</h4>")
            if not section.sentences:
                out.append(f"<p style='color:#5b6b73;'>{html.escape(section.text)}</p>")
                continue
            sentences = []
            for sentence in section.sentences:
                refs = ",".join(str(i) for i in sentence.evidence)
                text = html.escape(sentence.text)
                sentences.append(
                    f"<a href='ev:{refs}' style='color:#1d2a30; text-decoration:none;' title='Show in transcript'>"
                    f"{text}</a>"
                    if refs
                    else text
                )
            out.append("<p>" + " ".join(sentences) + "</p>")
        for addendum in note.addenda:
            who = html.escape(addendum.author_name or "")
            out.append(f"<h4>Addendum — {addendum.created_at:%d %b %Y %H:%M} {who}</h4>")
            out.append(f"<p>{html.escape(addendum.text)}</p>")
        return "".join(out)

    # -- actions --------------------------------------------------------------------------------------

    def _link(self, target: str | QUrl) -> None:
        text = target.toString() if isinstance(target, QUrl) else str(target)
        if not text.startswith("ev:"):
            return
        indexes = [int(x) for x in text[3:].split(",") if x.strip().isdigit()]
        if indexes:
            self.evidenceRequested.emit(indexes)

    def _regenerate(self) -> None:
        template_id = self.template_combo.currentData()
        if template_id:
            self.regenerateRequested.emit(uuid.UUID(str(template_id)))

    def _version_chosen(self, _index: int) -> None:
        version = self.version_combo.currentData()
        if isinstance(version, int):
            self.versionRequested.emit(version)

    def confirm_sign(self) -> None:
        """Ask before signing: a signed note can no longer be changed. Sign emits ``signRequested``; Cancel does
        nothing."""
        if self.note is None or self.note.status == "signed":
            return
        if self.sign_dialog is not None:
            self.sign_dialog.raise_()
            return
        box = QMessageBox(self)
        box.setObjectName("signConfirm")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Sign note")
        box.setText(SIGN_QUESTION)
        sign = box.addButton("Sign", QMessageBox.ButtonRole.AcceptRole)
        sign.setObjectName("confirmSignButton")
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        cancel.setObjectName("cancelSignButton")
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(_result: int) -> None:
            self.sign_dialog = None
            chosen = box.clickedButton() is sign
            box.deleteLater()
            if chosen:
                self.signRequested.emit()

        box.finished.connect(answered)
        self.sign_dialog = box
        box.open()

    def _edit(self) -> None:
        if self.note is None:
            return
        if self.note.status == "signed":
            self.addendumRequested.emit()
        else:
            self.editRequested.emit()
