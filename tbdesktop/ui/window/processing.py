"""What the window and its controllers need from the processing runner (``services.processing``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from tbdesktop.services.dto import ProgressEvent


class Processing(Protocol):
    def add_listener(self, listener: Callable[[ProgressEvent], None]) -> Callable[[], None]: ...

    def wake(self) -> None: ...

    async def cancel(self, session_id: uuid.UUID) -> bool: ...
