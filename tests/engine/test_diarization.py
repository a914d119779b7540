"""Diarization: VAD regions, the CAM++ speaker model, clustering, word/turn merging and roles."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine import merge, roles, vad
from tbdesktop.engine.diarization import cluster as cluster_mod
from tbdesktop.engine.diarization import speaker_model as sm
from tbdesktop.engine.diarization.campplus import MIN_FRAMES
from tbdesktop.engine.diarization.local import STEP_FRAMES, WINDOW_FRAMES, WINDOW_S, LocalDiarizer, plan_windows
from tbdesktop.engine.errors import Cancelled, ModelError
from tbdesktop.engine.types import Segment, SpeakerTurn, Word

# -- speaker model ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speaker_model_path(model_cache_dir: Path) -> Path:
    return sm.install_speaker_model(model_cache_dir)


def test_speaker_model_install_is_verified_and_cached(speaker_model_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    target = sm.model_path(cache)
    target.parent.mkdir(parents=True)
    shutil.copyfile(speaker_model_path, target)
    shutil.copyfile(speaker_model_path.parent / sm.MARKER, target.parent / sm.MARKER)
    stamp = target.stat().st_mtime_ns
    assert sm.install_speaker_model(cache) == target
    assert target.stat().st_mtime_ns == stamp  # verified, not converted again
    marker = json.loads((target.parent / sm.MARKER).read_text())
    assert marker["source_sha256"] == sm.SOURCE_SHA256
    assert marker["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte damaged: the digest no longer matches
    target.write_bytes(bytes(data))
    repaired = sm.install_speaker_model(cache)
    assert repaired.read_bytes() == speaker_model_path.read_bytes()
    marker["graph"] -= 1  # built by an older graph builder: built again
    (target.parent / sm.MARKER).write_text(json.dumps(marker))
    stamp = target.stat().st_mtime_ns
    assert sm.install_speaker_model(cache).stat().st_mtime_ns != stamp
    assert json.loads((target.parent / sm.MARKER).read_text())["graph"] == marker["graph"] + 1


def test_bundled_speaker_model_is_copied_without_the_weights_package(
    speaker_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle" / sm.BUNDLE_DIR
    bundle.mkdir(parents=True)
    shutil.copyfile(speaker_model_path, bundle / sm.MODEL_FILENAME)
    shutil.copyfile(speaker_model_path.parent / sm.MARKER, bundle / sm.MARKER)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setattr(sm, "weights_source", lambda: None)
    installed = sm.install_speaker_model(tmp_path / "cache")
    assert installed.read_bytes() == speaker_model_path.read_bytes()
    (bundle / sm.MODEL_FILENAME).write_bytes(b"damaged")
    with pytest.raises(ModelError, match="bundled speaker model is damaged"):
        sm.install_speaker_model(tmp_path / "cache2")


def test_speaker_model_refuses_a_damaged_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="could not be loaded"):
        sm.SpeakerModel(bad)
    with pytest.raises(ModelError, match="checksum"):
        sm.build_from_checkpoint(bad)


def test_speaker_model_gives_unit_embeddings_for_any_length(speaker_model_path: Path) -> None:
    model = sm.SpeakerModel(speaker_model_path)
    rng = np.random.default_rng(3)
    for frames in (MIN_FRAMES, 148, 230):
        out = model.embed(rng.standard_normal((2, frames, 80)).astype(np.float32))
        assert out.shape == (2, 192)
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


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
                threshold=params.threshold,
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


def test_a_hint_finds_a_quiet_voice_but_never_keeps_one_that_is_not_there() -> None:
    # A couples session whose partner speaks in few windows: the hint of three voices finds them.
    x, truth = _blobs([60, 40, 8], spread=0.2, seed=3)
    labels = cluster_mod.cluster(x, speakers_hint=3)
    assert len(set(labels.tolist())) == 3
    assert len(set(labels[truth == 2].tolist())) == 1
    # A monologue imported as an individual (hint 2) or a couples session (hint 3): one voice.
    x, _ = _blobs([80], spread=0.2, seed=4)
    for hint in (None, 2, 3):
        assert set(cluster_mod.cluster(x, speakers_hint=hint).tolist()) == {0}


def test_short_windows_join_the_nearest_voice_instead_of_making_one() -> None:
    # One voice whose short snippets all lean one way (as CAM++ embeddings of very short audio do): clustered
    # together they look like a second voice; marked unreliable, they join the voice.
    rng = np.random.default_rng(5)
    voice = rng.standard_normal(192)
    lean = rng.standard_normal(192)
    long = voice + 0.25 * np.linalg.norm(voice) * rng.standard_normal((60, 192)) / np.sqrt(192)
    short = voice + 1.2 * lean + 0.25 * np.linalg.norm(voice) * rng.standard_normal((25, 192)) / np.sqrt(192)
    x = np.concatenate([long, short]).astype(np.float32)
    reliable = np.array([True] * 60 + [False] * 25)
    assert len(set(cluster_mod.cluster(x, speakers_hint=2).tolist())) == 2  # the failure being guarded against
    assert set(cluster_mod.cluster(x, speakers_hint=2, reliable=reliable).tolist()) == {0}
    # Two real voices stay two, and short windows go to the voice they are nearest.
    y, truth = _blobs([40, 40], seed=6)
    mask = np.ones(80, dtype=bool)
    mask[::7] = False
    labels = cluster_mod.cluster(y, speakers_hint=2, reliable=mask)
    assert len(set(labels.tolist())) == 2
    for i in range(2):
        assert len(set(labels[truth == i].tolist())) == 1


def test_windows_cover_every_region() -> None:
    windows = plan_windows([(0.0, 1.0), (2.0, 6.0), (7.0, 7.03)], 16000 * 10)
    assert {w.region for w in windows} == {0, 1, 2}
    assert windows[0].start == 0.0 and windows[0].end == pytest.approx(1.0, abs=0.01)  # its own audio only
    assert windows[0].frames == 98
    inside = [w for w in windows if w.region == 1]
    assert inside[0].start == 2.0
    assert inside[-1].end == pytest.approx(6.0, abs=0.01)  # the last window ends with the region
    assert all(w.end - w.start == pytest.approx(WINDOW_S) and w.frames == WINDOW_FRAMES for w in inside)
    assert [w.first_frame for w in inside][:-1] == [i * STEP_FRAMES for i in range(len(inside) - 1)]
    assert windows[-1].frames == MIN_FRAMES  # a blip still gives the model enough frames


def test_region_frames_are_sliced_into_the_windows_own_frames() -> None:
    from tbdesktop.engine.diarization.fbank import fbank
    from tbdesktop.engine.diarization.local import _RegionFrames

    rng = np.random.default_rng(5)
    audio = (0.1 * rng.standard_normal(16000 * 6)).astype(np.float32)
    regions = [(0.5, 4.7)]
    frames = _RegionFrames(audio, regions)
    for w in plan_windows(regions, audio.shape[0]):
        first = int(round(w.start * 16000))
        own = fbank(audio[first : int(round(w.end * 16000))])
        assert own.shape[0] == w.frames
        assert np.allclose(frames.window(w), own - own.mean(axis=0), atol=1e-5)


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
    script.write_wav(path, np.concatenate(pieces))
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
    fixture_script: ModuleType, speaker_model_path: Path, tmp_path: Path, voices: list[str], pattern: list[int]
) -> None:
    from tbdesktop.engine import audio

    path, truth = _voices_session(fixture_script, tmp_path, voices, pattern)
    samples = audio.decode(path)
    regions = vad.speech_regions(vad.SileroVad().probabilities(samples), samples.shape[0], vad.DIARIZATION_PARAMS)
    events: list[float] = []
    result = LocalDiarizer(speaker_model_path).diarize(
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
        LocalDiarizer(speaker_model_path).diarize(samples, regions=regions, should_cancel=lambda: True)


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
