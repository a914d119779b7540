"""Diarization: VAD regions, the numpy speaker encoder, clustering, word/turn merging and roles."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine import merge, roles, vad
from tbdesktop.engine.diarization import cluster as cluster_mod
from tbdesktop.engine.diarization import encoder as enc
from tbdesktop.engine.diarization.local import WINDOW_S, LocalDiarizer, plan_windows
from tbdesktop.engine.errors import Cancelled, ModelError
from tbdesktop.engine.types import Segment, SpeakerTurn, Word

DATA = Path(__file__).parent / "data"


# -- speaker encoder ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder_weights(model_cache_dir: Path) -> Path:
    return enc.install_encoder(model_cache_dir)


def _reference_signal() -> np.ndarray:
    # the same signal as scripts/encoder_reference.py, which computed the expected embedding with PyTorch
    rng = np.random.default_rng(20261125)
    t = np.arange(16000 * 2) / 16000
    voiced = 0.2 * np.sin(2 * np.pi * 140 * t) + 0.1 * np.sin(2 * np.pi * 280 * t + 0.3)
    return (voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_numpy_encoder_matches_pytorch(encoder_weights: Path) -> None:
    expected = np.array(json.loads((DATA / "encoder_reference.json").read_text())["embedding"], dtype=np.float32)
    mels = enc.mel_frames(_reference_signal())[: enc.PARTIAL_FRAMES]
    got = enc.SpeakerEncoder(encoder_weights).embed(mels[None])[0]
    assert np.abs(got - expected).max() < 1e-5
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-5)


def test_mel_filterbank_shape_and_coverage() -> None:
    filters = enc.mel_filterbank()
    assert filters.shape == (40, 201)
    assert (filters >= 0).all()
    assert (filters.sum(axis=1) > 0).all()  # every band sees some frequencies


def test_encoder_install_is_verified_and_cached(tmp_path: Path) -> None:
    first = enc.install_encoder(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert enc.install_encoder(tmp_path) == first
    assert first.stat().st_mtime_ns == stamp  # not converted twice
    first.write_bytes(b"damaged")
    repaired = enc.install_encoder(tmp_path)  # the marker no longer matches: converted again
    assert repaired.stat().st_size > 1_000_000


def test_encoder_refuses_a_damaged_weights_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not numpy")
    with pytest.raises(ModelError, match="could not be loaded"):
        enc.SpeakerEncoder(bad)


def test_legacy_reader_refuses_code_in_the_pickle(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "evil.pt"
    with path.open("wb") as fh:
        for header in (1, 2, {}):
            pickle.dump(header, fh)
        pickle.dump(tempfile.mkdtemp, fh)  # any global that is not a tensor part is refused
    with pytest.raises(pickle.UnpicklingError):
        enc.read_legacy_state_dict(path)


# -- voice activity -----------------------------------------------------------------------------------------


def test_vad_regions_match_faster_whisper(speech_fixtures: Any) -> None:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from tbdesktop.engine import audio

    samples = audio.decode(speech_fixtures["session"])
    probs = vad.SileroVad().probabilities(samples)
    for params in (vad.ASR_PARAMS, vad.DIARIZATION_PARAMS, vad.VadParams()):
        ours = vad.speech_regions(probs, samples.shape[0], params)
        theirs = get_speech_timestamps(
            samples,
            VadOptions(
                min_silence_duration_ms=params.min_silence_ms,
                speech_pad_ms=params.speech_pad_ms,
                min_speech_duration_ms=params.min_speech_ms,
                max_speech_duration_s=params.max_speech_s,
            ),
        )
        assert ours == [(r["start"] / 16000, r["end"] / 16000) for r in theirs]


def test_vad_finds_nothing_in_silence_and_cancels() -> None:
    silence = np.zeros(16000 * 10, dtype=np.float32)
    model = vad.SileroVad()
    assert vad.speech_regions(model.probabilities(silence), silence.shape[0], vad.ASR_PARAMS) == []
    with pytest.raises(Cancelled):
        model.probabilities(np.zeros(16000 * 600, dtype=np.float32), should_cancel=lambda: True)


# -- clustering ---------------------------------------------------------------------------------------------


def _blobs(counts: list[int], spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(counts), 256))
    points, labels = [], []
    for i, n in enumerate(counts):
        points.append(centres[i] + spread * rng.standard_normal((n, 256)))
        labels += [i] * n
    x = np.concatenate(points).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(labels)


@pytest.mark.parametrize("counts", [[40], [30, 25], [20, 30, 15], [15, 15, 15, 15]])
def test_cluster_finds_the_number_of_speakers(counts: list[int]) -> None:
    x, truth = _blobs(counts)
    labels = cluster_mod.cluster(x)
    assert len(set(labels.tolist())) == len(counts)
    # labels agree with the truth up to renaming
    for i in range(len(counts)):
        assert len(set(labels[truth == i].tolist())) == 1


def test_cluster_respects_a_fixed_count_and_tiny_inputs() -> None:
    x, _ = _blobs([20, 20])
    assert len(set(cluster_mod.cluster(x, num_speakers=2).tolist())) == 2
    assert cluster_mod.cluster(x[:1]).tolist() == [0]
    assert cluster_mod.cluster(x[:0]).tolist() == []


def test_eigengap_hint_breaks_close_calls() -> None:
    eigen = np.array([0.0, 0.01, 0.50, 0.62, 0.75, 0.85, 1.0])
    assert cluster_mod.estimate_count(eigen, 1, 6, None) == 2
    assert cluster_mod.estimate_count(eigen, 1, 6, 3) == 2  # gap after 3 is far smaller: the hint loses
    eigen = np.array([0.0, 0.01, 0.02, 0.40, 0.85, 0.9, 1.0])
    assert cluster_mod.estimate_count(eigen, 1, 6, None) == 4
    assert cluster_mod.estimate_count(eigen, 1, 6, 3) == 3  # comparable gaps: the hint wins


def test_windows_cover_every_region() -> None:
    windows = plan_windows([(0.0, 1.0), (2.0, 6.0)], 10.0)
    assert {region for _, _, region in windows} == {0, 1}
    assert windows[0] == (0.0, 1.0, 0)  # a short region is one window of its own audio
    inside = [(s, e) for s, e, r in windows if r == 1]
    assert inside[0][0] == 2.0
    assert inside[-1][1] == pytest.approx(6.0)
    assert all(e - s == pytest.approx(WINDOW_S) for s, e in inside)


# -- diarizing real voices ----------------------------------------------------------------------------------


def _voices_session(script: ModuleType, out: Path, voices: list[str], pattern: list[int]) -> tuple[Path, list[Any]]:
    lines = [
        "How have you been feeling since we last met?",
        "I have been sleeping better, but work is still stressful.",
        "We argue less at home now, which helps a lot.",
        "What do you notice when the stress starts to build?",
    ]
    pieces = [np.zeros(8000, dtype=np.int16)]
    turns: list[tuple[float, float, int]] = []
    cursor = 8000
    for k, speaker in enumerate(pattern):
        speech = script._speak(lines[k % len(lines)], voices[speaker], out / f"t{k}.wav")
        turns.append((cursor / 16000, (cursor + len(speech)) / 16000, speaker))
        pieces += [speech, np.zeros(9600, dtype=np.int16)]
        cursor += len(speech) + 9600
    path = out / "voices.wav"
    script._write_wav(path, np.concatenate(pieces))
    return path, turns


@pytest.mark.slow
@pytest.mark.parametrize(
    ("voices", "pattern"),
    [
        (["en-us"], [0, 0, 0]),
        (["en-us", "en+f3"], [0, 1, 0, 1, 0, 1]),
        (["en-us", "en+f3", "en+klatt"], [0, 1, 2, 0, 2, 1, 0]),
    ],
    ids=["one", "two", "three"],
)
def test_local_diarizer_separates_voices(
    fixture_script: ModuleType, encoder_weights: Path, tmp_path: Path, voices: list[str], pattern: list[int]
) -> None:
    from tbdesktop.engine import audio

    path, truth = _voices_session(fixture_script, tmp_path, voices, pattern)
    samples = audio.decode(path)
    regions = vad.speech_regions(vad.SileroVad().probabilities(samples), samples.shape[0], vad.DIARIZATION_PARAMS)
    events: list[float] = []
    result = LocalDiarizer(encoder_weights).diarize(
        samples, regions=regions, on_progress=lambda s, f, e: events.append(f)
    )
    assert len(result.speakers) == len(voices)
    assert events[-1] == 1.0 and events == sorted(events)
    mapping: dict[int, str] = {}
    for start, end, speaker in truth:
        overlap: dict[str, float] = {}
        for t in result.turns:
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + max(0.0, min(end, t.end) - max(start, t.start))
        best = max(overlap, key=lambda k: overlap[k])
        assert overlap[best] >= 0.8 * (end - start)
        assert mapping.setdefault(speaker, best) == best
    assert len(set(mapping.values())) == len(voices)
    # exclusive turns, in order
    for a, b in zip(result.turns, result.turns[1:], strict=False):
        assert a.end <= b.start
    with pytest.raises(Cancelled):
        LocalDiarizer(encoder_weights).diarize(samples, regions=regions, should_cancel=lambda: True)


# -- merging words with turns -------------------------------------------------------------------------------


def _segment(words: list[tuple[float, float, str]]) -> Segment:
    ws = tuple(Word(s, e, w, 0.9) for s, e, w in words)
    return Segment(ws[0].start, ws[-1].end, "".join(w.word for w in ws).strip(), "SPEAKER_00", ws)


def test_words_take_the_turn_they_overlap_most_and_segments_split() -> None:
    seg = _segment([(0.0, 0.4, " How"), (0.4, 0.8, " are"), (0.8, 1.2, " you?"), (1.5, 1.9, " Fine"), (1.9, 2.3, ".")])
    turns = [SpeakerTurn(0.0, 1.3, "SPEAKER_00"), SpeakerTurn(1.3, 2.5, "SPEAKER_01")]
    out = merge.assign_speakers([seg], turns)
    assert [(s.speaker, s.text) for s in out] == [("SPEAKER_00", "How are you?"), ("SPEAKER_01", "Fine.")]


def test_one_word_flip_is_smoothed_but_a_real_reply_is_kept() -> None:
    words = [(0.0, 0.5, " I"), (0.5, 1.0, " was"), (1.0, 1.5, " really"), (1.5, 2.0, " tired")]
    # "really" lies mostly outside the other speaker's short turn: a diarization flicker
    a, b = "SPEAKER_00", "SPEAKER_01"
    flicker = [SpeakerTurn(0.0, 1.2, a), SpeakerTurn(1.2, 1.4, b), SpeakerTurn(1.4, 3, a)]
    assert [s.speaker for s in merge.assign_speakers([_segment(words)], flicker)] == ["SPEAKER_00"]
    # a word wholly inside the other speaker's turn is a real interjection
    reply = [SpeakerTurn(0.0, 1.0, a), SpeakerTurn(1.0, 1.5, b), SpeakerTurn(1.5, 3, a)]
    assert [s.speaker for s in merge.assign_speakers([_segment(words)], reply)] == [
        "SPEAKER_00",
        "SPEAKER_01",
        "SPEAKER_00",
    ]


def test_long_pause_splits_and_words_outside_turns_go_to_the_nearest() -> None:
    seg = _segment([(0.0, 0.5, " Yes"), (3.0, 3.5, " okay")])
    out = merge.assign_speakers([seg], [SpeakerTurn(0.0, 0.6, "SPEAKER_01")])
    assert [(s.speaker, s.text) for s in out] == [("SPEAKER_01", "Yes"), ("SPEAKER_01", "okay")]
    assert merge.assign_speakers([seg], [])[0].speaker == "SPEAKER_00"


# -- roles --------------------------------------------------------------------------------------------------


def _said(speaker: str, start: float, text: str) -> Segment:
    return Segment(start, start + 0.3 * len(text.split()), text, speaker)


def test_roles_from_questions_opening_and_talk_share() -> None:
    segs = [
        _said("SPEAKER_01", 0, "Hi, thanks for seeing me."),
        _said("SPEAKER_00", 3, "Of course. How has your week been?"),
        _said("SPEAKER_01", 6, "It was hard. I could not sleep and I kept thinking about my job all the time."),
        _said("SPEAKER_00", 12, "What do you think kept you awake?"),
        _said("SPEAKER_01", 15, "Mostly worry about money and about my mother being ill again this winter."),
    ]
    assert roles.assign_roles(segs) == {"SPEAKER_00": "therapist", "SPEAKER_01": "client"}


def test_couples_roles_and_quiet_speakers() -> None:
    segs = [
        _said("SPEAKER_00", 0, "Welcome both. What brings you in today?"),
        _said("SPEAKER_01", 3, "We keep arguing about small things and it has become exhausting for both of us."),
        _said("SPEAKER_02", 9, "I think we stopped listening to each other."),
        _said("SPEAKER_00", 12, "When did you first notice that?"),
        _said("SPEAKER_03", 14, "Hm"),
    ]
    assert roles.assign_roles(segs, speakers_hint=3) == {
        "SPEAKER_00": "therapist",
        "SPEAKER_01": "client",
        "SPEAKER_02": "partner",
        "SPEAKER_03": "other",
    }
    assert roles.assign_roles([]) == {}
    assert roles.assign_roles([_said("SPEAKER_00", 0, "Today I want to talk about my week at work.")]) == {
        "SPEAKER_00": "client"
    }


def test_long_sessions_cluster_a_sample_and_assign_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_mod, "MAX_SPECTRAL", 60)
    x, truth = _blobs([90, 70, 40])
    labels = cluster_mod.cluster(x)
    assert len(set(labels.tolist())) == 3
    for i in range(3):
        assert len(set(labels[truth == i].tolist())) == 1
