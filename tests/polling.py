"""Waiting for a condition from a thread a test does not own (a model's, a server's, a pipeline's), and counting
the progress reports that were heartbeats."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def poll(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether ``predicate`` came to hold within ``timeout`` seconds (never raises: safe on any thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def heartbeats(events: Sequence[tuple[str, float, float | None]]) -> int:
    """Reports that repeat the fraction before them: sent while work ran, not for a step that ended."""
    seen = list(events)
    return sum(1 for before, after in zip(seen, seen[1:], strict=False) if after[1] == before[1])
