"""The idle lock: after the profile's minutes without input every session hides behind the lock screen until the
passcode is given (or, for a profile without one, chosen)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStackedWidget, QWidget

from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.lock import IdleWatcher, LockScreen


class LockController(QObject):
    """Switches ``stack`` to ``lock_screen`` and back; ``lockedChanged`` tells the window to close or disable what
    would show a session meanwhile."""

    lockedChanged = Signal(bool)

    def __init__(
        self,
        profiles: ProfileService,
        user: UserInfo,
        stack: QStackedWidget,
        lock_screen: LockScreen,
        home: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.profiles = profiles
        self.user = user
        self.stack = stack
        self.lock_screen = lock_screen
        self.home = home  # shown on unlock when no page was remembered
        self.page_before_lock: QWidget | None = None
        self.has_passcode = True  # until read: the screen asks for a passcode rather than offering to set one
        self.idle_watcher = IdleWatcher(self)
        self.idle_watcher.idle.connect(self.lock)
        lock_screen.unlockRequested.connect(self.unlock)
        lock_screen.passcodeChosen.connect(self.choose_passcode_and_unlock)

    async def start(self) -> None:
        """Read the profile's lock settings (off the UI thread) and start the countdown."""
        self.set_idle_lock_minutes(await self.profiles.idle_lock_minutes(self.user.id))
        self.has_passcode = await self.profiles.has_passcode(self.user.id)

    def set_idle_lock_minutes(self, minutes: float) -> None:
        self.idle_watcher.set_interval_ms(int(minutes * 60_000))

    @property
    def locked(self) -> bool:
        return self.stack.currentWidget() is self.lock_screen

    def show_page(self, page: QWidget) -> None:
        """Nothing shows through the lock: a page asked for meanwhile is shown once unlocked."""
        if self.locked:
            self.page_before_lock = page
        else:
            self.stack.setCurrentWidget(page)

    def lock(self) -> None:
        """Hide every session behind the lock screen until the passcode is given."""
        if self.locked:
            return
        self.page_before_lock = self.stack.currentWidget()
        self.lockedChanged.emit(True)
        self.lock_screen.set_mode(has_passcode=self.has_passcode)
        self.lock_screen.reset()
        self.stack.setCurrentWidget(self.lock_screen)
        spawn(self._read_mode(), on_error=self.lock_screen.show_error)

    async def _read_mode(self) -> None:
        # A passcode set in Settings since the window started changes what the screen asks for.
        has_passcode = await self.profiles.has_passcode(self.user.id)
        if has_passcode != self.has_passcode and self.locked:
            self.lock_screen.set_mode(has_passcode=has_passcode)
        self.has_passcode = has_passcode

    def unlock(self, passcode: str) -> None:
        spawn(self._unlock(passcode), on_error=self.lock_screen.show_error)

    async def _unlock(self, passcode: str) -> None:
        if await self.profiles.unlock_secrets(self.user.id, passcode):
            self._resume()
        else:
            self.lock_screen.show_error("That passcode is not right.")

    def choose_passcode_and_unlock(self, passcode: str) -> None:
        spawn(self._choose(passcode), on_error=self.lock_screen.show_error)

    async def _choose(self, passcode: str) -> None:
        await self.profiles.change_passcode(self.user.id, passcode, None)
        self.has_passcode = True
        self._resume()

    def _resume(self) -> None:
        self.lock_screen.reset()
        self.stack.setCurrentWidget(self.page_before_lock or self.home)
        self.lockedChanged.emit(False)
        self.idle_watcher.resume()
