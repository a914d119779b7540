"""Progress heartbeat and prompt cancellation of the local transcriber, with a stand-in model."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from polling import heartbeats, poll

from tbdesktop.engine.asr import local
from tbdesktop.engine.errors import Cancelled, ModelError


class _SlowModel:
    """Yields segment ``i`` once ``pace(i)`` returns, like a slow CPU working through 30 s windows."""

    def __init__(self, segments: int, pace: Callable[[int], object]) -> None:
        self.segments = segments
        self.pace = pace
        self.produced = 0
        self.finished = threading.Event()

    def transcribe(self, audio: Any, **kwargs: Any) -> tuple[Iterator[Any], Any]:
        assert kwargs["clip_timestamps"]  # only the speech windows the caller packed
        assert kwargs["word_timestamps"] is True
        info = SimpleNamespace(language="en", language_probability=0.9, duration_after_vad=10.0)

        def generate() -> Iterator[Any]:
            try:
                for i in range(self.segments):
                    self.pace(i)
                    self.produced += 1
                    word = SimpleNamespace(start=i * 2.0, end=i * 2.0 + 1.0, word=" word", probability=0.9)
                    yield SimpleNamespace(start=i * 2.0, end=i * 2.0 + 1.5, text=" word", words=[word])
            finally:
                self.finished.set()

        return generate(), info


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Any], local.LocalTranscriber]:
    """Transcribers built by the real constructor on the CPU, faster-whisper handing over the stand-in model
    as its batched pipeline instead of loading one."""
    import faster_whisper

    whisper = SimpleNamespace(hf_tokenizer=SimpleNamespace(decode=lambda ids: ""), model=SimpleNamespace())
    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda path, **kwargs: whisper)

    def build(batched: Any) -> local.LocalTranscriber:
        monkeypatch.setattr(faster_whisper, "BatchedInferencePipeline", lambda model: batched)
        transcriber = local.LocalTranscriber(tmp_path, device="cpu", batch_size=8, beam_size=2, parallel=1)
        assert (transcriber.beam_size, transcriber.retry_beam_size, transcriber.batch_size) == (2, 0, 8)
        return transcriber

    return build


def test_heartbeat_reports_while_the_model_works(
    monkeypatch: Any, stand_in: Callable[[Any], local.LocalTranscriber]
) -> None:
    monkeypatch.setattr(local, "HEARTBEAT_S", 0.05)
    events: list[tuple[str, float, float | None]] = []
    # Segment i comes once the caller has heard 2 (i + 1) heartbeats (or after 10 s: then the count below fails).
    model = _SlowModel(segments=3, pace=lambda i: poll(lambda: heartbeats(events) >= 2 * (i + 1), 10.0))
    result = stand_in(model).transcribe(
        np.zeros(16000 * 8, dtype=np.float32),
        regions=[(0.0, 8.0)],
        language="en",
        on_progress=lambda s, f, e: events.append((s, f, e)),
    )
    assert len(result.segments) == 3
    fractions = [f for _, f, _ in events]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    # Several reports per segment: the caller hears from the engine even between segments.
    assert heartbeats(events) >= 6, events
    assert len(events) >= 3 * 3
    etas = [e for _, f, e in events if 0 < f < 1]
    assert all(e is not None and e >= 0 for e in etas)


def test_cancel_returns_before_the_model_finishes(stand_in: Callable[[Any], local.LocalTranscriber]) -> None:
    release = threading.Event()
    # The first segment comes at once; each later one only once the test releases the stand-in.
    model = _SlowModel(segments=20, pace=lambda i: i == 0 or release.wait(30))
    with pytest.raises(Cancelled):
        stand_in(model).transcribe(
            np.zeros(16000 * 40, dtype=np.float32),
            regions=[(0.0, 30.0)],
            language="en",
            should_cancel=lambda: model.produced >= 1,  # cancelled while the model is at work
        )
    assert not model.finished.is_set()  # returned while the stand-in was still working
    release.set()
    assert model.finished.wait(10)  # and the helper stopped at the next segment boundary
    assert model.produced <= 2  # no more than the segment under way when the cancel was seen


def test_model_errors_reach_the_caller(stand_in: Callable[[Any], local.LocalTranscriber]) -> None:
    class Broken:
        def transcribe(self, audio: Any, **kwargs: Any) -> Any:
            raise RuntimeError("device lost")

    transcriber = stand_in(Broken())
    with pytest.raises(ModelError, match="failed while transcribing") as info:
        transcriber.transcribe(np.zeros(16000, dtype=np.float32), regions=[(0.0, 1.0)], language="en")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_device_and_compute_type_resolution() -> None:
    assert local.resolve_compute_type("auto", "cuda") == "float16"
    assert local.resolve_compute_type("auto", "cpu") == "int8"
    assert local.resolve_compute_type("int8_float16", "cuda") == "int8_float16"
    assert local.resolve_device("cpu") == "cpu"
    assert local.resolve_device("auto") in {"cpu", "cuda"}


def test_importing_the_engine_stays_light() -> None:
    code = (
        "import sys, tbdesktop.engine.pipeline, tbdesktop.engine.audio, tbdesktop.engine.models, "
        "tbdesktop.engine.asr.local, tbdesktop.engine.diarization.local, tbdesktop.engine.merge; "
        "heavy = {'faster_whisper', 'ctranslate2', 'av', 'PySide6', 'sqlalchemy'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
