"""Voice-activity detection with the Silero model that ships inside faster-whisper.

Speech probabilities are computed once per recording (in blocks, so progress advances and cancellation is
prompt) and then turned into speech regions twice: loose regions for transcription and tight ones for
diarization. The region logic follows faster-whisper's own ``get_speech_timestamps``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.errors import Cancelled, ModelError
from tbdesktop.engine.types import CancelCheck

SAMPLE_RATE = 16000
WINDOW = 512  # samples per probability (32 ms)
CONTEXT = 64
BLOCK_WINDOWS = 1024  # ~33 s of audio per model call: as fast as 4096 and 120 MB less at the peak (60-min file)

Region = tuple[float, float]


@dataclass(frozen=True)
class VadParams:
    threshold: float = 0.5
    min_speech_ms: int = 0
    max_speech_s: float = math.inf
    min_silence_ms: int = 2000
    speech_pad_ms: int = 400


# What faster-whisper's batched transcription uses: ≤ 30 s pieces that pack into 30 s windows.
ASR_PARAMS = VadParams(max_speech_s=30.0, min_silence_ms=160, speech_pad_ms=400)
# Tight regions for speaker embeddings: a 0.1 s pause splits turns, little padding into silence.
DIARIZATION_PARAMS = VadParams(threshold=0.4, min_silence_ms=100, speech_pad_ms=30, min_speech_ms=150)


class SileroVad:
    """The ONNX Silero model, one thread; loaded once per process."""

    def __init__(self) -> None:
        try:
            import onnxruntime
            from faster_whisper.utils import get_assets_path
        except ImportError as exc:  # pragma: no cover - both are hard dependencies
            raise ModelError("The voice-activity model is not installed.") from exc
        path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                path, providers=["CPUExecutionProvider"], sess_options=opts
            )
        except Exception as exc:
            raise ModelError("The voice-activity model could not be loaded.") from exc

    def probabilities(
        self,
        audio: npt.NDArray[np.float32],
        *,
        on_fraction: Callable[[float], None] | None = None,
        should_cancel: CancelCheck | None = None,
        threads: int = 1,
    ) -> npt.NDArray[np.float32]:
        """Speech probability for every 32 ms window of ``audio``.

        With ``threads`` > 1 a long recording is cut into that many parts (at block boundaries) whose
        model state starts fresh; the model settles within a few windows, far from any speech boundary.
        """
        n = int(audio.shape[0])
        n_windows = n // WINDOW + 1
        probs = np.empty(n_windows, dtype=np.float32)
        blocks = list(range(0, n_windows, BLOCK_WINDOWS))
        parts = max(1, min(threads, len(blocks) // 2))
        if parts == 1:
            self._run(audio, probs, 0, n_windows, on_fraction, should_cancel)
            return probs
        from concurrent.futures import ThreadPoolExecutor

        bounds = [blocks[i * len(blocks) // parts] for i in range(parts)] + [n_windows]
        done = [0] * parts

        def part(i: int) -> None:
            def fraction(f: float, _i: int = i) -> None:
                done[_i] = int(f * (bounds[_i + 1] - bounds[_i]))
                if on_fraction is not None and _i == 0:
                    on_fraction(sum(done) / n_windows)

            self._run(audio, probs, bounds[i], bounds[i + 1], fraction, should_cancel)

        with ThreadPoolExecutor(parts, thread_name_prefix="vad") as pool:
            for future in [pool.submit(part, i) for i in range(parts)]:
                future.result()
        if on_fraction is not None:
            on_fraction(1.0)
        return probs

    def _run(
        self,
        audio: npt.NDArray[np.float32],
        probs: npt.NDArray[np.float32],
        start_window: int,
        end_window: int,
        on_fraction: Callable[[float], None] | None,
        should_cancel: CancelCheck | None,
    ) -> None:
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        previous_tail = np.zeros(CONTEXT, dtype=np.float32)
        if start_window > 0:
            previous_tail = np.asarray(audio[start_window * WINDOW - CONTEXT : start_window * WINDOW], np.float32)
        for first in range(start_window, end_window, BLOCK_WINDOWS):
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            last = min(first + BLOCK_WINDOWS, end_window)
            block = np.zeros((last - first) * WINDOW, dtype=np.float32)
            piece = audio[first * WINDOW : last * WINDOW]
            block[: piece.shape[0]] = piece
            windows = block.reshape(-1, WINDOW)
            context = np.empty((windows.shape[0], CONTEXT), dtype=np.float32)
            context[0] = previous_tail
            context[1:] = windows[:-1, -CONTEXT:]
            previous_tail = windows[-1, -CONTEXT:].copy()
            batch = np.concatenate([context, windows], axis=1)
            out, h, c = self._session.run(None, {"input": batch, "h": h, "c": c})
            probs[first:last] = np.asarray(out, dtype=np.float32).reshape(-1)[: last - first]
            if on_fraction is not None:
                on_fraction((last - start_window) / (end_window - start_window))


def speech_regions(probs: npt.NDArray[np.float32], n_samples: int, params: VadParams) -> list[Region]:
    """Speech regions in seconds from window probabilities (the Silero/faster-whisper hysteresis rules)."""
    sr = SAMPLE_RATE
    threshold = params.threshold
    neg_threshold = max(threshold - 0.15, 0.01)
    min_speech = sr * params.min_speech_ms / 1000
    pad = sr * params.speech_pad_ms / 1000
    max_speech = sr * params.max_speech_s - WINDOW - 2 * pad
    min_silence = sr * params.min_silence_ms / 1000
    min_silence_at_max = sr * 98 / 1000

    triggered = False
    speeches: list[dict[str, float]] = []
    current: dict[str, float] = {}
    temp_end = 0.0
    prev_end = next_start = 0.0
    for i, p in enumerate(probs.tolist()):
        pos = float(WINDOW * i)
        if p >= threshold and temp_end:
            temp_end = 0.0
            if next_start < prev_end:
                next_start = pos
        if p >= threshold and not triggered:
            triggered = True
            current = {"start": pos}
            continue
        if triggered and pos - current["start"] > max_speech:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current = {"start": next_start}
                prev_end = next_start = temp_end = 0.0
            else:
                current["end"] = pos
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0.0
                triggered = False
                continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = pos
            if pos - temp_end > min_silence_at_max:
                prev_end = temp_end
            if pos - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0.0
            triggered = False
    if current and n_samples - current["start"] > min_speech:
        current["end"] = float(n_samples)
        speeches.append(current)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = max(0.0, speech["start"] - pad)
        if i != len(speeches) - 1:
            gap = speeches[i + 1]["start"] - speech["end"]
            if gap < 2 * pad:
                speech["end"] += gap // 2
                speeches[i + 1]["start"] = max(0.0, speeches[i + 1]["start"] - gap // 2)
            else:
                speech["end"] = min(float(n_samples), speech["end"] + pad)
                speeches[i + 1]["start"] = max(0.0, speeches[i + 1]["start"] - pad)
        else:
            speech["end"] = min(float(n_samples), speech["end"] + pad)
    return [(s["start"] / sr, s["end"] / sr) for s in speeches if s["end"] > s["start"]]


def speech_seconds(regions: list[Region]) -> float:
    return float(sum(end - start for start, end in regions))
