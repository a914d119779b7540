"""Non-blocking toasts stacked in the bottom-right corner of a window (errors, successes, notices)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

ERROR_TIMEOUT_MS = 8000
INFO_TIMEOUT_MS = 4000
MAX_VISIBLE = 4
MARGIN = 16


class Toast(QFrame):
    def __init__(self, text: str, kind: str, parent: QWidget | None = None) -> None:
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
        close = QPushButton("✕")
        close.setObjectName("toastClose")
        close.setCursor(Qt.CursorShape.PointingHandCursor)
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.dismiss)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.setFixedWidth(360)

    @property
    def text(self) -> str:
        return self.label.text()

    def expire(self) -> None:
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

    def show_message(self, text: str, kind: str = "info", timeout_ms: int = INFO_TIMEOUT_MS) -> Toast:
        live = self.toasts()
        for old in live[: max(0, len(live) - MAX_VISIBLE + 1)]:
            self.remove(old)
        toast = Toast(text, kind, self)
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
