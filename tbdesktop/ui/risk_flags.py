"""Risk flags under the note: one line each (expand for the quote and its time), denials shown as information, and
a way to mark each flag reviewed."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from tbdesktop.services.dto import RiskFlagInfo

RISK_WORDS = {
    "suicidal_ideation": "Suicidal ideation",
    "self_harm": "Self-harm",
    "harm_to_others": "Harm to others",
    "abuse_neglect": "Abuse or neglect",
    "substance_use": "Substance use",
}
SEVERITY_COLOURS = {"high": "#a4262c", "moderate": "#b45309", "low": "#5b6b73", "denied": "#5b6b73"}
NEUTRAL = "#5b6b73"


def kind_words(kind: str) -> str:
    return RISK_WORDS.get(kind, kind.replace("_", " ").capitalize())


def risk_text(flag: RiskFlagInfo) -> str:
    """The flag in words: e.g. "Self-harm (high)", or "Denied: Suicidal ideation" (information, not a risk)."""
    return f"Denied: {kind_words(flag.kind)}" if flag.denied else f"{kind_words(flag.kind)} ({flag.severity})"


def risk_source_text(flag: RiskFlagInfo) -> str:
    """Who raised the flag: "found by rules", "found by the model" or "found by rules + model"."""
    return "found by the model" if flag.source == "model" else f"found by {flag.source_label}"


def clock(seconds: float) -> str:
    """A time in the recording: "4:05", or "1:02:03" past an hour."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _ElidedLine(QLabel):
    """One line of plain text, elided with "…" to the label's width (the whole text in its tooltip)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._full = text
        self.setToolTip(text)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 0)))


class FlagRow(QFrame):
    """One flag: a one-line summary that expands on click, and "Mark reviewed" (or who reviewed it)."""

    reviewRequested = Signal(str, int)  # kind, segment idx (-1: no line)
    evidenceRequested = Signal(list)  # segment indexes

    def __init__(self, flag: RiskFlagInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("riskFlagRow")
        self.flag = flag
        self.setProperty("denied", flag.denied)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(6)
        colour = SEVERITY_COLOURS.get(flag.severity, NEUTRAL)
        mark = "ℹ" if flag.denied else "⚠"
        self.toggle = QPushButton(f"▸ {mark} {risk_text(flag)}")
        self.toggle.setObjectName("flagToggle")
        self.toggle.setFlat(True)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.setCheckable(True)
        self.toggle.setStyleSheet(
            f"QPushButton {{ color: {colour}; font-weight: {'normal' if flag.denied else 'bold'}; text-align: left;"
            " border: none; padding: 1px 2px; background: transparent; }"
        )
        self.toggle.setAccessibleName(f"{risk_text(flag)}: show the quote")
        self.toggle.toggled.connect(self._expand)
        top.addWidget(self.toggle)
        # One line: a long qualifier is elided rather than widening the panel.
        self.summary = _ElidedLine(flag.detail)
        self.summary.setObjectName("flagSummary")
        self.summary.setStyleSheet(f"color: {NEUTRAL};")
        self.summary.setVisible(bool(flag.detail))
        top.addWidget(self.summary, 1)
        if not flag.detail:
            top.addStretch(1)
        self.reviewed_label = QLabel()
        self.reviewed_label.setObjectName("flagReviewed")
        self.reviewed_label.setStyleSheet(f"color: {NEUTRAL};")
        self.reviewed_label.setTextFormat(Qt.TextFormat.PlainText)
        top.addWidget(self.reviewed_label)
        self.review_button = QPushButton("Mark reviewed")
        self.review_button.setObjectName("reviewFlagButton")
        self.review_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.review_button.setAccessibleName(f"Mark {risk_text(flag)} reviewed")
        self.review_button.setToolTip("Record that you have read this flag and its quote")
        self.review_button.setStyleSheet("QPushButton { padding: 1px 10px; min-height: 0; }")
        self.review_button.clicked.connect(self._review)
        top.addWidget(self.review_button)
        layout.addLayout(top)

        self.details = QLabel(self._details_html())
        self.details.setObjectName("flagDetails")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setContentsMargins(18, 0, 0, 4)
        self.details.linkActivated.connect(self._link)
        self.details.setVisible(False)
        layout.addWidget(self.details)
        self._show_review()

    def _details_html(self) -> str:
        flag = self.flag
        when = f"at {clock(flag.start_s)} · " if flag.start_s is not None else ""
        show = (
            f" · <a href='ev:{flag.segment_idx}' style='color:#1f6f8b;'>Show in transcript</a>"
            if flag.segment_idx is not None
            else ""
        )
        return (
            f"<span style='color:#1d2a30;'>“{html.escape(flag.quote)}”</span>"
            f"<br><span style='color:#7a8a92; font-size:small;'>{html.escape(when + risk_source_text(flag))}"
            f"</span>{show}"
        )

    def _show_review(self) -> None:
        flag = self.flag
        self.review_button.setVisible(not flag.reviewed)
        self.reviewed_label.setVisible(flag.reviewed)
        if flag.reviewed:
            self.reviewed_label.setText(f"✓ Reviewed by {flag.reviewed_by or 'a former user'}")
            if flag.reviewed_at is not None:
                self.reviewed_label.setToolTip(f"Reviewed on {flag.reviewed_at:%d %b %Y %H:%M} (UTC)")

    @property
    def expanded(self) -> bool:
        return self.details.isVisible()

    def _expand(self, on: bool) -> None:
        self.details.setVisible(on)
        text = self.toggle.text()
        self.toggle.setText(("▾" if on else "▸") + text[1:])

    def _review(self) -> None:
        self.review_button.setEnabled(False)  # back on when the panel is refreshed or the request fails
        idx = self.flag.segment_idx
        self.reviewRequested.emit(self.flag.kind, idx if idx is not None else -1)

    def _link(self, target: str) -> None:
        if target.startswith("ev:") and target[3:].isdigit():
            self.evidenceRequested.emit([int(target[3:])])


class RiskFlagList(QWidget):
    """The session's flags, raised ones first, then denials."""

    reviewRequested = Signal(str, int)  # kind, segment idx (-1: no line)
    evidenceRequested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("riskFlags")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._rows: list[FlagRow] = []

    def rows(self) -> list[FlagRow]:
        return list(self._rows)

    def set_flags(self, flags: list[RiskFlagInfo]) -> None:
        for row in self._rows:
            self._layout.removeWidget(row)
            row.deleteLater()
        self._rows = []
        for flag in sorted(flags, key=lambda f: f.denied):
            row = FlagRow(flag, self)
            row.reviewRequested.connect(self.reviewRequested)
            row.evidenceRequested.connect(self.evidenceRequested)
            self._layout.addWidget(row)
            self._rows.append(row)
        self.setVisible(bool(flags))

    def text(self) -> str:
        """Every flag as plain text, one line each (what a screen reader or a test reads)."""
        lines = []
        for row in self._rows:
            flag = row.flag
            detail = f" — {flag.detail}" if flag.detail else ""
            review = f" · Reviewed by {flag.reviewed_by or 'a former user'}" if flag.reviewed else ""
            lines.append(f"{risk_text(flag)}{detail} “{flag.quote}” · {risk_source_text(flag)}{review}")
        return "\n".join(lines)

    def review_failed(self) -> None:
        for row in self._rows:
            row.review_button.setEnabled(True)
