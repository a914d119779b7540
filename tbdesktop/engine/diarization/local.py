"""Offline diarization: speaker embeddings over speech regions, spectral clustering, exclusive turns."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.diarization import MAX_SPEAKERS, MIN_SPEAKERS, STAGE, Region
from tbdesktop.engine.diarization.cluster import cluster
from tbdesktop.engine.diarization.encoder import HOP, SAMPLE_RATE, SpeakerEncoder, mel_frames
from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.progress import reporter
from tbdesktop.engine.types import CancelCheck, DiarizationResult, ProgressCallback, SpeakerTurn

log = logging.getLogger(__name__)
_report = reporter(STAGE)

# 1.0 s windows (the encoder was trained on 1.6 s): a third less work per window, and on the fixtures a
# slightly lower DER, because a short window straddles a turn change less often (ADR 0004).
WINDOW_FRAMES = 100
WINDOW_S = WINDOW_FRAMES * HOP / SAMPLE_RATE
STEP_S = 1.0  # one window per second of speech inside a region (turns mostly change at pauses)
BATCH = 48  # windows per encoder call: progress and cancellation between calls
MERGE_GAP_S = 0.5  # same-speaker turns closer than this are one turn
FRAME_S = HOP / SAMPLE_RATE


def speaker_name(index: int) -> str:
    return f"SPEAKER_{index:02d}"


Window = tuple[float, float, int]
"""An embedding window: start and end in seconds, and the index of the speech region it describes."""


def plan_windows(regions: Sequence[Region], duration: float) -> list[Window]:
    """The embedding windows: 1.6 s every ``STEP_S`` inside each region; a shorter region is one window of
    its own audio (never its neighbours': in a quick exchange they are the other speaker)."""
    windows: list[Window] = []
    for index, (start, end) in enumerate(regions):
        end = min(end, duration)
        length = end - start
        if length <= 0:
            continue
        if length <= WINDOW_S:
            windows.append((start, end, index))
            continue
        count = int(np.ceil((length - WINDOW_S) / STEP_S)) + 1
        step = (length - WINDOW_S) / (count - 1) if count > 1 else 0.0
        windows.extend((start + i * step, start + i * step + WINDOW_S, index) for i in range(count))
    return windows


class LocalDiarizer:
    """Resemblyzer's voice encoder (numpy) plus spectral clustering; model loaded once per process."""

    def __init__(self, weights_path: Path) -> None:
        started = time.perf_counter()
        self.encoder = SpeakerEncoder(weights_path)
        self.load_seconds = time.perf_counter() - started

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
    ) -> DiarizationResult:
        started = time.perf_counter()
        duration = audio.shape[0] / SAMPLE_RATE
        if regions is None:
            regions = [(0.0, duration)] if duration > 0 else []
        regions = [(max(0.0, s), min(duration, e)) for s, e in regions if min(duration, e) - max(0.0, s) > 0.05]
        _report(on_progress, 0.0, None)
        windows = plan_windows(regions, duration)
        if not windows:
            _report(on_progress, 1.0, 0.0)
            return DiarizationResult(turns=(), speakers=())

        embeddings = np.empty((len(windows), 256), dtype=np.float32)
        last_report = time.monotonic()
        for first in range(0, len(windows), BATCH):
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            last = min(first + BATCH, len(windows))
            embeddings[first:last] = self.encoder.embed(self._window_mels(audio, windows[first:last]))
            now = time.monotonic()
            if now - last_report >= 0.5 or last == len(windows):
                done = last / len(windows)
                elapsed = time.perf_counter() - started
                _report(on_progress, 0.95 * done, elapsed / done * (1 - done) if done > 0 else None)
                last_report = now

        labels = cluster(
            embeddings,
            num_speakers=num_speakers,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
            speakers_hint=speakers_hint,
        )
        turns = _renumber(_turns(regions, windows, labels))
        speakers = tuple(dict.fromkeys(t.speaker for t in turns))
        _report(on_progress, 1.0, 0.0)
        log.info(
            "diarized",
            extra={"windows": len(windows), "speakers": len(speakers), "s": round(time.perf_counter() - started, 2)},
        )
        return DiarizationResult(turns=tuple(turns), speakers=speakers)

    @staticmethod
    def _window_mels(audio: npt.NDArray[np.float32], windows: list[Window]) -> npt.NDArray[np.float32]:
        """Mel frames of every window; each window is computed from its own slice (no whole-file spectrogram).

        A window shorter than 1.6 s repeats its own audio to fill the encoder's input.
        """
        out = np.empty((len(windows), WINDOW_FRAMES, 40), dtype=np.float32)
        n_samples = WINDOW_FRAMES * HOP
        for i, (start, end, _region) in enumerate(windows):
            first = int(round(start * SAMPLE_RATE))
            last = min(int(round(end * SAMPLE_RATE)), first + n_samples)
            piece = np.asarray(audio[first:last], dtype=np.float32)
            if 0 < piece.shape[0] < n_samples:
                piece = np.resize(piece, n_samples)  # cyclic repeat
            elif piece.shape[0] == 0:
                piece = np.zeros(n_samples, dtype=np.float32)
            out[i] = mel_frames(piece)[:WINDOW_FRAMES]
        return out


def _turns(regions: Sequence[Region], windows: list[Window], labels: npt.NDArray[np.int64]) -> list[SpeakerTurn]:
    labels = _smooth(windows, labels)
    turns: list[SpeakerTurn] = []
    by_region: dict[int, list[tuple[float, int]]] = {}
    for (start, end, region), label in zip(windows, labels.tolist(), strict=True):
        by_region.setdefault(region, []).append(((start + end) / 2, int(label)))
    for index, (r_start, r_end) in enumerate(regions):
        items = by_region.get(index)
        if not items:
            continue
        cursor = r_start
        for j, (centre, label) in enumerate(items):
            if j + 1 < len(items) and items[j + 1][1] == label:
                continue
            end = r_end if j + 1 == len(items) else min(max((centre + items[j + 1][0]) / 2, cursor), r_end)
            if end > cursor:
                _append(turns, SpeakerTurn(cursor, end, speaker_name(label)))
            cursor = end
    return turns


def _renumber(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """SPEAKER_00, SPEAKER_01, … in order of first appearance, with no numbers skipped."""
    names: dict[str, str] = {}
    for turn in turns:
        names.setdefault(turn.speaker, speaker_name(len(names)))
    return [SpeakerTurn(t.start, t.end, names[t.speaker]) for t in turns]


def _smooth(windows: list[Window], labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A single window that disagrees with both neighbours in the same region takes their label."""
    out = labels.copy()
    for i in range(1, len(windows) - 1):
        same_region = windows[i - 1][2] == windows[i][2] == windows[i + 1][2]
        if same_region and labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


def _append(turns: list[SpeakerTurn], turn: SpeakerTurn) -> None:
    if turns and turns[-1].speaker == turn.speaker and turn.start - turns[-1].end <= MERGE_GAP_S:
        turns[-1] = SpeakerTurn(turns[-1].start, turn.end, turn.speaker)
    else:
        turns.append(turn)
