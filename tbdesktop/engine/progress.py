"""Progress and cancellation helpers shared by the engine's backends."""

from __future__ import annotations

import time
from collections.abc import Callable

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.types import CancelCheck, ProgressCallback

Reporter = Callable[[ProgressCallback | None, float, float | None], None]


def check_cancel(should_cancel: CancelCheck | None) -> None:
    """Raise ``Cancelled`` when the caller asked to stop."""
    if should_cancel is not None and should_cancel():
        raise Cancelled()


def reporter(stage: str) -> Reporter:
    """``report(on_progress, fraction, eta)`` for one stage; does nothing without a callback."""

    def report(on_progress: ProgressCallback | None, fraction: float, eta: float | None) -> None:
        if on_progress is not None:
            on_progress(stage, fraction, eta)

    return report


class MeasuredEta:
    """A stage's fraction done (never going back, capped below 1 until the stage ends) and its time left from the
    speed measured so far: at each step the finish is projected as ``started + elapsed / fraction``, and the time
    left counts down towards it between steps. Before the first measurement an ``expected_s`` duration (from the
    speed measured on earlier recordings) stands in. The one estimator of the engine's stages."""

    def __init__(
        self,
        started: float | None = None,
        *,
        cap: float = 0.999,
        min_fraction: float = 0.0,
        expected_s: float | None = None,
        between_cap: float = 0.97,
    ) -> None:
        self.started = time.perf_counter() if started is None else started
        self.cap = cap
        self.min_fraction = min_fraction  # below it, too little is measured to say how long is left
        self.expected_s = max(expected_s, 0.1) if expected_s is not None else None
        self.between_cap = between_cap  # the clock alone never carries the fraction past this
        self.fraction = 0.0
        self.done = False
        self._finish_at: float | None = None

    def advance_to(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(fraction, self.cap))
        if self.fraction > 0 and self.fraction >= self.min_fraction:
            self._finish_at = self.started + (time.perf_counter() - self.started) / self.fraction

    def finish(self) -> None:
        self.done, self.fraction = True, 1.0

    def eta(self) -> float | None:
        if self.done:
            return 0.0
        if self._finish_at is None:
            if self.expected_s is None:
                return None
            return max(self.started + self.expected_s - time.perf_counter(), 0.0)
        return max(self._finish_at - time.perf_counter(), 0.0)

    def estimate(self) -> tuple[float, float | None]:
        """The fraction to show now and the time left: between measurements the fraction moves on with the clock
        towards the projected (or expected) finish, so a long step does not look like a stall."""
        if self.done:
            return 1.0, 0.0
        finish = self._finish_at
        if finish is None and self.expected_s is not None:
            finish = self.started + self.expected_s
        if finish is None:
            return self.fraction, None
        now = time.perf_counter()
        total = finish - self.started
        by_clock = min((now - self.started) / total, self.between_cap) if total > 0 else 0.0
        return max(self.fraction, by_clock), max(finish - now, 0.0)
