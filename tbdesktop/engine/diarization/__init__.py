"""Speaker diarization backends behind one protocol: who spoke when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.types import CancelCheck, DiarizationResult, ProgressCallback

STAGE = "diarizing"
MIN_SPEAKERS = 1
MAX_SPEAKERS = 6

Region = tuple[float, float]
"""A speech region ``(start_s, end_s)`` found by the voice-activity detector."""


class Diarizer(Protocol):
    """Splits 16 kHz mono float32 audio into exclusive speaker turns.

    ``regions`` are the speech regions (from VAD) to look at; ``None`` means the backend finds speech itself.
    ``num_speakers`` fixes the count when known; otherwise it is chosen between ``min_speakers`` and
    ``max_speakers``, and ``speakers_hint`` (2 for an individual session, 3 for couples, …) breaks close calls.
    Progress is reported as stage ``"diarizing"``; ``should_cancel`` is polled at least every couple of seconds.
    """

    def diarize(
        self,
        audio: npt.NDArray[np.float32],
        *,
        regions: Sequence[Region] | None = None,
        num_speakers: int | None = None,
        min_speakers: int = MIN_SPEAKERS,
        max_speakers: int = MAX_SPEAKERS,
        speakers_hint: int | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> DiarizationResult: ...


__all__ = ["MAX_SPEAKERS", "MIN_SPEAKERS", "STAGE", "Diarizer", "Region"]
