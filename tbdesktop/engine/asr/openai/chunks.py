"""Cutting a recording at silences into chunks for upload, and encoding them as WAV."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
WAV_HEADER_BYTES = 44
REGION_PAD_S = 0.2  # VAD edges can clip the first and last phoneme
LONG_GAP_S = 30.0  # a silence this long starts a new chunk: no dead air uploaded, none to hallucinate in
CUT_SEARCH_S = 30.0  # a cut goes at the quietest point within this many seconds of its ideal place
ENERGY_FRAME_S = 0.02
QUIET_SMOOTH_FRAMES = 5  # the quietest ~0.1 s, not a single quiet frame inside a word
SILENT_CHUNK_RMS = 1e-3  # about -60 dBFS: without VAD regions, such a chunk holds no speech worth sending


@dataclass(frozen=True)
class Chunk:
    """A stretch of the recording sent as one request; bounds are sample indices."""

    index: int
    start: int
    end: int

    @property
    def start_s(self) -> float:
        return self.start / SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE


def plan_chunks(
    audio: npt.NDArray[np.float32], regions: Sequence[tuple[float, float]] | None, max_samples: int
) -> list[Chunk]:
    """Cut the recording at silences into chunks of at most ``max_samples``.

    With VAD ``regions`` only (padded) speech and the short pauses between it are sent; without, the whole
    recording is cut at the quietest points and chunks of near-silence are left out.
    """
    n = int(audio.shape[0])
    spans = ([(0, n)] if n else []) if regions is None else _speech_spans(regions, n)
    pieces = [piece for start, end in spans for piece in _split_span(audio, start, end, max_samples)]
    groups: list[tuple[int, int]] = []
    long_gap = int(LONG_GAP_S * SAMPLE_RATE)
    for start, end in pieces:
        if groups and end - groups[-1][0] <= max_samples and start - groups[-1][1] <= long_gap:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    if regions is None:
        groups = [(s, e) for s, e in groups if float(np.sqrt(np.mean(np.square(audio[s:e])))) >= SILENT_CHUNK_RMS]
    return [Chunk(i, start, end) for i, (start, end) in enumerate(groups)]


def _speech_spans(regions: Sequence[tuple[float, float]], n: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for raw_start, raw_end in sorted((float(s), float(e)) for s, e in regions):
        if not (math.isfinite(raw_start) and math.isfinite(raw_end)) or raw_end <= raw_start:
            continue
        start = max(round((raw_start - REGION_PAD_S) * SAMPLE_RATE), 0)
        end = min(round((raw_end + REGION_PAD_S) * SAMPLE_RATE), n)
        if end <= start:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _split_span(audio: npt.NDArray[np.float32], start: int, end: int, max_samples: int) -> list[tuple[int, int]]:
    """Cut a stretch longer than a chunk into near-equal pieces (no tiny tail), each cut at a quiet point."""
    pieces: list[tuple[int, int]] = []
    reach = max(int(min(CUT_SEARCH_S * SAMPLE_RATE, max_samples / 4)), 1)
    while end - start > max_samples:
        target = start + (end - start) // math.ceil((end - start) / max_samples)
        cut = _quietest_point(audio, max(target - reach, start + 1), min(target + reach, start + max_samples))
        cut = min(max(cut, start + 1), start + max_samples)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _quietest_point(audio: npt.NDArray[np.float32], low: int, high: int) -> int:
    """The centre of the quietest short stretch in ``[low, high)``, by mean energy of 20 ms frames."""
    frame = int(ENERGY_FRAME_S * SAMPLE_RATE)
    frames = (high - low) // frame
    if frames < 1:
        return high
    energy = np.mean(np.square(audio[low : low + frames * frame].reshape(frames, frame), dtype=np.float64), axis=1)
    width = min(QUIET_SMOOTH_FRAMES, frames)
    smooth = np.convolve(energy, np.ones(width) / width, mode="valid")
    best = len(smooth) - 1 - int(np.argmin(smooth[::-1]))  # the latest of equals: longer chunks, fewer requests
    return low + (best + width // 2) * frame + frame // 2


def encode_wav(samples: npt.NDArray[np.float32]) -> bytes:
    """16 kHz mono 16-bit PCM WAV: every server decodes it, and its size is known before encoding."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)  # PCM, mono, 16-bit
    header = struct.pack("<4sI4s4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", len(fmt)) + fmt
    return header + struct.pack("<4sI", b"data", len(pcm)) + pcm
