"""The header's clinic sync indicator: how the workstation stands with the clinic server, and a small menu (sync now,
clinic settings, sign in). It renders the SyncStatus it is given; it calls nothing itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from tbdesktop.services.sync.service import SyncStatus

REFRESH_MS = 60_000  # "Synced 2 min ago" moves on once a minute
GLYPHS = {
    "synced": "✓",
    "pending": "↻",
    "offline": "⚠",
    "conflicts": "⚠",
}


def synced_words(last_sync_at: datetime | None, now: datetime) -> str:
    """Words like "Synced just now", "Synced 2 min ago", "Synced 3 h ago" or "Synced on 4 Dec"."""
    if last_sync_at is None:
        return "Synced"
    when = last_sync_at if last_sync_at.tzinfo is not None else last_sync_at.replace(tzinfo=UTC)
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 60:
        return "Synced just now"
    if seconds < 3600:
        return f"Synced {int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"Synced {int(seconds // 3600)} h ago"
    local = when.astimezone()
    return f"Synced on {local.day} {local:%b}"


def indicator_text(status: SyncStatus, now: datetime) -> str:
    """What the header says: the service's words for the state, with the time since the last sync when synced."""
    if status.state == "synced":
        return synced_words(status.last_sync_at, now)
    return status.text


def indicator_tip(status: SyncStatus, now: datetime) -> str:
    parts = [f"Clinic server: {status.server}" if status.server else "Clinic sync"]
    if status.last_sync_at is not None:
        parts.append(synced_words(status.last_sync_at, now) + ".")
    if status.pending:
        parts.append(f"{status.pending} change(s) waiting to be sent.")
    if status.conflicts:
        parts.append("Open the sessions concerned to review the conflicts.")
    if status.state == "offline" and status.last_error:
        parts.append(status.last_error)
    return "\n".join(parts)


class SyncIndicator(QToolButton):
    """Hidden while the profile has not joined a clinic ("off")."""

    syncNowRequested = Signal()
    settingsRequested = Signal()
    signInRequested = Signal()

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncIndicator")
        self.setAutoRaise(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._status: SyncStatus | None = None
        menu = QMenu(self)
        menu.setObjectName("syncMenu")
        self.sync_action = self._add(menu, "Sync now", "syncNowAction", self.syncNowRequested)
        self.signin_action = self._add(menu, "Sign in…", "syncSignInAction", self.signInRequested)
        self.settings_action = self._add(menu, "Clinic settings", "clinicSettingsAction", self.settingsRequested)
        self.setMenu(menu)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.show_status)
        self.setVisible(False)

    @staticmethod
    def _add(menu: QMenu, text: str, name: str, signal: object) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(name)
        action.triggered.connect(signal)
        return action

    @property
    def status(self) -> SyncStatus | None:
        return self._status

    def set_status(self, status: SyncStatus) -> None:
        self._status = status
        self.show_status()

    def show_status(self) -> None:
        status = self._status
        if status is None or status.state == "off":
            self.timer.stop()
            self.setVisible(False)
            return
        now = self._clock()
        text = indicator_text(status, now)
        glyph = GLYPHS.get(status.state, "")
        self.setText(f"{glyph}  {text}" if glyph else text)
        self.setToolTip(indicator_tip(status, now))
        self.setAccessibleName(f"Clinic sync: {text}")
        self.setProperty("state", status.state)
        self.style().unpolish(self)
        self.style().polish(self)
        self.signin_action.setVisible(status.state == "signin")
        self.sync_action.setEnabled(status.state not in ("signin", "paused"))
        self.setVisible(True)
        if status.state == "synced" and not self.timer.isActive():
            self.timer.start()
        elif status.state != "synced":
            self.timer.stop()

    def label(self) -> str:
        """The words shown (without the state's symbol)."""
        text = self.text()
        glyph = GLYPHS.get(self._status.state, "") if self._status is not None else ""
        return text.removeprefix(f"{glyph}  ") if glyph else text
