"""Waiting for a condition, never for a length of time: from a thread a test does not own (a model's, a server's,
a pipeline's), from a test's own thread, or on an asyncio loop; and counting the progress reports that were
heartbeats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence


def poll(predicate: Callable[[], object], timeout: float, interval: float = 0.005) -> bool:
    """Whether ``predicate`` came to hold within ``timeout`` seconds (never raises: safe on any thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "", interval: float = 0.005) -> None:
    """Return once ``predicate`` holds; fail naming ``what`` once ``timeout`` seconds have passed."""
    if not poll(predicate, timeout, interval):
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")


async def until_async(
    predicate: Callable[[], object], timeout: float = 30.0, what: str = "", interval: float = 0.02
) -> None:
    """``until`` for a coroutine: the loop runs on between checks."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        await asyncio.sleep(interval)


def heartbeats(events: Sequence[tuple[str, float, float | None]]) -> int:
    """Reports that repeat the fraction before them: sent while work ran, not for a step that ended."""
    seen = list(events)
    return sum(1 for before, after in zip(seen, seen[1:], strict=False) if after[1] == before[1])
