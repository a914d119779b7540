"""Addresses of OpenAI-compatible servers, as IT types them into the settings."""

from __future__ import annotations

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
