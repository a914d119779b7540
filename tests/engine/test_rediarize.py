"""Speaker separation alone over a recording (``Pipeline.rediarize``): the diarization worker only, a voice count
that is obeyed, progress, cancellation, and a clear error when separation is turned off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tbdesktop.engine.errors import Cancelled, EngineError
from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

pytestmark = pytest.mark.slow


def test_rediarize_obeys_the_voice_count(model_cache: Path, two_speaker: Any) -> None:
    wav, turns, _ = two_speaker
    stages: list[tuple[str, float]] = []
    with Pipeline(PipelineOptions(cache_dir=model_cache, device="cpu")) as pipeline:
        two = pipeline.rediarize(wav, num_speakers=2, on_progress=lambda st, f, _eta: stages.append((st, f)))
        one = pipeline.rediarize(wav, num_speakers=1)
        assert pipeline.asr_worker.pid is None  # transcription was never started
    assert len(two.speakers) == 2 and two.turns
    assert {t.speaker for t in two.turns} == set(two.speakers)
    assert [s for s, _ in stages][0] == "preprocessing" and stages[-1] == ("diarizing", 1.0)
    end = max(t["end"] for t in turns)
    assert all(0.0 <= t.start < t.end <= end + 1.0 for t in two.turns)
    assert len(one.speakers) == 1


def test_rediarize_can_be_cancelled(pipeline: Any, two_speaker: Any) -> None:
    with pytest.raises(Cancelled):
        pipeline.rediarize(two_speaker[0], num_speakers=2, should_cancel=lambda: True)


def test_rediarize_without_separation_is_refused(model_cache: Path, two_speaker: Any) -> None:
    with Pipeline(PipelineOptions(cache_dir=model_cache, device="cpu", diarization_backend="none")) as off:
        with pytest.raises(EngineError, match="turned off"):
            off.rediarize(two_speaker[0], num_speakers=2)
