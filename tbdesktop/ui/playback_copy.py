"""The decrypted copy of a recording the player reads, and who closes it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from tbdesktop.services.recording_vault import PlainCopy

Opener = Callable[[], Coroutine[Any, Any, PlainCopy]]


class OpenRecording:
    """The decrypted copy the player reads. Whoever lets go of it closes it (which removes the file); opening is
    counted by generation so a copy that arrives after the player moved on is closed at once."""

    def __init__(self) -> None:
        self.key: object | None = None
        self.copy: PlainCopy | None = None
        self.generation = 0
        self.opening = False
        self.dead = False

    def close(self) -> None:
        self.generation += 1
        self.opening = False
        self.key = None
        copy, self.copy = self.copy, None
        if copy is not None:
            copy.close()

    def destroyed(self) -> None:
        self.dead = True
        self.close()

    def __del__(self) -> None:
        self.close()
