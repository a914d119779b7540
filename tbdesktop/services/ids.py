"""Ids as users type them (CLI arguments) or as the GUI hands them over."""

from __future__ import annotations

import uuid

from tbdesktop.errors import NotFoundError


def parse_session_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError as exc:
        raise NotFoundError(f"'{value}' is not a session id.") from exc
