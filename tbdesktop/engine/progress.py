"""Progress and cancellation helpers shared by the engine's backends."""

from __future__ import annotations

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
