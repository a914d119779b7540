"""The real offline base model on generated speech."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tbdesktop.engine import audio
from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled, ModelError
from tbdesktop.engine.pipeline import Pipeline, PipelineOptions, run
from tbdesktop.engine.types import PipelineResult

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session_run(pipeline: Any, speech_fixtures: Any) -> tuple[PipelineResult, list[tuple[str, float, float | None]]]:
    events: list[tuple[str, float, float | None]] = []
    result = pipeline.run(speech_fixtures["session"], on_progress=lambda s, f, e: events.append((s, f, e)))
    return result, events


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_transcript_contains_the_spoken_words(session_run: Any, speech_fixtures: Any) -> None:
    result, _ = session_run
    assert result.language == "en"
    heard = _words(" ".join(s.text for s in result.segments))
    found = [k for k in speech_fixtures.keywords if k in heard]
    assert len(found) >= 0.8 * len(speech_fixtures.keywords), f"only heard {found}"
    assert {s.speaker for s in result.segments} == {"SPEAKER_00"}


def test_segments_line_up_with_the_turns(session_run: Any, speech_fixtures: Any) -> None:
    result, _ = session_run
    for turn in speech_fixtures.turns:
        overlapping = [s for s in result.segments if s.start < turn["end"] + 0.5 and s.end > turn["start"] - 0.5]
        assert overlapping, f"nothing transcribed for turn at {turn['start']:.1f}s"
        heard = _words(" ".join(s.text for s in overlapping))
        expected = _words(turn["text"])
        assert len(heard & expected) >= 0.6 * len(expected)


def test_word_timestamps_are_monotonic_and_inside_the_audio(session_run: Any) -> None:
    result, _ = session_run
    previous_start = 0.0
    assert result.segments
    for segment in result.segments:
        assert 0.0 <= segment.start <= segment.end <= result.duration_s
        assert segment.words
        assert "".join(w.word for w in segment.words).strip() == segment.text
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
            assert word.start >= previous_start
            assert 0.0 <= word.probability <= 1.0
            previous_start = word.start


def test_progress_reports_increasing_fractions(session_run: Any) -> None:
    result, events = session_run
    stages = [s for s, _, _ in events]
    assert stages[0] == "preprocessing"
    assert stages.index("transcribing") > stages.index("preprocessing")
    assert set(stages) == {"preprocessing", "transcribing"}
    for stage in ("preprocessing", "transcribing"):
        fractions = [f for s, f, _ in events if s == stage]
        assert fractions == sorted(fractions)
        assert all(0.0 <= f <= 1.0 for f in fractions)
        assert fractions[-1] == 1.0
    transcribing = [(f, e) for s, f, e in events if s == "transcribing"]
    assert len(transcribing) >= len(result.segments)  # at least once per segment
    assert any(e is not None and e > 0 for f, e in transcribing if 0 < f < 1)


def test_result_timings_and_round_trip(session_run: Any) -> None:
    result, _ = session_run
    assert set(result.timings) == {"model_load", "preprocessing", "transcribing"}
    assert result.timings["transcribing"] > 0
    assert result.duration_s == pytest.approx(24.2, abs=1.5)
    assert PipelineResult.from_dict(result.to_dict()) == result


def test_silence_gives_no_segments(pipeline: Any, speech_fixtures: Any) -> None:
    result = pipeline.run(speech_fixtures["silence"])
    assert result.segments == ()
    assert result.duration_s == pytest.approx(6.0, abs=0.01)


def test_compressed_input_transcribes(pipeline: Any, speech_fixtures: Any) -> None:
    result = pipeline.run(speech_fixtures["ogg"])
    heard = _words(" ".join(s.text for s in result.segments))
    assert len(heard & set(speech_fixtures.keywords)) >= 0.7 * len(speech_fixtures.keywords)
    assert result.timings["model_load"] == 0.0  # loaded once, reused


def test_cancel_between_segments(pipeline: Any, speech_fixtures: Any) -> None:
    seen: list[tuple[str, float]] = []

    def on_progress(stage: str, fraction: float, eta: float | None) -> None:
        seen.append((stage, fraction))

    def should_cancel() -> bool:
        return any(stage == "transcribing" and 0 < f < 1 for stage, f in seen)

    with pytest.raises(Cancelled):
        pipeline.run(speech_fixtures["session"], on_progress=on_progress, should_cancel=should_cancel)
    transcribing = [f for stage, f in seen if stage == "transcribing" and f > 0]
    assert len(transcribing) == 1  # stopped right after the first segment


def test_cancel_before_start(pipeline: Any, speech_fixtures: Any) -> None:
    with pytest.raises(Cancelled):
        pipeline.run(speech_fixtures["session"], should_cancel=lambda: True)


def test_transcriber_directly(pipeline: Any, speech_fixtures: Any) -> None:
    samples = audio.decode(speech_fixtures["session"])
    result = pipeline.transcriber.transcribe(samples, language="en")
    assert result.language == "en"
    assert "breathing" in _words(" ".join(s.text for s in result.segments))


def test_pipeline_rejects_bad_audio(pipeline: Any, speech_fixtures: Any) -> None:
    with pytest.raises(AudioDecodeError, match="not an audio file"):
        pipeline.run(speech_fixtures["not_audio"])
    with pytest.raises(AudioDecodeError, match="truncated"):
        pipeline.run(speech_fixtures["truncated"])


def test_pipeline_wraps_unexpected_decode_failures(pipeline: Any, speech_fixtures: Any, monkeypatch: Any) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(audio, "decode", boom)
    with pytest.raises(AudioDecodeError, match="could not be read as audio"):
        pipeline.run(speech_fixtures["session"])


def test_module_run_enforces_max_duration(model_cache_dir: Path, speech_fixtures: Any) -> None:
    options = PipelineOptions(cache_dir=model_cache_dir, device="cpu", max_duration_s=10, language="en")
    with pytest.raises(AudioTooLongError):
        run(speech_fixtures["session"], options)
    fresh = Pipeline(options)
    assert fresh.run(speech_fixtures["silence"]).timings["model_load"] > 0


def test_unknown_model_is_refused(model_cache_dir: Path) -> None:
    with pytest.raises(ModelError, match="not installed"):
        Pipeline(PipelineOptions(cache_dir=model_cache_dir, model="large-v3"))
