"""Speech recognition backends behind one protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.types import CancelCheck, ProgressCallback, TranscriptResult

DEFAULT_SPEAKER = "SPEAKER_00"


class Transcriber(Protocol):
    """Turns 16 kHz mono float32 audio into timed segments with word timestamps.

    ``regions`` are the speech regions ``(start_s, end_s)`` found by the voice-activity detector: a backend
    transcribes only those (silence is skipped, so silence-only audio gives no segments). ``None`` means the
    backend finds speech itself. Timestamps are always relative to the start of ``audio``. Progress is reported
    as stage ``"transcribing"`` at least every two seconds; ``should_cancel`` is polled as often.
    """

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        regions: Sequence[tuple[float, float]] | None = None,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> TranscriptResult: ...


__all__ = ["DEFAULT_SPEAKER", "Transcriber"]
