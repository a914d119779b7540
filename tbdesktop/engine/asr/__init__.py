"""Speech recognition backends behind one protocol."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.types import CancelCheck, ProgressCallback, TranscriptResult

DEFAULT_SPEAKER = "SPEAKER_00"


class Transcriber(Protocol):
    """Turns 16 kHz mono float32 audio into timed segments with word timestamps."""

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> TranscriptResult: ...


__all__ = ["DEFAULT_SPEAKER", "Transcriber"]
