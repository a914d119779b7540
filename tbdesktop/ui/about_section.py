"""Settings → About: the version, the models (built in, and the packs IT added) with their origin and licence, and the
licence texts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.about import AboutInfo, LicenseText, ModelNotice
from tbdesktop.ui.forms import card_box, hint_label

LICENSES_BUTTON_TEXT = "Third-party licences…"
LICENSE_BUTTON_TEXT = "Licence…"


def _label(text: str = "", name: str = "aboutText") -> QLabel:
    label = hint_label(text, name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class LicensesDialog(QDialog):
    """The bundled licence files in a list; the selected one's text, read-only."""

    def __init__(self, licenses: tuple[LicenseText, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("licensesDialog")
        self.setWindowTitle("Third-party licences")
        self.resize(980, 640)
        self._licenses = licenses
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(10)
        hint = QLabel(
            "Models and components that ship with TherapyBridge Desktop, and the model packs your clinic's IT "
            "added, with their attribution and licence."
        )
        hint.setObjectName("dialogHint")
        hint.setWordWrap(True)
        layout.addWidget(hint)

        self.list = QListWidget()
        self.list.setObjectName("licenseList")
        self.list.setAccessibleName("Licence files")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.text = QPlainTextEdit()
        self.text.setObjectName("licenseText")
        self.text.setAccessibleName("Licence text")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("licenseSplitter")
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.list)
        splitter.addWidget(self.text)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 680])
        layout.addWidget(splitter, 1)

        for entry in licenses:
            item = QListWidgetItem(entry.title)
            item.setToolTip(entry.file_name)
            item.setData(Qt.ItemDataRole.UserRole, entry.file_name)
            self.list.addItem(item)
        if not licenses:
            self.text.setPlainText("No licence files were found in this installation.")
        self.list.currentRowChanged.connect(self._show)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.setObjectName("licensesButtons")
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if licenses:
            self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self._licenses):
            self.text.setPlainText(self._licenses[row].text)
            self.text.moveCursor(self.text.textCursor().MoveOperation.Start)

    def select(self, file_name: str) -> bool:
        """Show one licence by file name; False when it is not listed."""
        for row, entry in enumerate(self._licenses):
            if entry.file_name == file_name:
                self.list.setCurrentRow(row)
                return True
        return False

    def shown_text(self) -> str:
        return self.text.toPlainText()


class ModelRow(QWidget):
    """One model: name and licence, its origin, and whether it is installed and in use."""

    def __init__(self, notice: ModelNotice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setObjectName(f"aboutModel-{notice.key}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        self.title = _label(f"{notice.name} — {notice.license}", "aboutModelName")
        self.origin = _label(f"{notice.role}. {notice.origin}.", "settingsHint")
        use = "" if notice.in_use else " Not used with the current processing settings."
        self.status = _label(notice.status + use, "aboutModelStatus")
        self.status.setProperty("installed", notice.installed)
        for label in (self.title, self.origin, self.status):
            layout.addWidget(label)
        self.license_button: QPushButton | None = None
        if notice.license_file:
            self.license_button = QPushButton(LICENSE_BUTTON_TEXT)
            self.license_button.setObjectName(f"aboutModelLicense-{notice.key}")
            self.license_button.setAccessibleName(f"Show the licence of {notice.name}")
            self.license_button.setAutoDefault(False)
            row = QHBoxLayout()
            row.addWidget(self.license_button)
            row.addStretch(1)
            layout.addLayout(row)
        self.setAccessibleName(f"{notice.role}: {notice.name}, {notice.license}")


class AboutSection(QFrame):
    """The About card of the Settings page; it renders the ``AboutInfo`` it is given."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._info: AboutInfo | None = None
        self._rows: list[ModelRow] = []
        self.dialog: LicensesDialog | None = None
        box = card_box(self, "About", name="aboutSection")
        self.version_label = _label("Loading…", "aboutVersion")
        self.version_label.setAccessibleName("Version")
        box.addWidget(self.version_label)
        box.addSpacing(8)
        self.models_box = QVBoxLayout()
        self.models_box.setSpacing(10)
        box.addLayout(self.models_box)
        box.addSpacing(8)
        row = QHBoxLayout()
        self.licenses_button = QPushButton(LICENSES_BUTTON_TEXT)
        self.licenses_button.setObjectName("licensesButton")
        self.licenses_button.setAccessibleName("Show third-party licences")
        self.licenses_button.setAutoDefault(False)
        self.licenses_button.setEnabled(False)
        self.licenses_button.clicked.connect(self.open_licenses)
        row.addWidget(self.licenses_button)
        self.licenses_where = _label("", "settingsHint")
        row.addWidget(self.licenses_where, 1)
        box.addLayout(row)

    def info(self) -> AboutInfo | None:
        return self._info

    def set_info(self, info: AboutInfo) -> None:
        self._info = info
        self.version_label.setText(f"{info.app_name} {info.version}")
        for old in self._rows:
            old.deleteLater()
        self._rows = [ModelRow(notice) for notice in info.models]
        for row in self._rows:
            self.models_box.addWidget(row)
            if row.license_button is not None and row.notice.license_file:
                file_name = row.notice.license_file
                row.license_button.clicked.connect(lambda _=False, f=file_name: self.show_license(f))
        if self.dialog is not None:  # built again from the new texts when next opened
            self.dialog.deleteLater()
            self.dialog = None
        self.licenses_where.setText(f"The texts are also in {info.licenses_dir}.")
        self.licenses_button.setEnabled(True)

    def model_rows(self) -> list[ModelRow]:
        return list(self._rows)

    def open_licenses(self) -> LicensesDialog | None:
        if self._info is None:
            return None
        if self.dialog is None:
            self.dialog = LicensesDialog(self._info.licenses, self.window())
        self.dialog.open()
        return self.dialog

    def show_license(self, file_name: str) -> None:
        """The licences dialog, opened at one model's licence."""
        dialog = self.open_licenses()
        if dialog is not None:
            dialog.select(file_name)
