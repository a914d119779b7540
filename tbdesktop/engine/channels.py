"""A two-channel recording with one microphone per person: who spoke is read from which channel is louder.

Each word goes to the channel that is at least ``MIN_RATIO_DB`` louder over its span (channel 0 → SPEAKER_00,
channel 1 → SPEAKER_01); a segment whose words change channel is split there. Words too close to call keep
their segment's channel, else the voice diarization gave them, mapped to the channel most of that voice's words
went to. A third voice (picked up by both microphones alike) keeps its diarization label.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.types import Segment, SpeakerTurn, Word

FRAME_S = 0.05
RATE = 8000  # enough to compare loudness; decoding at this rate is cheap
MIN_RATIO_DB = 6.0
CHANNEL_LABELS = ("SPEAKER_00", "SPEAKER_01")


def channel_energy(path: Path, *, should_cancel: Callable[[], bool] | None = None) -> npt.NDArray[np.float64] | None:
    """Mean square of each channel in 50 ms frames, shape (2, frames); None when the file is not two-channel."""
    import av

    hop = int(RATE * FRAME_S)
    with av.open(str(path)) as container:
        streams = container.streams.audio
        if not streams:
            return None
        stream = streams[0]
        if stream.codec_context.channels != 2:
            return None
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        sums: list[npt.NDArray[np.float64]] = []
        carry = np.zeros((2, 0), dtype=np.float32)

        def take(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
            joined = np.concatenate([carry, block], axis=1)
            whole = joined.shape[1] // hop * hop
            if whole:
                frames = joined[:, :whole].reshape(2, -1, hop).astype(np.float64)
                sums.append(np.mean(frames * frames, axis=2))
            return joined[:, whole:]

        for frame in container.decode(stream):
            if should_cancel is not None and should_cancel():
                return None
            for out in resampler.resample(frame):
                carry = take(out.to_ndarray().astype(np.float32, copy=False))
        for out in resampler.resample(None):
            carry = take(out.to_ndarray().astype(np.float32, copy=False))
    if not sums:
        return None
    return np.concatenate(sums, axis=1)


def dominant_channel(energy: npt.NDArray[np.float64], start: float, end: float) -> int | None:
    """0 or 1 when that channel is clearly louder over [start, end); None when too close to call or silent."""
    first = max(0, int(math.floor(start / FRAME_S)))
    last = min(energy.shape[1], max(first + 1, int(math.ceil(end / FRAME_S))))
    if first >= last:
        return None
    e0 = float(np.mean(energy[0, first:last]))
    e1 = float(np.mean(energy[1, first:last]))
    if e0 <= 1e-12 and e1 <= 1e-12:
        return None
    ratio_db = 10.0 * math.log10((e0 + 1e-12) / (e1 + 1e-12))
    if ratio_db >= MIN_RATIO_DB:
        return 0
    if ratio_db <= -MIN_RATIO_DB:
        return 1
    return None


def _text(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


def assign_by_channel(segments: list[Segment], energy: npt.NDArray[np.float64]) -> list[Segment]:
    """Segments relabelled (and split where the speaking channel changes) from the channels' loudness."""
    pieces: list[tuple[Segment, int | None]] = []
    votes: dict[str, Counter[int]] = {}
    for seg in segments:
        seg_channel = dominant_channel(energy, seg.start, seg.end)
        if not seg.words:
            pieces.append((seg, seg_channel))
            if seg_channel is not None:
                votes.setdefault(seg.speaker, Counter())[seg_channel] += 1
            continue
        channels = [dominant_channel(energy, w.start, w.end) for w in seg.words]
        for channel in channels:
            if channel is not None:
                votes.setdefault(seg.speaker, Counter())[channel] += 1
        filled = [c if c is not None else seg_channel for c in channels]
        runs: list[tuple[int | None, list[Word]]] = []
        for word, channel in zip(seg.words, filled, strict=True):
            if runs and runs[-1][0] == channel:
                runs[-1][1].append(word)
            else:
                runs.append((channel, [word]))
        if len(runs) == 1:
            pieces.append((seg, runs[0][0]))
            continue
        for channel, words in runs:
            piece = Segment(
                start=words[0].start,
                end=words[-1].end,
                text=_text(words),
                speaker=seg.speaker,
                words=tuple(words),
                role=seg.role,
            )
            pieces.append((piece, channel))
    voice_channel = {label: count.most_common(1)[0][0] for label, count in votes.items() if count}
    out: list[Segment] = []
    for seg, channel in pieces:
        chosen = channel if channel is not None else voice_channel.get(seg.speaker)
        label = CHANNEL_LABELS[chosen] if chosen is not None else seg.speaker
        if label == seg.speaker:
            out.append(seg)
        else:
            out.append(Segment(seg.start, seg.end, seg.text, label, seg.words, seg.role))
    return out


def turns_from_segments(segments: list[Segment]) -> tuple[SpeakerTurn, ...]:
    """Speaker turns that agree with channel-assigned segments (for talk time and the stored turns)."""
    turns: list[SpeakerTurn] = []
    for seg in sorted(segments, key=lambda s: s.start):
        if turns and turns[-1].speaker == seg.speaker and seg.start - turns[-1].end < 0.5:
            last = turns[-1]
            turns[-1] = SpeakerTurn(last.start, max(last.end, seg.end), last.speaker)
        else:
            turns.append(SpeakerTurn(seg.start, seg.end, seg.speaker))
    return tuple(turns)
