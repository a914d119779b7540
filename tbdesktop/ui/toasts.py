"""Non-blocking toasts stacked in the bottom-right corner of a window (errors, successes, notices); they fade
in and out, and may carry one action ("Open session")."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEasingCurve, QEvent, QObject, QPropertyAnimation, Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ERROR_TIMEOUT_MS = 8000
INFO_TIMEOUT_MS = 4000
ACTION_TIMEOUT_MS = 10000
FADE_MS = 220
MAX_VISIBLE = 4
MARGIN = 16

ToastAction = tuple[str, Callable[[], None]]


class Toast(QFrame):
    def __init__(
        self, text: str, kind: str, parent: QWidget | None = None, action: ToastAction | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("toast")
        self.setProperty("kind", kind)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 8, 10)
        layout.setSpacing(8)
        self.label = QLabel(text)
        self.label.setObjectName("toastText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.action_button: QPushButton | None = None
        if action is not None:
            label, callback = action
            self.action_button = QPushButton(label)
            self.action_button.setObjectName("toastAction")
            self.action_button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.action_button.setAccessibleName(label)

            def run() -> None:
                callback()
                self.expire()

            self.action_button.clicked.connect(run)
            layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignVCenter)
        close = QPushButton("✕")
        close.setObjectName("toastClose")
        close.setCursor(Qt.CursorShape.PointingHandCursor)
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.setFixedWidth(360)
        self._effect = QGraphicsOpacityEffect(self)
        self._effect.setOpacity(0.0)
        self.setGraphicsEffect(self._effect)
        self._fade = QPropertyAnimation(self._effect, b"opacity", self)
        self._fade.setDuration(FADE_MS)
        self._fade.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._fade.setStartValue(0.0)
        self._fade.setEndValue(1.0)
        self._fade.start()
        self._leaving = False

    @property
    def text(self) -> str:
        return self.label.text()

    @property
    def opacity(self) -> float:
        return float(self._effect.opacity())

    def expire(self) -> None:
        """Fade out, then leave the stack."""
        if self._leaving:
            return
        self._leaving = True
        self._fade.stop()
        self._fade.setStartValue(self._effect.opacity())
        self._fade.setEndValue(0.0)
        self._fade.finished.connect(self._remove)
        self._fade.start()

    def _remove(self) -> None:
        overlay = self.parentWidget()
        if isinstance(overlay, ToastOverlay):
            overlay.remove(self)
        else:
            self.dismiss()

    def dismiss(self) -> None:
        self.hide()
        self.deleteLater()


class ToastOverlay(QWidget):
    """A transparent layer over its parent window; only the toasts themselves take mouse clicks."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("toastOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._layout.addStretch(1)
        parent.installEventFilter(self)
        self._reposition()
        self.hide()

    def toasts(self) -> list[Toast]:
        items = (self._layout.itemAt(i) for i in range(self._layout.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), Toast)]

    def show_error(self, text: str) -> Toast:
        return self.show_message(text, "error", ERROR_TIMEOUT_MS)

    def show_success(self, text: str) -> Toast:
        return self.show_message(text, "success", INFO_TIMEOUT_MS)

    def show_info(self, text: str) -> Toast:
        return self.show_message(text, "info", INFO_TIMEOUT_MS)

    def show_message(
        self,
        text: str,
        kind: str = "info",
        timeout_ms: int = INFO_TIMEOUT_MS,
        action: ToastAction | None = None,
    ) -> Toast:
        live = self.toasts()
        for old in live[: max(0, len(live) - MAX_VISIBLE + 1)]:
            self.remove(old)
        if action is not None:
            timeout_ms = max(timeout_ms, ACTION_TIMEOUT_MS)  # time to reach the button
        toast = Toast(text, kind, self, action)
        self._layout.addWidget(toast, 0, Qt.AlignmentFlag.AlignRight)
        toast.destroyed.connect(self._after_change)
        # The toast owns its timer, so a toast closed early takes the pending expiry with it.
        timer = QTimer(toast)
        timer.setSingleShot(True)
        timer.timeout.connect(toast.expire)
        timer.start(timeout_ms)
        self._after_change()
        return toast

    def remove(self, toast: Toast) -> None:
        self._layout.removeWidget(toast)
        toast.dismiss()
        self._after_change()

    def _after_change(self) -> None:
        count = len(self.toasts())
        self.setVisible(count > 0)
        self._reposition()
        if count:
            self.raise_()

    def _reposition(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.adjustSize()
        hint = self._layout.sizeHint()
        width = 360
        height = min(parent.height() - 2 * MARGIN, max(hint.height(), 0))
        self.setGeometry(parent.width() - width - MARGIN, parent.height() - height - MARGIN, width, height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._reposition()
        return False
