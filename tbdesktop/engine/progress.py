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
    left counts down towards it between steps. The one estimator of the engine's stages."""

    def __init__(self, started: float | None = None, *, cap: float = 0.999, min_fraction: float = 0.0) -> None:
        self.started = time.perf_counter() if started is None else started
        self.cap = cap
        self.min_fraction = min_fraction  # below it, too little is measured to say how long is left
        self.fraction = 0.0
        self._finish_at: float | None = None

    def advance_to(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(fraction, self.cap))
        if self.fraction > 0 and self.fraction >= self.min_fraction:
            self._finish_at = self.started + (time.perf_counter() - self.started) / self.fraction

    def eta(self) -> float | None:
        if self._finish_at is None:
            return None
        return max(self._finish_at - time.perf_counter(), 0.0)
