"""What the writer thread does with each captured block: measure its level, mark the audio the device lost as
a gap of the right length (so the timing after it stays right), keep to the time limit, and write it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tbdesktop.services.recording.devices import CaptureFormat
from tbdesktop.services.recording.events import LevelReading
from tbdesktop.services.recording.journal import GAP_DROPPED, GAP_OVERFLOW, JournalWriter

MAX_OVERFLOW_GAP_S = 30.0  # a clock jump is not 10 minutes of lost audio
SILENCE_DBFS = -120.0


@dataclass(slots=True)
class Block:
    """One PortAudio block, copied on PortAudio's thread and handed to the writer."""

    generation: int  # which stream (a new one after a device change)
    data: bytes
    frames: int
    channels: int
    adc_time: float  # PortAudio's capture time of the first frame (0 when the host gives none)
    arrival: float  # time.monotonic() when the callback ran
    overflow: bool  # PortAudio says input was lost before this block
    paused: bool  # captured while paused: measured, not kept
    dropped_before: int  # frames the callback dropped because the writer fell behind


@dataclass
class _Timing:
    """Where a stream's blocks should fall in time, to measure what an overflow lost."""

    generation: int = -1
    start: float = 0.0
    frames: int = 0
    uses_adc: bool = True


@dataclass(frozen=True)
class BlockResult:
    level: LevelReading
    recorded: bool
    overflow_lost: int | None  # frames lost before this block when PortAudio flagged an overflow


def _dbfs(value: float) -> float:
    return max(SILENCE_DBFS, 20.0 * math.log10(value)) if value > 0 else SILENCE_DBFS


class Capture:
    """Counts and writes; owned by the writer thread."""

    def __init__(self, journal: JournalWriter, fmt: CaptureFormat, cap_frames: int) -> None:
        self.journal = journal
        self.fmt = fmt
        self.cap_frames = cap_frames
        self.frames = 0  # kept audio, gaps included: the recording's length so far
        self.gap_frames = 0
        self.overflows = 0
        self._timing = _Timing()

    @property
    def elapsed_s(self) -> float:
        return self.frames / self.fmt.sample_rate

    @property
    def at_limit(self) -> bool:
        return self.frames >= self.cap_frames

    def add(self, block: Block) -> BlockResult:
        samples = np.frombuffer(block.data, dtype="<i2")
        frames = len(samples) // block.channels
        samples = samples[: frames * block.channels].reshape(frames, block.channels)
        if block.channels < self.fmt.channels:  # a one-channel device standing in for a two-channel one
            samples = np.repeat(samples, self.fmt.channels, axis=1)
        overflow_lost = self._overflow_gap(block, frames)
        recorded = False
        if block.paused:
            overflow_lost = None  # nothing was being kept: no gap to mark
        else:
            if overflow_lost is not None:
                self.overflows += 1
            if block.dropped_before:
                self._gap(block.dropped_before, GAP_DROPPED)
            if overflow_lost:
                self._gap(overflow_lost, GAP_OVERFLOW)
            kept = samples[: max(0, min(frames, self.cap_frames - self.frames))]
            if len(kept):
                self.journal.audio(kept.tobytes())
                self.frames += len(kept)
            recorded = True
        return BlockResult(self._level(samples, block.paused), recorded, overflow_lost)

    def _gap(self, frames: int, reason: int) -> None:
        frames = max(0, min(frames, self.cap_frames - self.frames))
        if frames:
            self.journal.gap(frames, reason)
            self.frames += frames
            self.gap_frames += frames

    def _overflow_gap(self, block: Block, frames: int) -> int | None:
        """Frames the device lost before this block: PortAudio flags it, the block's timestamp says how many."""
        rate = self.fmt.sample_rate
        t = self._timing
        uses_adc = block.adc_time > 0 if t.generation != block.generation else t.uses_adc
        stamp = block.adc_time if uses_adc else block.arrival - frames / rate
        lost: int | None = None
        if t.generation != block.generation:
            self._timing = t = _Timing(block.generation, stamp, 0, uses_adc)
            if block.overflow:
                lost = 0  # nothing to measure against yet
        elif block.overflow:
            expected = t.start + (t.frames + block.dropped_before) / rate
            lost = max(0, min(int(round((stamp - expected) * rate)), int(MAX_OVERFLOW_GAP_S * rate)))
        t.frames += block.dropped_before + (lost or 0) + frames
        return lost

    def _level(self, samples: np.ndarray[Any, Any], paused: bool) -> LevelReading:
        if samples.size:
            x = samples.astype(np.float32) / 32768.0
            rms = np.sqrt(np.mean(np.square(x), axis=0))
            peak = np.max(np.abs(x), axis=0)
        else:
            rms = peak = np.zeros(self.fmt.channels, dtype=np.float32)
        channel_rms = tuple(_dbfs(float(v)) for v in rms)
        channel_peak = tuple(_dbfs(float(v)) for v in peak)
        return LevelReading(
            rms_dbfs=max(channel_rms),
            peak_dbfs=max(channel_peak),
            channel_rms_dbfs=channel_rms,
            channel_peak_dbfs=channel_peak,
            elapsed_s=self.elapsed_s,
            clipping=bool(peak.size and float(np.max(peak)) >= 0.999),
            paused=paused,
        )
