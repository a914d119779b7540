"""Shared by the clients of OpenAI-compatible servers (transcription, notes): addresses and Retry-After."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit


def http_base(base_url: str) -> str | None:
    """The address without a trailing slash when it is a usable http(s) URL, else None."""
    base = base_url.strip().rstrip("/")
    parts = urlsplit(base)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # a port that is not a number
        valid = False
    return base if valid else None


def display_host(url: str) -> str:
    """Host and port only, for messages and logs: credentials in the URL must never reach them."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or invalid."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
