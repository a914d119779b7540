"""The real pipeline on generated speech: offline base model ∥ speaker encoder, in two worker processes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from polling import until

from tbdesktop.engine import audio
from tbdesktop.engine.asr.local import LocalTranscriber
from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled, ModelError
from tbdesktop.engine.models import resolve_model
from tbdesktop.engine.pipeline import Pipeline, PipelineOptions, run
from tbdesktop.engine.scratch import SCRATCH_PREFIX
from tbdesktop.engine.types import PipelineResult

pytestmark = pytest.mark.slow

Event = tuple[float, str, float, float | None]


@pytest.fixture(scope="module")
def session_run(pipeline: Any, speech_fixtures: Any) -> tuple[PipelineResult, list[Event]]:
    events: list[Event] = []
    result = pipeline.run(
        speech_fixtures["session"], on_progress=lambda s, f, e: events.append((time.monotonic(), s, f, e))
    )
    return result, events


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_transcript_contains_the_spoken_words(session_run: Any, speech_fixtures: Any) -> None:
    result, _ = session_run
    assert result.language == "en"
    heard = _words(" ".join(s.text for s in result.segments))
    found = [k for k in speech_fixtures.keywords if k in heard]
    assert len(found) >= 0.8 * len(speech_fixtures.keywords), f"only heard {found}"


def test_two_voices_get_two_speakers_and_the_right_roles(session_run: Any, speech_fixtures: Any) -> None:
    result, _ = session_run
    assert [s.id for s in result.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert {s.id: s.role for s in result.speakers} == {"SPEAKER_00": "therapist", "SPEAKER_01": "client"}
    for turn in speech_fixtures.turns:
        inside = [s for s in result.segments if s.start >= turn["start"] - 0.5 and s.end <= turn["end"] + 0.5]
        assert inside, f"no segment inside the turn at {turn['start']:.1f}s"
        assert {s.role for s in inside} == {turn["speaker"].lower()}
    # diarization turns cover the spoken turns with the right speaker
    for turn in speech_fixtures.turns:
        covering = [t for t in result.turns if t.start < turn["end"] and t.end > turn["start"]]
        longest = max(covering, key=lambda t: min(t.end, turn["end"]) - max(t.start, turn["start"]))
        expected = "SPEAKER_00" if turn["speaker"] == "THERAPIST" else "SPEAKER_01"
        assert longest.speaker == expected
    talk = {s.id: s.talk_time_s for s in result.speakers}
    assert all(v > 3.0 for v in talk.values())


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


def test_progress_is_steady_and_ordered(session_run: Any) -> None:
    result, events = session_run
    stages = [s for _, s, _, _ in events]
    assert stages[0] == "preprocessing"
    assert stages[-1] == "merging"
    order = ["preprocessing", "transcribing", "diarizing", "merging"]
    ranks = [order.index(s) for s in stages]
    assert ranks == sorted(ranks), "stages never go back"
    for stage in ("preprocessing", "transcribing", "merging"):
        fractions = [f for _, s, f, _ in events if s == stage]
        assert fractions == sorted(fractions)
        assert all(0.0 <= f <= 1.0 for f in fractions)
    assert [f for _, s, f, _ in events if s == "merging"][-1] == 1.0
    # a report at least every two seconds of wall time
    times = [t for t, _, _, _ in events]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= 2.0
    assert any(e is not None and e > 0 for _, s, f, e in events if s == "transcribing" and 0 < f < 1)


def test_result_timings_overlap_and_round_trip(session_run: Any) -> None:
    result, _ = session_run
    assert {"model_load", "decode", "vad", "asr", "diarization", "merge", "total", "overlap"} <= set(result.timings)
    assert result.timings["asr"] > 0
    assert result.timings["diarization"] > 0
    # the two ran at the same time: the shorter one lies (almost) wholly inside the other
    assert result.timings["overlap"] >= 0.8 * min(result.timings["asr"], result.timings["diarization"])
    assert set(result.peak_rss_mb) == {"main", "asr", "diarization"}
    assert all(v > 0 for v in result.peak_rss_mb.values())
    assert result.duration_s == pytest.approx(24.2, abs=1.5)
    assert PipelineResult.from_dict(result.to_dict()) == result


def test_silence_gives_no_segments(pipeline: Any, speech_fixtures: Any) -> None:
    result = pipeline.run(speech_fixtures["silence"])
    assert result.segments == ()
    assert result.speakers == ()
    assert result.turns == ()
    assert result.duration_s == pytest.approx(6.0, abs=0.01)


def test_compressed_input_transcribes_with_warm_models(pipeline: Any, speech_fixtures: Any) -> None:
    pids = pipeline.worker_pids()
    result = pipeline.run(speech_fixtures["ogg"])
    heard = _words(" ".join(s.text for s in result.segments))
    assert len(heard & set(speech_fixtures.keywords)) >= 0.7 * len(speech_fixtures.keywords)
    assert result.timings["model_load"] == 0.0  # loaded once, reused
    assert pipeline.worker_pids() == pids  # the same warm worker processes


def test_cancel_kills_the_workers_and_leaves_nothing(pipeline: Any, speech_fixtures: Any) -> None:
    seen: list[tuple[str, float]] = []
    pipeline.warm_up()
    pids = pipeline.worker_pids()
    assert len(pids) == 2

    def should_cancel() -> bool:
        return any(stage == "transcribing" for stage, _ in seen)

    with pytest.raises(Cancelled):
        pipeline.run(
            speech_fixtures["session"], on_progress=lambda s, f, e: seen.append((s, f)), should_cancel=should_cancel
        )
    until(lambda: not any(_pid_alive(p) for p in pids), 5, "both worker processes to exit")
    assert not any(_pid_alive(p) for p in pids), "cancel stops both worker processes"
    assert not list(pipeline.scratch_dir().glob(f"{SCRATCH_PREFIX}{os.getpid()}-*")), "no scratch audio left"
    # the next recording starts fresh workers and succeeds
    result = pipeline.run(speech_fixtures["session"])
    assert result.segments
    assert set(pipeline.worker_pids()).isdisjoint(pids)


def test_cancel_before_start(pipeline: Any, speech_fixtures: Any) -> None:
    with pytest.raises(Cancelled):
        pipeline.run(speech_fixtures["session"], should_cancel=lambda: True)


def test_transcriber_directly_with_its_own_vad(model_cache_dir: Path, speech_fixtures: Any) -> None:
    samples = audio.decode(speech_fixtures["session"])
    transcriber = LocalTranscriber(resolve_model("base", model_cache_dir), device="cpu")
    result = transcriber.transcribe(samples, language="en")
    assert result.language == "en"
    assert "breathing" in _words(" ".join(s.text for s in result.segments))


def test_a_repetition_loop_is_decoded_again(model_cache_dir: Path, speech_fixtures: Any, monkeypatch: Any) -> None:
    """Whisper sometimes loops ("no no no …") on a window; that window is decoded again on its own."""
    import dataclasses

    samples = audio.decode(speech_fixtures["session"])
    transcriber = LocalTranscriber(resolve_model("base", model_cache_dir), device="cpu")
    honest = transcriber.transcribe(samples, language="en")
    real_batched = transcriber._batched.transcribe
    looped: list[str] = []

    def looping(*args: Any, **kwargs: Any) -> Any:
        segments, info = real_batched(*args, **kwargs)

        def loop_first() -> Any:
            for n, segment in enumerate(segments):
                if n == 0:
                    text = " no" * 80
                    looped.append(segment.text)
                    segment = dataclasses.replace(segment, text=text, compression_ratio=12.0, words=[])
                yield segment

        return loop_first(), info

    monkeypatch.setattr(transcriber._batched, "transcribe", looping)
    result = transcriber.transcribe(samples, language="en")
    assert looped, "the model produced no window"
    text = " ".join(s.text for s in result.segments)
    assert "no no no" not in text
    assert _words(looped[0]) & _words(text) >= {w for w in _words(looped[0]) if len(w) > 5}
    # the re-decoded window keeps the recording's clock: it lines up with the honest first segment
    assert result.segments[0].start == pytest.approx(honest.segments[0].start, abs=1.0)
    for segment in result.segments:
        assert all(segment.start - 0.01 <= w.start <= w.end <= segment.end + 0.01 for w in segment.words)


def test_pipeline_rejects_bad_audio(pipeline: Any, speech_fixtures: Any) -> None:
    with pytest.raises(AudioDecodeError, match="no audio could be decoded"):
        pipeline.run(speech_fixtures["not_audio"])
    with pytest.raises(AudioDecodeError, match="truncated"):
        pipeline.run(speech_fixtures["truncated"])


def test_pipeline_wraps_unexpected_decode_failures(pipeline: Any, speech_fixtures: Any, monkeypatch: Any) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(audio, "load", boom)
    with pytest.raises(AudioDecodeError, match="could not be read as audio"):
        pipeline.run(speech_fixtures["session"])


def test_module_run_enforces_max_duration(model_cache_dir: Path, speech_fixtures: Any) -> None:
    options = PipelineOptions(cache_dir=model_cache_dir, device="cpu", max_duration_s=10, language="en")
    with pytest.raises(AudioTooLongError):
        run(speech_fixtures["session"], options)
    with Pipeline(options) as fresh:
        assert fresh.run(speech_fixtures["silence"]).timings["model_load"] > 0


def test_unknown_model_is_refused(model_cache_dir: Path) -> None:
    with (
        Pipeline(PipelineOptions(cache_dir=model_cache_dir, model="large-v3")) as p,
        pytest.raises(ModelError, match="not installed"),
    ):
        p.warm_up()
