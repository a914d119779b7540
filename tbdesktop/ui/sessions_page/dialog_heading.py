"""The top of a dialog about one session: its title, then which session (client, date, length)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from tbdesktop.services.dto import SessionInfo
from tbdesktop.ui.formatting import duration_badge, long_date


def session_label(info: SessionInfo) -> str:
    """Which session a dialog is about, e.g. "Jordan Lee · Wednesday 14 May 2025 · 50 mins"."""
    return f"{info.display_client} · {long_date(info.session_date)} · {duration_badge(info.duration_mins)}"


def session_dialog_layout(dialog: QDialog, title: str, info: SessionInfo) -> QVBoxLayout:
    """The dialog's layout, opened by ``title`` and the session's label; the rest is added below."""
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(24, 20, 24, 16)
    layout.setSpacing(10)
    heading = QLabel(title)
    heading.setObjectName("dialogTitle")
    layout.addWidget(heading)
    which = QLabel(session_label(info))
    which.setObjectName("dialogHint")
    which.setTextFormat(Qt.TextFormat.PlainText)
    layout.addWidget(which)
    return layout
