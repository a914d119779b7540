"""The head of a session: client (or "Anonymous client"), date and clinician, summary, duration, status, and the
switch that makes the session anonymous."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import ANONYMOUS_CLIENT, SessionInfo
from tbdesktop.ui.anonymous_toggle import AnonymousToggle
from tbdesktop.ui.formatting import duration_badge, long_date, status_words


def day_month_year(moment: datetime) -> str:
    """`3 Nov 2026`, in local time."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{local.day} {local:%b %Y}"


class SessionHeader(QFrame):
    """Renders what it is given; the anonymous switch's flips go out through ``anonymous_toggle``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionHeader")
        header_layout = QHBoxLayout(self)
        header_layout.setContentsMargins(20, 14, 20, 14)
        header_layout.setSpacing(12)
        titles = QVBoxLayout()
        titles.setSpacing(4)
        self.title_label = QLabel()
        self.title_label.setObjectName("sessionTitle")
        self.meta_label = QLabel()
        self.meta_label.setObjectName("sessionMeta")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("sessionSummary")
        self.summary_label.setWordWrap(True)
        titles.addWidget(self.title_label)
        titles.addWidget(self.meta_label)
        titles.addWidget(self.summary_label)
        header_layout.addLayout(titles, 1)
        side = QVBoxLayout()
        side.setSpacing(8)
        badges = QHBoxLayout()
        badges.setSpacing(12)
        badges.addStretch(1)
        self.duration_label = QLabel()
        self.duration_label.setObjectName("durationBadge")
        badges.addWidget(self.duration_label)
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        badges.addWidget(self.status_label)
        side.addLayout(badges)
        self.anonymous_toggle = AnonymousToggle()
        side.addWidget(self.anonymous_toggle, 0, Qt.AlignmentFlag.AlignRight)
        side.addStretch(1)
        header_layout.addLayout(side)

    def show_info(self, info: SessionInfo, *, waiting_for_consent: bool) -> None:
        self.meta_label.setText(f"{long_date(info.session_date)} · {info.owner_name}")
        self.duration_label.setText(duration_badge(info.duration_mins))
        waiting = waiting_for_consent  # the consent bar below asks
        self.status_label.setText("Waiting for consent" if waiting else status_words(info.status))
        self.status_label.setToolTip("Record the client's consent just below to start processing" if waiting else "")
        self.status_label.setProperty("state", "consent" if waiting else info.status)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)

    def show_title(self, info: SessionInfo, known_name: str | None, *, anonymous: bool) -> None:
        """Title and summary; with `anonymous` the client's name is nowhere in them."""
        if anonymous:
            title = ANONYMOUS_CLIENT
            summary = mask_name(info.ai_summary or "", known_name) if not info.is_anonymous else info.ai_summary or ""
        else:
            title = (
                info.client_name or known_name or ("No client" if info.client_id is None else self.title_label.text())
            )
            summary = info.ai_summary or ""
        self.title_label.setText(title)
        self.summary_label.setText(summary)
        self.summary_label.setVisible(bool(summary))
