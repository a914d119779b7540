"""When a recording was made, as its container's tags say (``creation_time`` of MP4/MOV/M4A, a ``date`` tag)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from tbdesktop.engine.audio import _local_file, _open_container
from tbdesktop.engine.errors import EngineError

log = logging.getLogger(__name__)

_TAGS = ("creation_time", "date", "recording_time", "date_recorded")
EARLIEST_YEAR = 1990  # recorders without a clock write 1904 or 1970; such a tag says nothing


def parse_moment(value: str) -> datetime | None:
    """An ISO 8601 date or date-time (``2026-12-01``, ``2026-12-01T14:30:00.000000Z``); None otherwise."""
    text = value.strip().replace(" ", "T", 1)
    if len(text) < 10:
        return None  # a year alone ("2026") is not a day
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text[:10])
        except ValueError:
            return None
    return moment if moment.year >= EARLIEST_YEAR else None


def creation_time(path: Path) -> datetime | None:
    """The moment the container's tags give for the recording (timezone-aware when the tag says UTC), or None when
    the file has no such tag or cannot be opened as media."""
    try:
        with _open_container(_local_file(path)) as container:
            tag_sets = [dict(container.metadata or {})]
            tag_sets += [dict(stream.metadata or {}) for stream in container.streams]
    except EngineError:
        return None
    except Exception as exc:  # a damaged header is the import's to report, not the date's
        log.info("media tags unreadable", extra={"error_type": type(exc).__name__})
        return None
    for tags in tag_sets:
        lowered = {str(k).lower(): str(v) for k, v in tags.items()}
        for key in _TAGS:
            value = lowered.get(key)
            moment = parse_moment(value) if value else None
            if moment is not None:
                return moment
    return None
