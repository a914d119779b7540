"""Offline transcription with faster-whisper (CTranslate2)."""

from __future__ import annotations

import bisect
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.asr import DEFAULT_SPEAKER
from tbdesktop.engine.errors import EngineError, ModelError
from tbdesktop.engine.progress import MeasuredEta, reporter
from tbdesktop.engine.progress import check_cancel as _check_cancel
from tbdesktop.engine.types import CancelCheck, ProgressCallback, Segment, TranscriptResult, Word

log = logging.getLogger(__name__)

STAGE = "transcribing"
_report = reporter(STAGE)
HEARTBEAT_S = 2.0  # progress is reported at least this often, even inside a long window
SAMPLE_RATE = 16000
MAX_WINDOW_S = 30.0  # Whisper's window
GROUP_WINDOWS = 32  # windows per model call: bounds memory for long recordings and keeps progress moving
# Batch 0 = automatic: 8 windows per call on a GPU; 1 per model replica on a CPU, where the beam already fills
# the cores and each extra window in a batch costs ~180 MB of cross-attention cache at beam 5 while being no
# faster (ADR 0005; `make bench`).
DEFAULT_BATCH_SIZE = 0
DEFAULT_BEAM_SIZE = 5
MAX_PARALLEL = 4
COMPRESSION_RATIO_LIMIT = 2.4  # above it a window's text is a repetition loop and is decoded again


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
        batch_size: int = DEFAULT_BATCH_SIZE,
        beam_size: int = DEFAULT_BEAM_SIZE,
        parallel: int = 0,
    ) -> None:
        # Never reach for the network: the model folder is local and complete.
        os.environ["HF_HUB_OFFLINE"] = "1"
        from faster_whisper import WhisperModel

        self.model_path = Path(model_path)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device)
        # On a CPU, several model replicas with one thread each decode windows side by side: small decoder
        # steps do not spread well over threads, so this beats one replica using every core (ADR 0005).
        cores = cpu_threads or os.cpu_count() or 1
        self.parallel = parallel or (1 if self.device == "cuda" else max(1, min(cores, MAX_PARALLEL)))
        threads_each = max(1, cores // self.parallel) if self.device == "cpu" else cpu_threads
        started = time.perf_counter()
        try:
            self._model: Any = WhisperModel(
                str(self.model_path),
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=threads_each,
                num_workers=self.parallel,
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
        from faster_whisper import BatchedInferencePipeline

        self._batched: Any = BatchedInferencePipeline(model=self._model)
        self.batch_size = int(batch_size) if batch_size > 0 else (8 if self.device == "cuda" else 1)
        self.beam_size = int(beam_size) if beam_size > 0 else DEFAULT_BEAM_SIZE
        self.load_seconds = time.perf_counter() - started
        log.info(
            "model loaded",
            extra={"device": self.device, "compute": self.compute_type, "s": round(self.load_seconds, 3)},
        )

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        regions: Sequence[tuple[float, float]] | None = None,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> TranscriptResult:
        if isinstance(audio, np.ndarray):  # a SampleFile is read window by window instead
            audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = audio.shape[0] / SAMPLE_RATE
        _check_cancel(should_cancel)
        _report(on_progress, 0.0, None)
        started = time.perf_counter()
        if regions is None:
            from tbdesktop.engine import vad

            probs = vad.SileroVad().probabilities(np.asarray(audio), should_cancel=should_cancel, threads=2)
            regions = vad.speech_regions(probs, audio.shape[0], vad.ASR_PARAMS)
        windows = pack_windows(regions, duration)
        speech_s = sum(w.length for w in windows)
        if not windows:
            _report(on_progress, 1.0, 0.0)
            return TranscriptResult(language=language or "", language_probability=0.0, segments=())

        tracker = _ProgressTracker(speech_s, started, on_progress)
        segments: list[Segment] = []
        detected: str | None = language
        probability = 1.0 if language else 0.0
        done_s = 0.0
        try:
            if detected is None:
                packed, _clips, _pieces = _pack_group(audio, windows[:1])
                detected, probability, _all = self._model.detect_language(audio=packed)
                detected = str(detected)
            for group_start in range(0, len(windows), GROUP_WINDOWS):
                group = windows[group_start : group_start + GROUP_WINDOWS]
                # One share of the group per model replica, each packed on its own (contiguous windows).
                shares = [s for s in _split(group, self.parallel) if s]
                packs = [_pack_group(audio, share) for share in shares]
                position = [0.0] * len(packs)
                producers = [
                    self._producer(packed, clips, index, detected) for index, (packed, clips, _) in enumerate(packs)
                ]
                for index, raw in _run_in_background(producers, should_cancel, tracker.heartbeat):
                    pieces = packs[index][2]
                    segment = _convert(raw, pieces, duration)
                    if segment is not None:
                        segments.append(segment)
                    position[index] = max(position[index], min(float(raw.end), pieces.total))
                    tracker.advance(done_s + sum(position))
                done_s += sum(p[2].total for p in packs)
                tracker.advance(done_s)
        except EngineError:
            raise
        except Exception as exc:
            log.error("transcription failed", extra={"device": self.device, "error_type": type(exc).__name__})
            raise ModelError(f"The speech model failed while transcribing ({type(exc).__name__}).") from exc
        segments.sort(key=lambda seg: (seg.start, seg.end))
        _report(on_progress, 1.0, 0.0)
        log.info(
            "transcribed",
            extra={
                "audio_s": round(duration, 2),
                "speech_s": round(speech_s, 2),
                "windows": len(windows),
                "segments": len(segments),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return TranscriptResult(
            language=detected or "",
            language_probability=probability if segments else 0.0,
            segments=tuple(segments),
        )

    def _producer(
        self, packed: npt.NDArray[np.float32], clips: list[dict[str, float]], index: int, language: str | None
    ) -> _Producer:
        def produce(emit: Callable[[int, Any], None], stop: threading.Event) -> None:
            raw_segments, _info = self._batched.transcribe(
                packed,
                language=language,
                clip_timestamps=clips,
                batch_size=self.batch_size,
                beam_size=self.beam_size,
                word_timestamps=True,
                without_timestamps=True,
            )
            for raw in raw_segments:
                if _degenerate(raw):
                    # A repetition loop ("no no no …"): decode that window again on its own, as faster-whisper
                    # does sequentially, with timestamps and the temperature fallback that breaks such loops.
                    for fixed in self._redecode(packed, clips, raw, language):
                        emit(index, fixed)
                else:
                    emit(index, raw)
                if stop.is_set():
                    return

        return produce

    def _redecode(
        self, packed: npt.NDArray[np.float32], clips: list[dict[str, float]], raw: Any, language: str | None
    ) -> list[Any]:
        """The window that produced ``raw``, decoded again alone; times stay in the packed audio's clock."""
        import dataclasses

        offset = float(raw.seek) / 100.0  # faster-whisper's seek counts 10 ms frames from the window start
        clip = min(clips, key=lambda c: abs(c["start"] - offset))
        first, last = int(round(clip["start"] * SAMPLE_RATE)), int(round(clip["end"] * SAMPLE_RATE))
        segments, _info = self._model.transcribe(
            packed[first:last],
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            compression_ratio_threshold=COMPRESSION_RATIO_LIMIT,
        )
        shift = clip["start"]
        out = []
        for segment in segments:
            if _degenerate(segment):  # still looping after every temperature: drop rather than invent
                log.info("dropped a repeating window", extra={"seconds": round(clip["end"] - clip["start"], 1)})
                continue
            words = [dataclasses.replace(w, start=w.start + shift, end=w.end + shift) for w in segment.words or ()]
            out.append(dataclasses.replace(segment, start=segment.start + shift, end=segment.end + shift, words=words))
        log.info("re-decoded a repeating window", extra={"segments": len(out)})
        return out


def _degenerate(raw: Any) -> bool:
    """Whisper's repetition loop: text that compresses too well (faster-whisper's own 2.4 threshold)."""
    ratio = getattr(raw, "compression_ratio", None)
    if ratio is None:
        from faster_whisper.transcribe import get_compression_ratio

        ratio = get_compression_ratio(str(raw.text))
    return float(ratio) > COMPRESSION_RATIO_LIMIT


def _split(windows: list[Window], parts: int) -> list[list[Window]]:
    """``parts`` contiguous shares of about equal speech."""
    if parts <= 1 or len(windows) <= 1:
        return [windows]
    total = sum(w.length for w in windows)
    shares: list[list[Window]] = [[] for _ in range(parts)]
    running = 0.0
    for window in windows:
        index = min(int(running / total * parts), parts - 1) if total > 0 else 0
        shares[index].append(window)
        running += window.length
    return shares


@dataclass(frozen=True)
class Window:
    """Speech pieces (start_s, end_s) of the recording decoded together as one ≤ 30 s model window."""

    pieces: tuple[tuple[float, float], ...]

    @property
    def length(self) -> float:
        return sum(end - start for start, end in self.pieces)


def pack_windows(
    regions: Sequence[tuple[float, float]], duration: float, max_window_s: float = MAX_WINDOW_S
) -> list[Window]:
    """Pack speech regions, in order and without the silence between them, into windows of ≤ 30 s."""
    windows: list[Window] = []
    current: list[tuple[float, float]] = []
    total = 0.0
    for raw_start, raw_end in sorted(regions):
        start, end = max(0.0, float(raw_start)), min(float(raw_end), duration)
        if end - start <= 0.01:
            continue
        # a region longer than a window is cut into equal pieces (the VAD keeps regions under 30 s anyway)
        count = int(np.ceil((end - start) / max_window_s))
        step = (end - start) / count
        for i in range(count):
            piece = (start + i * step, end if i == count - 1 else start + (i + 1) * step)
            length = piece[1] - piece[0]
            if current and total + length > max_window_s:
                windows.append(Window(tuple(current)))
                current, total = [], 0.0
            current.append(piece)
            total += length
    if current:
        windows.append(Window(tuple(current)))
    return windows


class _PieceMap:
    """Maps times in the packed (silence-free) audio back to times in the recording."""

    def __init__(self) -> None:
        self.packed_starts: list[float] = []
        self.origins: list[float] = []
        self.lengths: list[float] = []
        self.total = 0.0

    def add(self, origin: float, length: float) -> None:
        self.packed_starts.append(self.total)
        self.origins.append(origin)
        self.lengths.append(length)
        self.total += length

    def to_original(self, t: float, *, is_end: bool = False) -> float:
        if not self.packed_starts:
            return t
        if is_end:  # an end exactly on a boundary belongs to the piece before it
            index = bisect.bisect_left(self.packed_starts, t) - 1
        else:
            index = bisect.bisect_right(self.packed_starts, t) - 1
        index = min(max(index, 0), len(self.packed_starts) - 1)
        offset = min(max(t - self.packed_starts[index], 0.0), self.lengths[index])
        return self.origins[index] + offset


def _pack_group(
    audio: npt.NDArray[np.float32], group: list[Window]
) -> tuple[npt.NDArray[np.float32], list[dict[str, float]], _PieceMap]:
    pieces = _PieceMap()
    sample_spans: list[tuple[int, int]] = []
    clips: list[dict[str, float]] = []
    cursor = 0
    for window in group:
        window_start = cursor
        for start, end in window.pieces:
            a, b = int(round(start * SAMPLE_RATE)), int(round(end * SAMPLE_RATE))
            b = min(b, audio.shape[0])
            if b <= a:
                continue
            sample_spans.append((a, b))
            pieces.add(a / SAMPLE_RATE, (b - a) / SAMPLE_RATE)
            cursor += b - a
        if cursor > window_start:
            clips.append({"start": window_start / SAMPLE_RATE, "end": cursor / SAMPLE_RATE})
    packed = np.empty(cursor, dtype=np.float32)
    position = 0
    for a, b in sample_spans:
        packed[position : position + b - a] = audio[a:b]
        position += b - a
    return packed, clips, pieces


class _ProgressTracker:
    """Turns segment end times into fractions and an ETA from the speed measured so far."""

    def __init__(self, duration: float, started: float, on_progress: ProgressCallback | None) -> None:
        self._duration = duration
        self._on_progress = on_progress
        self._eta = MeasuredEta(started)

    @property
    def fraction(self) -> float:
        return self._eta.fraction

    def advance(self, position_s: float) -> None:
        if self._duration <= 0:
            return
        self._eta.advance_to(position_s / self._duration)
        self._emit()

    def heartbeat(self) -> None:
        self._emit()

    def _emit(self) -> None:
        _report(self._on_progress, self._eta.fraction, self._eta.eta())


_Producer = Callable[[Callable[[int, Any], None], threading.Event], None]


def _run_in_background(
    producers: list[_Producer], should_cancel: CancelCheck | None, heartbeat: Callable[[], None]
) -> Iterator[tuple[int, Any]]:
    """Run the blocking model work on helper threads so the caller keeps reporting and can cancel.

    Yields what the producers emit, as it comes. A cancelled run returns at once; the helpers stop at the
    model's next segment boundary.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def target(produce: _Producer) -> None:
        try:
            produce(lambda index, payload: items.put(("item", (index, payload))), stop)
        except BaseException as exc:  # handed to the caller's thread
            items.put(("error", exc))
        else:
            items.put(("done", None))

    for n, produce in enumerate(producers):
        threading.Thread(target=target, args=(produce,), name=f"whisper-transcribe-{n}", daemon=True).start()
    running = len(producers)
    last_beat = time.monotonic()
    try:
        while running:
            _check_cancel(should_cancel)
            try:
                kind, payload = items.get(timeout=HEARTBEAT_S / 4)
            except queue.Empty:
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    heartbeat()
                    last_beat = time.monotonic()
                continue
            if kind == "done":
                running -= 1
                continue
            if kind == "error":
                raise payload
            yield payload
            last_beat = time.monotonic()
        _check_cancel(should_cancel)
    finally:
        stop.set()


def _convert(raw: Any, pieces: _PieceMap, duration: float) -> Segment | None:
    text = str(raw.text).strip()
    if not text:
        return None
    start = _clamp(pieces.to_original(float(raw.start)), 0.0, duration)
    end = _clamp(pieces.to_original(float(raw.end), is_end=True), start, duration)
    words: list[Word] = []
    previous_start = start
    for w in raw.words or ():
        w_start = _clamp(pieces.to_original(float(w.start)), previous_start, end)
        w_end = _clamp(pieces.to_original(float(w.end), is_end=True), w_start, end)
        words.append(Word(start=w_start, end=w_end, word=str(w.word), probability=float(w.probability)))
        previous_start = w_start
    if words:
        start, end = min(start, words[0].start), max(end, words[-1].end)
    return Segment(start=start, end=end, text=text, speaker=DEFAULT_SPEAKER, words=tuple(words))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))
