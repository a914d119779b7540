"""What the window's controllers need from the sessions list: to read it again, now or soon."""

from __future__ import annotations

from typing import Protocol


class SessionsList(Protocol):
    async def refresh(self) -> None: ...

    def schedule_refresh(self) -> None: ...
