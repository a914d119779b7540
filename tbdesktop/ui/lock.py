"""The idle lock: after N minutes without keyboard or mouse input the window hides everything and asks for the
profile's passcode (or, for a profile without one yet, asks the therapist to choose one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.ui.aio import spawn
from tbdesktop.ui.resources import icon

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


class IdleWatcher(QObject):
    """Emits ``idle`` after ``interval_ms`` without user input anywhere in the application."""

    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.idle)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def set_interval_ms(self, interval_ms: int) -> None:
        """0 turns the lock off."""
        self.timer.stop()
        if interval_ms > 0:
            self.timer.setInterval(interval_ms)
            self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in INPUT_EVENTS and self.timer.interval() > 0 and self.timer.isActive():
            self.timer.start()  # restart the countdown
        return False

    def resume(self) -> None:
        if self.timer.interval() > 0:
            self.timer.start()


class LockScreen(QFrame):
    unlockRequested = Signal(str)  # passcode
    passcodeChosen = Signal(str)  # a new passcode, for a profile that had none

    def __init__(
        self, display_name: str, parent: QWidget | None = None, *, title: str = "TherapyBridge is locked"
    ) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.has_passcode = True
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.setSpacing(10)
        title_label = QLabel(title)
        title_label.setObjectName("sessionTitle")
        title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setFixedWidth(440)
        self.hint.setMinimumHeight(40)
        self.passcode_edit = QLineEdit()
        self.passcode_edit.setObjectName("passcodeEdit")
        self.passcode_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passcode_edit.setPlaceholderText("Passcode")
        self.passcode_edit.setFixedWidth(320)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setObjectName("passcodeConfirmEdit")
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit.setPlaceholderText("The same passcode again")
        self.confirm_edit.setFixedWidth(320)
        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("unlockButton")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.submit)
        self.passcode_edit.returnPressed.connect(self.submit)
        self.confirm_edit.returnPressed.connect(self.submit)
        widgets = (title_label, self.hint, self.passcode_edit, self.confirm_edit, self.error_label, self.unlock_button)
        for widget in widgets:
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        self._name = display_name
        self.set_mode(has_passcode=True)

    def set_mode(self, *, has_passcode: bool) -> None:
        self.has_passcode = has_passcode
        self.confirm_edit.setVisible(not has_passcode)
        self.hint.setText(
            f"Signed in as {self._name}. Enter your passcode to continue."
            if has_passcode
            else f"Signed in as {self._name}. This profile has no passcode yet: choose one (6 characters or more) "
            "to unlock. It protects your sessions whenever this workstation is left idle."
        )
        self.unlock_button.setText("Unlock" if has_passcode else "Set passcode and unlock")

    def reset(self) -> None:
        self.passcode_edit.clear()
        self.confirm_edit.clear()
        self.error_label.clear()
        self.unlock_button.setEnabled(True)
        self.passcode_edit.setFocus()

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.unlock_button.setEnabled(True)
        self.passcode_edit.selectAll()
        self.passcode_edit.setFocus()

    def submit(self) -> None:
        passcode = self.passcode_edit.text()
        if not passcode:
            self.show_error("Enter your passcode.")
            return
        if not self.has_passcode:
            if passcode != self.confirm_edit.text():
                self.show_error("The two passcodes differ.")
                return
            self.unlock_button.setEnabled(False)
            self.passcodeChosen.emit(passcode)
            return
        self.unlock_button.setEnabled(False)
        self.unlockRequested.emit(passcode)


Unlock = Callable[[str], Awaitable[bool]]
ChoosePasscode = Callable[[str], Awaitable[None]]


class UnlockDialog(QDialog):
    """Signing in where the profile's keys (and the encrypted database) open with its passcode (a computer
    without an OS keyring).

    ``unlock`` checks a passcode (False: not right); a profile without a passcode yet is asked to choose one, and
    ``choose`` sets it."""

    def __init__(
        self,
        display_name: str,
        unlock: Unlock,
        has_passcode: bool,
        choose: ChoosePasscode | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("unlockDialog")
        self.setWindowTitle("Sign in to TherapyBridge")
        self.setWindowIcon(icon("app"))
        self.setMinimumSize(520, 320)
        self._unlock_with = unlock
        self._choose_with = choose
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.screen_widget = LockScreen(display_name, self, title="Sign in")
        self.screen_widget.set_mode(has_passcode=has_passcode or choose is None)
        if has_passcode or choose is None:
            self.screen_widget.hint.setText(
                f"{display_name}: enter your passcode. It opens your sessions and keys on this computer."
            )
        self.screen_widget.unlockRequested.connect(self._unlock)
        self.screen_widget.passcodeChosen.connect(self._choose)
        layout.addWidget(self.screen_widget)
        self.screen_widget.reset()

    def _unlock(self, passcode: str) -> None:
        spawn(self._check(passcode), on_error=self.screen_widget.show_error)

    async def _check(self, passcode: str) -> None:
        if await self._unlock_with(passcode):
            self.accept()
        else:
            self.screen_widget.show_error("That passcode is not right.")

    def _choose(self, passcode: str) -> None:
        spawn(self._set(passcode), on_error=self.screen_widget.show_error)

    async def _set(self, passcode: str) -> None:
        if self._choose_with is not None:
            await self._choose_with(passcode)
        self.accept()
