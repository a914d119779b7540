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
# Batch 0 = automatic: 8 windows per call on a GPU; on a CPU 4 per call for the greedy pass (a decoder step reads
# the whole decoder and its 51,865-word output layer whatever the batch, so a batch shares that cost: 6 windows on
# one thread decode in 3.7 s at 2 per call, 2.8 s at 6; its memory is held down by the workers' fixed mmap
# threshold, engine/workers.py) and 1 with an explicit beam (each extra window at beam 5 holds ~180 MB and is no
# faster) (ADR 0005; `make bench`).
DEFAULT_BATCH_SIZE = 0
CPU_GREEDY_BATCH_SIZE = 4
DEFAULT_BEAM_SIZE = 5
# Beam 0 = automatic: beam 5 on a GPU; on a CPU a greedy pass, and beam 5 again, from the same encoder output, for
# the windows it was unsure of (mean token log-probability below RETRY_LOGPROB: about 1 % of the windows of the
# realistic eval set, 10 % of the espeak bench's) or looped on. Realistic eval set: WER 6.4 % at beam 5, 6.2 % so.
RETRY_LOGPROB = -0.3
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
        beam_size: int = 0,
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
        cuda = self.device == "cuda"
        # retry_beam_size 0: every window is decoded once, at beam_size
        if beam_size > 0:
            self.beam_size, self.retry_beam_size = int(beam_size), 0
        else:
            self.beam_size, self.retry_beam_size = (DEFAULT_BEAM_SIZE, 0) if cuda else (1, DEFAULT_BEAM_SIZE)
        if batch_size > 0:
            self.batch_size = int(batch_size)
        else:
            self.batch_size = 8 if cuda else (CPU_GREEDY_BATCH_SIZE if self.beam_size == 1 else 1)
        if not cuda:
            tokenizer = self._model.hf_tokenizer
            self._model.model = _OneWindowAtATime(
                self._model.model, self.retry_beam_size, lambda ids: str(tokenizer.decode(ids))
            )
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
                self._emit_checked(packed, clips, raw, language, index, emit)
                if stop.is_set():
                    return

        return produce

    def _emit_checked(
        self,
        packed: npt.NDArray[np.float32],
        clips: list[dict[str, float]],
        raw: Any,
        language: str | None,
        index: int,
        emit: Callable[[int, Any], None],
    ) -> None:
        if _degenerate(raw):
            # A repetition loop ("no no no …"): decode that window again on its own, as faster-whisper does
            # sequentially, with timestamps and the temperature fallback that breaks such loops.
            for fixed in self._redecode(packed, clips, raw, language):
                emit(index, fixed)
        else:
            emit(index, raw)

    def _redecode(
        self, packed: npt.NDArray[np.float32], clips: list[dict[str, float]], raw: Any, language: str | None
    ) -> list[Any]:
        """The window that produced ``raw``, decoded again alone; times stay in the packed audio's clock."""
        import dataclasses

        clip = _clip_of(clips, raw)
        first, last = int(round(clip["start"] * SAMPLE_RATE)), int(round(clip["end"] * SAMPLE_RATE))
        segments, _info = self._model.transcribe(
            packed[first:last],
            language=language,
            beam_size=max(self.beam_size, self.retry_beam_size),
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


class _OneWindowAtATime:
    """The CTranslate2 Whisper model with its encoder and word alignment run one window at a time.

    On a CPU both cost more per window in a batch (10-minute file, one thread, 8 windows a batch: encoder +25 %,
    alignment +50 %), while greedy decoding is cheaper per window in a batch (-50 %): so windows are encoded
    and aligned alone and decoded together. Everything else is the model's own.
    """

    def __init__(self, model: Any, retry_beam_size: int = 0, decode: Callable[[list[int]], str] | None = None) -> None:
        self._model = model
        self.retry_beam_size = retry_beam_size
        self._decode = decode
        self.retried = 0  # windows decoded again with the beam, for the log

    def generate(self, features: Any, prompts: list[list[int]], *, beam_size: int = 1, **kwargs: Any) -> list[Any]:
        """The model's decoding; with a retry beam, a window the greedy pass was unsure of (mean log-probability
        per token below RETRY_LOGPROB) or looped on is decoded again with the beam from the same encoder output."""
        results = list(self._model.generate(features, prompts, beam_size=beam_size, **kwargs))
        if self.retry_beam_size <= beam_size or not kwargs.get("return_scores"):
            return results
        import ctranslate2

        length_penalty = float(kwargs.get("length_penalty", 1.0))
        unsure = [i for i, r in enumerate(results) if self._unsure(r, length_penalty)]
        if unsure:
            batch = np.asarray(features)
            for i in unsure:
                one = ctranslate2.StorageView.from_array(batch[i : i + 1])
                results[i] = self._model.generate(one, [prompts[i]], beam_size=self.retry_beam_size, **kwargs)[0]
            self.retried += len(unsure)
        return results

    def _unsure(self, result: Any, length_penalty: float) -> bool:
        if _avg_logprob(result, length_penalty) < RETRY_LOGPROB:
            return True
        if self._decode is None:
            return False
        from faster_whisper.transcribe import get_compression_ratio

        return float(get_compression_ratio(self._decode(result.sequences_ids[0]))) > COMPRESSION_RATIO_LIMIT

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        import ctranslate2

        batch = np.asarray(features)
        if batch.ndim != 3 or batch.shape[0] <= 1:
            return self._model.encode(features, to_cpu=to_cpu)
        outputs = [
            np.asarray(self._model.encode(ctranslate2.StorageView.from_array(batch[i : i + 1]), to_cpu=to_cpu))
            for i in range(batch.shape[0])
        ]
        return ctranslate2.StorageView.from_array(np.concatenate(outputs))

    def align(
        self, features: Any, start_sequence: list[int], text_tokens: list[list[int]], num_frames: Any, **kwargs: Any
    ) -> list[Any]:
        import ctranslate2

        if len(text_tokens) <= 1:
            return list(self._model.align(features, start_sequence, text_tokens, num_frames, **kwargs))
        batch = np.asarray(features)
        results: list[Any] = []
        for i, tokens in enumerate(text_tokens):
            frames = num_frames[i] if isinstance(num_frames, (list, tuple)) else num_frames
            one = ctranslate2.StorageView.from_array(batch[i : i + 1])
            results.extend(self._model.align(one, start_sequence, [tokens], [frames], **kwargs))
        return results


def _avg_logprob(result: Any, length_penalty: float) -> float:
    """faster-whisper's ``avg_logprob`` of a generation result (its score is length-normalised)."""
    length = len(result.sequences_ids[0])
    return float(result.scores[0]) * float(length**length_penalty) / (length + 1)


def _clip_of(clips: list[dict[str, float]], raw: Any) -> dict[str, float]:
    """The window (clip) of the packed audio that produced ``raw``."""
    offset = float(getattr(raw, "seek", 0)) / 100.0  # faster-whisper's seek counts 10 ms frames from the clip start
    return min(clips, key=lambda c: abs(c["start"] - offset))


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
