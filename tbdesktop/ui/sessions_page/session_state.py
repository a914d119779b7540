"""What a session's state means for the list (waiting for consent, processing) and how times are shown; no widgets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.ui.formatting import ACTIVE_STATUSES
from tbdesktop.ui.notes_panel import RISK_WORDS


def local_time(moment: datetime) -> datetime:
    """`moment` in this computer's time zone (stored times are UTC; a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone()


def day_month_year(moment: datetime | date) -> str:
    """A date as tooltips and toasts say it, e.g. "3 Nov 2026"."""
    if isinstance(moment, datetime):
        moment = local_time(moment).date()
    return f"{moment.day} {moment:%b %Y}"


def needs_consent(info: SessionInfo) -> bool:
    """Kept, not processed, until the client's consent is recorded in the session."""
    return info.status == "queued" and info.stage_detail == AWAITING_CONSENT


def is_processing(info: SessionInfo) -> bool:
    """Queued or running in the processing queue (a session waiting for consent is not)."""
    return info.status in ACTIVE_STATUSES and not needs_consent(info)


def risk_words(kinds: tuple[str, ...]) -> str:
    return ", ".join(RISK_WORDS.get(kind, kind.replace("_", " ").capitalize()) for kind in kinds)


def with_event(info: SessionInfo, event: ProgressEvent) -> SessionInfo:
    """`info` as the processing runner's event says it now stands."""
    return replace(
        info,
        status=event.status,
        progress=event.progress,
        stage_detail=event.stage_detail,
        eta_seconds=event.eta_seconds,
        error=event.error,
    )
