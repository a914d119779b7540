"""How times, durations, dates and statuses read in the UI."""

from __future__ import annotations

import math
from datetime import date

ACTIVE_STATUSES = frozenset({"uploading", "queued", "preprocessing", "transcribing", "diarizing", "generating_notes"})
FINISHED_STATUSES = frozenset({"completed", "failed", "cancelled"})

STATUS_WORDS = {
    "uploading": "Importing",
    "queued": "Queued",
    "preprocessing": "Preparing audio",
    "transcribing": "Transcribing",
    "diarizing": "Identifying speakers",
    "generating_notes": "Writing notes",
    "completed": "Ready",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def timestamp(seconds: float, *, with_hours: bool = False) -> str:
    """`mm:ss`, or `h:mm:ss` past an hour (or when the whole transcript needs hours)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours or with_hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def duration_badge(duration_mins: float | None) -> str:
    if duration_mins is None:
        return "–"
    if duration_mins < 1:
        return "< 1 min"
    mins = int(math.floor(duration_mins + 0.5))
    return "1 min" if mins == 1 else f"{mins} mins"


NEAR_END_PERCENT = 90


def eta_words(eta_seconds: int | None, progress: int | None = None) -> str:
    """The time left as the ETA says it. The ETA is the running step's, so "almost done" is said only when the
    whole job is near its end (``progress`` ≥ 90 %); earlier a short ETA is said in seconds."""
    if eta_seconds is None or eta_seconds < 0:
        return ""
    if progress is not None and progress >= NEAR_END_PERCENT and eta_seconds < 60:
        return "almost done"
    if eta_seconds < 10:
        return "a few seconds left"
    if eta_seconds < 60:
        return f"about {int(round(eta_seconds / 5.0) * 5)} s left"
    minutes = int(round(eta_seconds / 60.0))
    if minutes < 60:
        return f"about {minutes} min left"
    hours, mins = divmod(minutes, 60)
    return f"about {hours} h {mins:02d} min left"


def long_date(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def short_date(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


_TITLES = {"dr", "mr", "mrs", "ms", "mx", "prof"}


def initials(name: str) -> str:
    parts = [p for p in name.split() if p and p.rstrip(".").lower() not in _TITLES]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:1].upper()
    return (parts[0][:1] + parts[-1][:1]).upper()
