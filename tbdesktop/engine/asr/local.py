"""Offline transcription with faster-whisper (CTranslate2)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.asr import DEFAULT_SPEAKER
from tbdesktop.engine.errors import Cancelled, EngineError, ModelError
from tbdesktop.engine.types import CancelCheck, ProgressCallback, Segment, TranscriptResult, Word

log = logging.getLogger(__name__)

STAGE = "transcribing"
HEARTBEAT_S = 2.0  # progress is reported at least this often, even inside a long window
SAMPLE_RATE = 16000


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when CTranslate2 sees a GPU, else ``cpu``."""
    if device != "auto":
        return device
    import ctranslate2

    try:
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # a broken CUDA driver must not stop CPU transcription
        return "cpu"


def resolve_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class LocalTranscriber:
    """A faster-whisper model loaded once and reused for every recording."""

    def __init__(
        self,
        model_path: Path,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
    ) -> None:
        # Never reach for the network: the model folder is local and complete.
        os.environ["HF_HUB_OFFLINE"] = "1"
        from faster_whisper import WhisperModel

        self.model_path = Path(model_path)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device)
        started = time.perf_counter()
        try:
            self._model: Any = WhisperModel(
                str(self.model_path),
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
        except Exception as exc:
            log.error(
                "model load failed",
                extra={"device": self.device, "compute": self.compute_type, "error_type": type(exc).__name__},
            )
            raise ModelError(
                f"The speech model could not be loaded on {self.device.upper()} ({type(exc).__name__})."
            ) from exc
        self.load_seconds = time.perf_counter() - started
        log.info(
            "model loaded",
            extra={"device": self.device, "compute": self.compute_type, "s": round(self.load_seconds, 3)},
        )

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> TranscriptResult:
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        duration = audio.shape[0] / SAMPLE_RATE
        _check_cancel(should_cancel)
        _report(on_progress, 0.0, None)
        started = time.perf_counter()

        def produce(emit: Callable[[str, Any], None], stop: threading.Event) -> None:
            raw_segments, info = self._model.transcribe(
                audio,
                language=language,
                vad_filter=True,
                word_timestamps=True,
                beam_size=1,
                condition_on_previous_text=False,
            )
            emit("info", info)
            try:
                for raw in raw_segments:
                    emit("segment", raw)
                    if stop.is_set():
                        return
            finally:
                raw_segments.close()

        info: Any = None
        segments: list[Segment] = []
        tracker = _ProgressTracker(duration, started, on_progress)
        try:
            for kind, payload in _run_in_background(produce, should_cancel, tracker.heartbeat):
                if kind == "info":
                    info = payload
                else:
                    segment = _convert(payload, duration)
                    if segment is not None:
                        segments.append(segment)
                        tracker.advance(segment.end)
        except EngineError:
            raise
        except Exception as exc:
            log.error("transcription failed", extra={"device": self.device, "error_type": type(exc).__name__})
            raise ModelError(f"The speech model failed while transcribing ({type(exc).__name__}).") from exc
        _report(on_progress, 1.0, 0.0)
        log.info(
            "transcribed",
            extra={
                "audio_s": round(duration, 2),
                "speech_s": round(float(info.duration_after_vad), 2),
                "segments": len(segments),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return TranscriptResult(
            language=str(info.language),
            language_probability=float(info.language_probability) if segments else 0.0,
            segments=tuple(segments),
        )


class _ProgressTracker:
    """Turns segment end times into fractions and an ETA from the speed measured so far."""

    def __init__(self, duration: float, started: float, on_progress: ProgressCallback | None) -> None:
        self._duration = duration
        self._started = started
        self._on_progress = on_progress
        self.fraction = 0.0
        self._finish_at: float | None = None

    def advance(self, position_s: float) -> None:
        if self._duration <= 0:
            return
        self.fraction = max(self.fraction, min(position_s / self._duration, 0.999))
        elapsed = time.perf_counter() - self._started
        if self.fraction > 0:
            self._finish_at = self._started + elapsed / self.fraction
        self._emit()

    def heartbeat(self) -> None:
        self._emit()

    def _emit(self) -> None:
        eta = None if self._finish_at is None else max(self._finish_at - time.perf_counter(), 0.0)
        _report(self._on_progress, self.fraction, eta)


_Producer = Callable[[Callable[[str, Any], None], threading.Event], None]


def _run_in_background(
    produce: _Producer, should_cancel: CancelCheck | None, heartbeat: Callable[[], None]
) -> Iterator[tuple[str, Any]]:
    """Run the blocking model work on a helper thread so the caller keeps reporting and can cancel.

    A cancelled run returns at once; the helper stops at the model's next segment boundary.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def target() -> None:
        try:
            produce(lambda kind, payload: items.put((kind, payload)), stop)
        except BaseException as exc:  # handed to the caller's thread
            items.put(("error", exc))
        else:
            items.put(("done", None))

    worker = threading.Thread(target=target, name="whisper-transcribe", daemon=True)
    worker.start()
    last_beat = time.monotonic()
    try:
        while True:
            _check_cancel(should_cancel)
            try:
                kind, payload = items.get(timeout=HEARTBEAT_S / 4)
            except queue.Empty:
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    heartbeat()
                    last_beat = time.monotonic()
                continue
            if kind == "done":
                break
            if kind == "error":
                raise payload
            yield kind, payload
            last_beat = time.monotonic()
        _check_cancel(should_cancel)
    finally:
        stop.set()


def _convert(raw: Any, duration: float) -> Segment | None:
    text = str(raw.text).strip()
    if not text:
        return None
    start = _clamp(float(raw.start), 0.0, duration)
    end = _clamp(float(raw.end), start, duration)
    words: list[Word] = []
    previous_start = start
    for w in raw.words or ():
        w_start = _clamp(float(w.start), previous_start, end)
        w_end = _clamp(float(w.end), w_start, end)
        words.append(Word(start=w_start, end=w_end, word=str(w.word), probability=float(w.probability)))
        previous_start = w_start
    return Segment(start=start, end=end, text=text, speaker=DEFAULT_SPEAKER, words=tuple(words))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


def _check_cancel(should_cancel: CancelCheck | None) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled()


def _report(on_progress: ProgressCallback | None, fraction: float, eta: float | None) -> None:
    if on_progress is not None:
        on_progress(STAGE, fraction, eta)
