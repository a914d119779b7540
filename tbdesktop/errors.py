"""One error family: every error a user can see carries a message written for them."""

from __future__ import annotations


class TBError(Exception):
    """An error with a user-facing message (shown in a toast, dialog or CLI error line)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(TBError):
    pass


class ValidationError(TBError):
    pass


class DuplicateRecordingError(ValidationError):
    """The same recording (same content) was imported before: ``existing_id`` is that session."""

    def __init__(self, message: str, existing_id: object) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class PermissionDeniedError(TBError):
    pass
