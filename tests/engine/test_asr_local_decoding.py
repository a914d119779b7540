"""How the local transcriber decodes on a CPU: a greedy batched pass, windows encoded and aligned one at a time,
and the windows the greedy pass was unsure of decoded again with the beam — with the real offline model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine import audio
from tbdesktop.engine.asr import local
from tbdesktop.engine.asr.local import LocalTranscriber
from tbdesktop.engine.models import resolve_model

pytestmark = pytest.mark.slow


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def transcriber(model_cache_dir: Path) -> LocalTranscriber:
    return LocalTranscriber(resolve_model("base", model_cache_dir), device="cpu")


@pytest.fixture(scope="module")
def samples(speech_fixtures: Any) -> Any:
    return audio.decode(speech_fixtures["session"])


def test_cpu_defaults_are_greedy_batched_with_a_beam_retry(model_cache_dir: Path) -> None:
    auto = LocalTranscriber(resolve_model("base", model_cache_dir), device="cpu")
    assert (auto.beam_size, auto.retry_beam_size, auto.batch_size) == (1, local.DEFAULT_BEAM_SIZE, 4)
    # an explicit beam is used for every window, one window per call, with no second pass
    fixed = LocalTranscriber(resolve_model("base", model_cache_dir), device="cpu", beam_size=5)
    assert (fixed.beam_size, fixed.retry_beam_size, fixed.batch_size) == (5, 0, 1)
    assert fixed._model.model.retry_beam_size == 0


def test_windows_are_encoded_and_aligned_alone_with_the_batched_results(transcriber: LocalTranscriber) -> None:
    import ctranslate2

    wrapped = transcriber._model.model
    inner = wrapped._model
    rng = np.random.default_rng(3)
    features = rng.standard_normal((3, 80, 3000)).astype(np.float32)
    together = np.asarray(inner.encode(ctranslate2.StorageView.from_array(features)))
    alone = np.asarray(wrapped.encode(ctranslate2.StorageView.from_array(features)))
    assert alone.shape == together.shape == (3, 1500, 512)
    np.testing.assert_allclose(alone, together, atol=2e-2, rtol=0)

    encoded = ctranslate2.StorageView.from_array(alone)
    tokenizer = transcriber._model.hf_tokenizer
    texts = [tokenizer.encode(t).ids for t in (" Hello there.", " How are you today?", " Fine.")]
    from faster_whisper.tokenizer import Tokenizer

    sot = Tokenizer(tokenizer, True, task="transcribe", language="en").sot_sequence
    batched = inner.align(encoded, sot, texts, [3000, 2000, 1000])
    one_by_one = wrapped.align(encoded, sot, texts, [3000, 2000, 1000])
    assert len(one_by_one) == 3
    for a, b in zip(batched, one_by_one, strict=True):
        assert [tuple(p) for p in a.alignments] == [tuple(p) for p in b.alignments]


def test_unsure_windows_are_decoded_again_with_the_beam(
    transcriber: LocalTranscriber, samples: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped = transcriber._model.model
    monkeypatch.setattr(local, "RETRY_LOGPROB", float("-inf"))  # never unsure
    wrapped.retried = 0
    greedy = transcriber.transcribe(samples, language="en")
    assert wrapped.retried == 0

    monkeypatch.setattr(local, "RETRY_LOGPROB", 0.0)  # every window is unsure
    retried = transcriber.transcribe(samples, language="en")
    assert wrapped.retried >= 1
    # the beam's text replaces the greedy text, word times and all, on the recording's clock
    heard = _words(" ".join(s.text for s in retried.segments))
    assert "breathing" in heard
    assert len(heard & _words(" ".join(s.text for s in greedy.segments))) >= 0.8 * len(heard)
    for segment in retried.segments:
        assert segment.words
        assert all(segment.start - 0.01 <= w.start <= w.end <= segment.end + 0.01 for w in segment.words)


def test_a_greedy_repetition_loop_is_decoded_again_with_the_beam(transcriber: LocalTranscriber) -> None:
    wrapped = transcriber._model.model
    tokenizer = transcriber._model.hf_tokenizer
    loop = tokenizer.encode(" no" * 60).ids
    honest = tokenizer.encode(" I have been sleeping badly since the move.").ids
    result = type("Result", (), {"sequences_ids": [loop], "scores": [-0.05]})()
    assert wrapped._unsure(result, 1.0)
    result.sequences_ids = [honest]
    assert not wrapped._unsure(result, 1.0)
