"""Merge transcription with diarization: every word gets the speaker turn it overlaps most.

Segments are then rebuilt from the words: a new segment starts where the speaker changes, after a pause of
more than ``PAUSE_SPLIT_S``, or at a sentence end once a segment is longer than ``LONG_SEGMENT_S``. A single
word that the diarization gives to another speaker than both of its neighbours, while mostly lying outside
that speaker's turn, is smoothed back to its neighbours' speaker.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

from tbdesktop.engine.asr import DEFAULT_SPEAKER
from tbdesktop.engine.types import Segment, SpeakerTurn, Word

PAUSE_SPLIT_S = 1.5
LONG_SEGMENT_S = 20.0
WEAK_OVERLAP = 0.6  # a word with less than this share inside its turn may be smoothed
_SENTENCE_END = (".", "?", "!", "…")


class _Turns:
    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]

    def best(self, start: float, end: float) -> tuple[str, float]:
        """The speaker of the turn overlapping [start, end] most, and the share of the span it covers.

        With no overlap at all, the nearest turn's speaker and a share of 0.
        """
        if not self.turns:
            return DEFAULT_SPEAKER, 0.0
        span = max(end - start, 1e-3)
        i = bisect.bisect_right(self.starts, end)
        overlaps: dict[str, float] = {}
        j = i - 1
        while j >= 0:
            turn = self.turns[j]
            if turn.end < start - 30.0:  # turns are exclusive and sorted; nothing further back can overlap
                break
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > 0:
                overlaps[turn.speaker] = overlaps.get(turn.speaker, 0.0) + overlap
            j -= 1
        if overlaps:
            speaker = max(overlaps, key=lambda s: overlaps[s])
            return speaker, min(overlaps[speaker] / span, 1.0)
        middle = (start + end) / 2
        candidates = [self.turns[k] for k in (i - 1, i) if 0 <= k < len(self.turns)]
        nearest = min(candidates, key=lambda t: min(abs(t.start - middle), abs(t.end - middle)))
        return nearest.speaker, 0.0


def assign_speakers(segments: Sequence[Segment], turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """Split and label ASR segments by speaker; segments keep their words, in time order."""
    index = _Turns(turns)
    out: list[Segment] = []
    for segment in sorted(segments, key=lambda s: (s.start, s.end)):
        if not segment.words:
            speaker, _share = index.best(segment.start, segment.end)
            out.append(replace(segment, speaker=speaker))
            continue
        labels = [index.best(w.start, w.end) for w in segment.words]
        speakers = [speaker for speaker, _ in labels]
        for k in range(1, len(speakers) - 1):
            if speakers[k - 1] == speakers[k + 1] != speakers[k] and labels[k][1] < WEAK_OVERLAP:
                speakers[k] = speakers[k - 1]
        out.extend(_split(segment.words, speakers))
    return out


def _split(words: Sequence[Word], speakers: Sequence[str]) -> list[Segment]:
    pieces: list[Segment] = []
    current: list[Word] = []
    current_speaker = speakers[0]

    def flush() -> None:
        if current:
            text = "".join(w.word for w in current).strip()
            if text:
                pieces.append(
                    Segment(
                        start=current[0].start,
                        end=current[-1].end,
                        text=text,
                        speaker=current_speaker,
                        words=tuple(current),
                    )
                )
        current.clear()

    for word, speaker in zip(words, speakers, strict=True):
        if current:
            pause = word.start - current[-1].end
            long_sentence = current[-1].end - current[0].start > LONG_SEGMENT_S and current[-1].word.strip().endswith(
                _SENTENCE_END
            )
            if speaker != current_speaker or pause > PAUSE_SPLIT_S or long_sentence:
                flush()
        if not current:
            current_speaker = speaker
        current.append(word)
    flush()
    return pieces


def talk_time(segments: Sequence[Segment]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for segment in segments:
        totals[segment.speaker] = totals.get(segment.speaker, 0.0) + max(segment.end - segment.start, 0.0)
    return totals
