"""Re-emits the processing runner's progress events as a Qt signal for widgets to connect to."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from tbdesktop.services.dto import ProgressEvent

Unsubscribe = Callable[[], None]


class ProgressBridge(QObject):
    """`progress` carries a ProgressEvent. The window's runner publishes on its own thread; Qt delivers the signal
    to the widgets on the GUI thread (a queued connection)."""

    progress = Signal(ProgressEvent)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Unsubscribe | None = None

    def publish(self, event: ProgressEvent) -> None:
        self.progress.emit(event)

    def attach(self, add_listener: Callable[[Callable[[ProgressEvent], None]], Unsubscribe]) -> None:
        """Subscribe to a runner (`runner.add_listener`); detach() undoes it."""
        self.detach()
        self._unsubscribe = add_listener(self.publish)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
