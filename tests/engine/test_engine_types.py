from __future__ import annotations

import dataclasses
import json

import pytest

from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled, EngineError, ModelError
from tbdesktop.engine.types import PipelineResult, Segment, SpeakerInfo, SpeakerTurn, Word


def _result() -> PipelineResult:
    words = (Word(0.1, 0.4, " Hello", 0.91), Word(0.5, 0.9, " there.", 0.8))
    return PipelineResult(
        duration_s=12.5,
        language="en",
        segments=(
            Segment(0.1, 0.9, "Hello there.", "SPEAKER_00", words),
            Segment(1.0, 2.0, "Hi.", "SPEAKER_01", (Word(1.0, 2.0, " Hi.", 0.5),), role="client"),
        ),
        timings={"model_load": 0.5, "decode": 0.1, "asr": 2.0, "diarization": 0.4, "overlap": 0.4, "total": 2.2},
        speakers=(SpeakerInfo("SPEAKER_00", "therapist", 0.8, 2), SpeakerInfo("SPEAKER_01", "client", 1.0, 1)),
        turns=(SpeakerTurn(0.1, 0.9, "SPEAKER_00"), SpeakerTurn(1.0, 2.0, "SPEAKER_01")),
        peak_rss_mb={"main": 120.0, "asr": 400.0, "diarization": 90.0},
    )


def test_to_dict_has_the_agreed_shape() -> None:
    data = _result().to_dict()
    assert set(data) == {
        "duration_s",
        "language",
        "speakers",
        "turns",
        "segments",
        "timings",
        "resources",
        "warnings",
    }
    first, second = data["segments"]
    assert set(first) == {"start", "end", "speaker", "role", "text", "words"}
    assert set(first["words"][0]) == {"start", "end", "word", "probability"}
    assert (first["role"], second["role"]) == (None, "client")
    assert data["speakers"][0] == {"id": "SPEAKER_00", "role": "therapist", "talk_time_s": 0.8, "words": 2}
    assert data["turns"][1] == {"start": 1.0, "end": 2.0, "speaker": "SPEAKER_01"}
    assert data["resources"] == {"peak_rss_mb": {"main": 120.0, "asr": 400.0, "diarization": 90.0}}
    json.dumps(data)  # crosses process boundaries and is stored: must be plain JSON


def test_from_dict_round_trips() -> None:
    result = _result()
    assert PipelineResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_types_are_frozen() -> None:
    word = Word(0.0, 1.0, "a", 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        word.start = 2.0  # type: ignore[misc]


def test_errors_carry_a_user_message() -> None:
    for cls in (AudioDecodeError, ModelError):
        err = cls("Something readable.")
        assert isinstance(err, EngineError)
        assert err.message == "Something readable."
    too_long = AudioTooLongError(7300.0, 7200.0)
    assert (too_long.duration_s, too_long.limit_s) == (7300.0, 7200.0)
    assert "2 h 01 min" in too_long.message
    assert "2 h 00 min" in too_long.message
    assert Cancelled().message == "Processing was cancelled."
