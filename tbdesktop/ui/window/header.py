"""The window's header: the app's name, navigation (Sessions, Templates, Insights, Settings), the sync indicator,
Record and Import, and the signed-in therapist. It renders and emits; the window decides what follows."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from tbdesktop.ui.buttons import action_button
from tbdesktop.ui.formatting import initials
from tbdesktop.ui.resources import icon
from tbdesktop.ui.sync_indicator import SyncIndicator

NAV_PAGES = (
    ("sessions", "Sessions", "Ctrl+1"),
    ("templates", "Templates", "Ctrl+2"),
    ("insights", "Insights", "Ctrl+3"),
    ("settings", "Settings", "Ctrl+,"),
)


class WindowHeader(QFrame):
    navRequested = Signal(str)  # sessions | templates | insights | settings
    recordRequested = Signal()
    importRequested = Signal()

    def __init__(self, display_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(30, 30))
        layout.addWidget(logo)
        name = QLabel("TherapyBridge")
        name.setObjectName("appName")
        layout.addWidget(name)
        layout.addSpacing(8)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav_buttons: dict[str, QPushButton] = {}
        for key, text, shortcut in NAV_PAGES:
            button = QPushButton(text)
            button.setObjectName(f"nav_{key}")
            button.setProperty("nav", True)
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setShortcut(QKeySequence(shortcut))
            button.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
            button.setAccessibleName(f"{text} page")
            button.clicked.connect(lambda _checked=False, k=key: self.navRequested.emit(k))
            self.nav_group.addButton(button)
            self.nav_buttons[key] = button
            layout.addWidget(button)
        self.nav_buttons["sessions"].setChecked(True)
        layout.addStretch(1)
        self.sync_indicator = SyncIndicator()
        layout.addWidget(self.sync_indicator)
        layout.addSpacing(6)
        self.record_button = action_button("  Record", "recordButton", icon("record"))
        self.record_button.setToolTip("Record a session in the room (Ctrl+R)")
        self.record_button.setAccessibleName("Record session")
        self.record_button.clicked.connect(self.recordRequested)
        layout.addWidget(self.record_button)
        layout.addSpacing(6)
        self.import_button = action_button("  Import", "importButton", icon("import"))
        self.import_button.setAccessibleName("Import recording")
        self.import_button.setToolTip("Import an audio recording of a session (Ctrl+I)")
        self.import_button.clicked.connect(self.importRequested)
        layout.addWidget(self.import_button)
        layout.addSpacing(6)
        avatar = QLabel(initials(display_name))
        avatar.setObjectName("avatar")
        avatar.setFixedSize(32, 32)
        avatar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(avatar)
        self.therapist_label = QLabel(display_name)
        self.therapist_label.setObjectName("therapistName")
        # a long name is elided (the tooltip has it whole) so four pages still fit a 1024-px window
        self.therapist_label.setText(
            self.therapist_label.fontMetrics().elidedText(display_name, Qt.TextElideMode.ElideRight, 120)
        )
        self.therapist_label.setToolTip(f"Signed in as {display_name}")
        layout.addWidget(self.therapist_label)

    def set_current(self, key: str) -> None:
        self.nav_buttons[key].setChecked(True)

    def set_display_name(self, name: str) -> None:
        self.therapist_label.setText(name)

    def set_actions_enabled(self, enabled: bool) -> None:
        """Locked, nothing in the header leads anywhere."""
        self.import_button.setEnabled(enabled)
        self.record_button.setEnabled(enabled)
        self.sync_indicator.setEnabled(enabled)
        for button in self.nav_buttons.values():
            button.setEnabled(enabled)
