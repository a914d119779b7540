"""Pure processing engine: audio in, timed transcript out. Imports nothing else from tbdesktop."""

from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled, EngineError, ModelError
from tbdesktop.engine.types import (
    AudioInfo,
    CancelCheck,
    PipelineResult,
    ProgressCallback,
    Segment,
    TranscriptResult,
    Word,
)

__all__ = [
    "AudioDecodeError",
    "AudioInfo",
    "AudioTooLongError",
    "CancelCheck",
    "Cancelled",
    "EngineError",
    "ModelError",
    "PipelineResult",
    "ProgressCallback",
    "Segment",
    "TranscriptResult",
    "Word",
]
