"""Errors raised by the processing engine; each carries a one-sentence, user-facing message."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine failure; ``message`` is safe to show to a therapist."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AudioDecodeError(EngineError):
    """The file is not audio, is empty, truncated, or cannot be decoded."""


class AudioTooLongError(EngineError):
    """The recording is longer than the configured limit."""

    def __init__(self, duration_s: float, limit_s: float, message: str | None = None) -> None:
        self.duration_s = duration_s
        self.limit_s = limit_s
        super().__init__(
            message
            or (f"The recording is {_fmt_duration(duration_s)} long, which is over the {_fmt_duration(limit_s)} limit.")
        )


class ModelError(EngineError):
    """A speech model is missing, corrupt, or cannot be loaded."""


class WorkerCrashedError(EngineError):
    """A transcription or diarization worker process died mid-recording (the job may be retried)."""

    def __init__(self, message: str = "A processing worker stopped unexpectedly.") -> None:
        super().__init__(message)


class Cancelled(EngineError):
    """Processing was cancelled by the user."""

    def __init__(self, message: str = "Processing was cancelled.") -> None:
        super().__init__(message)


def _fmt_duration(seconds: float) -> str:
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{seconds:.1f} s"


class RemoteServiceError(EngineError):
    """An OpenAI-compatible service could not be reached, refused the request, or kept failing."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
