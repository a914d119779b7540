"""One microphone per person on two channels: who spoke comes from the louder channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine.channels import FRAME_S, assign_by_channel, channel_energy, dominant_channel, turns_from_segments
from tbdesktop.engine.types import Segment, Word


def _energy(spans: list[tuple[float, float, int]], total_s: float) -> np.ndarray[Any, Any]:
    """Channel ``c`` loud (1.0) and the other quiet (0.001) over each (start, end, c); both quiet elsewhere."""
    frames = int(total_s / FRAME_S)
    energy = np.full((2, frames), 1e-6)
    for start, end, channel in spans:
        a, b = int(start / FRAME_S), int(end / FRAME_S)
        energy[channel, a:b] = 1.0
        energy[1 - channel, a:b] = 0.001
    return energy


def _words(*spans: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(start, end, f" {text}", 0.9) for start, end, text in spans)


def test_words_follow_the_louder_channel_and_segments_split_where_it_changes() -> None:
    energy = _energy([(0.0, 2.0, 0), (2.0, 4.0, 1), (6.0, 8.0, 1)], 10.0)
    spoken = _words((0.1, 0.8, "How"), (0.9, 1.9, "are you?"), (2.1, 3.0, "Fine"), (3.1, 3.9, "thanks."))
    merged = Segment(0.0, 4.0, "How are you? Fine thanks.", "SPEAKER_07", spoken)
    unclear = Segment(4.2, 5.8, "Mm.", "SPEAKER_03", _words((4.3, 5.7, "Mm.")))  # both channels quiet
    later = Segment(6.1, 7.9, "Yes.", "SPEAKER_03", _words((6.2, 7.8, "Yes.")))
    out = assign_by_channel([merged, unclear, later], energy)
    assert [(s.speaker, s.text) for s in out] == [
        ("SPEAKER_00", "How are you?"),
        ("SPEAKER_01", "Fine thanks."),
        ("SPEAKER_01", "Mm."),  # too close to call: the channel its diarized voice mostly used
        ("SPEAKER_01", "Yes."),
    ]
    assert out[0].start == 0.1 and out[1].end == 3.9 and len(out[1].words) == 2
    turns = turns_from_segments(out)
    assert [(t.speaker, t.start, t.end) for t in turns] == [("SPEAKER_00", 0.1, 1.9), ("SPEAKER_01", 2.1, 7.9)]


def test_a_voice_both_microphones_hear_alike_keeps_its_label() -> None:
    energy = np.ones((2, 100))
    seg = Segment(0.5, 2.0, "Hello everyone.", "SPEAKER_02", _words((0.6, 1.9, "Hello everyone.")))
    assert dominant_channel(energy, 0.5, 2.0) is None
    assert assign_by_channel([seg], energy) == [seg]


def test_channel_energy_of_a_stereo_file(two_speaker: Any, two_microphone_session: Path) -> None:
    energy = channel_energy(two_microphone_session)
    assert energy is not None and energy.shape[0] == 2
    first = two_speaker[1][0]
    expected = 0 if first["speaker"] == "THERAPIST" else 1
    assert dominant_channel(energy, first["start"], first["end"]) == expected
    assert channel_energy(two_speaker[0]) is None  # a mono file: nothing to read


@pytest.mark.slow
def test_pipeline_reads_speakers_from_the_channels(
    pipeline: Any, two_speaker: Any, two_microphone_session: Path
) -> None:
    """The real pipeline on the two-microphone recording: channel 0's wearer is SPEAKER_00, every time."""
    result = pipeline.run(two_microphone_session, speakers_hint=2, channel_speakers=True)
    turns = two_speaker[1]

    def truth(t: float) -> str | None:
        for turn in turns:
            if turn["start"] - 0.2 <= t <= turn["end"] + 0.2:
                return "SPEAKER_00" if turn["speaker"] == "THERAPIST" else "SPEAKER_01"
        return None

    words = [(w, seg.speaker) for seg in result.segments for w in seg.words]
    judged = [(truth((w.start + w.end) / 2), speaker) for w, speaker in words]
    judged = [(t, s) for t, s in judged if t is not None]
    right = sum(1 for t, s in judged if t == s)
    assert len(judged) > 30 and right / len(judged) >= 0.95, (right, len(judged))
    roles = {s.id: s.role for s in result.speakers}
    first = "SPEAKER_00" if turns[0]["speaker"] == "THERAPIST" else "SPEAKER_01"
    assert roles.get(first) == ("therapist" if turns[0]["speaker"] == "THERAPIST" else "client")
