"""The accuracy tooling of `make eval` / `make bench`: metric code and the synthetic-session builder."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"


def _load(name: str) -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


em = _load("eval_metrics")

TRUTH: dict[str, Any] = {
    "duration_s": 20.0,
    "roles": {"A": "therapist", "B": "client"},
    "turns": [
        {"start": 0.5, "end": 4.0, "speaker": "A", "role": "therapist", "text": "How have you been sleeping?"},
        {"start": 4.5, "end": 9.5, "speaker": "B", "role": "client", "text": "Not well, I wake up at 3 a.m."},
        {"start": 10.0, "end": 14.0, "speaker": "A", "role": "therapist", "text": "Did the exercise help?"},
        {"start": 14.5, "end": 19.5, "speaker": "B", "role": "client", "text": "Yes, it helped a little."},
    ],
}


def _relabel(result: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The same result with different speaker ids (a diarizer's own labels)."""
    out = dict(result)
    out["turns"] = [{**t, "speaker": names[t["speaker"]]} for t in result["turns"]]
    out["segments"] = [{**s, "speaker": names[s["speaker"]]} for s in result["segments"]]
    out["speakers"] = [{**s, "id": names[s["id"]]} for s in result["speakers"]]
    return out


def test_normalise_lowercases_drops_punctuation_fillers_and_spells_numbers() -> None:
    assert em.normalise("Um, I drink 12 beers -- on the 3rd; 50% of days. OK?") == (
        "i drink twelve beers on the third fifty percent of days okay"
    )
    assert em.normalise("I don't know, mm-hmm, 1990s") == "i dont know one thousand nine hundred ninetys"
    assert em.normalise("twelve") == em.normalise("12")


def test_truth_as_hypothesis_scores_perfectly_under_any_speaker_labels() -> None:
    result = _relabel(em.truth_as_result(TRUTH), {"A": "SPEAKER_01", "B": "SPEAKER_00"})
    score = em.score_session(TRUTH, result)
    assert score.wer.wer == 0.0
    assert score.der.der == 0.0
    assert score.der_collar.der == 0.0
    assert score.roles.speaker_accuracy == 1.0
    assert score.roles.word_accuracy == 1.0
    assert score.roles.words_scored == score.wer.ref_words
    assert (score.speakers_found, score.speakers_truth) == (2, 2)


def test_swapped_roles_score_zero_role_accuracy_but_perfect_der() -> None:
    result = em.truth_as_result(TRUTH)
    swap = {"therapist": "client", "client": "therapist"}
    result["speakers"] = [{**s, "role": swap[s["role"]]} for s in result["speakers"]]
    result["segments"] = [{**s, "role": swap[s["role"]]} for s in result["segments"]]
    score = em.score_session(TRUTH, result)
    assert score.der.der == 0.0
    assert score.roles.speaker_accuracy == 0.0
    assert score.roles.word_accuracy == 0.0


def test_boundary_error_gives_the_expected_der_with_and_without_collar() -> None:
    reference = [{"start": 0.0, "end": 10.0, "speaker": "A"}, {"start": 10.0, "end": 20.0, "speaker": "B"}]
    hypothesis = [{"start": 0.0, "end": 12.0, "speaker": "x"}, {"start": 12.0, "end": 20.0, "speaker": "y"}]
    assert em.diarization_error(reference, hypothesis, 20.0).der == pytest.approx(2.0 / 20.0)
    # pyannote's collar is the total width: 0.25 s removes ±0.125 s around every reference boundary
    # (0, 10 and 20 s here), so 1.875 s of confusion remain out of 19.5 s scored.
    collared = em.diarization_error(reference, hypothesis, 20.0, collar=0.25)
    assert collared.confusion == pytest.approx(1.875)
    assert collared.total == pytest.approx(19.5)
    assert collared.der == pytest.approx(1.875 / 19.5)


def test_missed_speech_and_false_alarm_count_against_the_whole_file() -> None:
    reference = [{"start": 1.0, "end": 5.0, "speaker": "A"}, {"start": 6.0, "end": 10.0, "speaker": "B"}]
    hypothesis = [{"start": 1.0, "end": 4.0, "speaker": "x"}, {"start": 6.0, "end": 11.0, "speaker": "y"}]
    score = em.diarization_error(reference, hypothesis, 12.0)
    assert (score.missed, score.false_alarm, score.confusion) == pytest.approx((1.0, 1.0, 0.0))
    assert score.der == pytest.approx(2.0 / 8.0)


def test_one_speaker_hypothesis_finds_one_speaker_and_confuses_the_other() -> None:
    result = em.truth_as_result(TRUTH)
    result["turns"] = [{"start": t["start"], "end": t["end"], "speaker": "S"} for t in TRUTH["turns"]]
    result["segments"] = [{**s, "speaker": "S", "role": "client"} for s in result["segments"]]
    result["speakers"] = [{"id": "S", "role": "client"}]
    score = em.score_session(TRUTH, result)
    assert score.speakers_found == 1
    # S is matched to B (10 s of overlap against A's 7.5 s), so A's 7.5 s of 17.5 s of speech are confusion.
    assert score.der.der == pytest.approx(7.5 / 17.5)
    assert score.roles.speaker_accuracy == 0.5  # B's match is a client; A has no match
    client_words = len(em.normalise(" ".join(t["text"] for t in TRUTH["turns"] if t["speaker"] == "B")).split())
    assert score.roles.word_accuracy == pytest.approx(client_words / score.wer.ref_words)


def test_known_word_errors() -> None:
    errors = em.word_errors("the cat sat on the mat", "the cat sat on mat")
    assert (errors.deletions, errors.ref_words) == (1, 6)
    assert errors.wer == pytest.approx(1 / 6)
    errors = em.word_errors(["I drink 12 beers.", "Really?"], "i drink twelve bears really")
    assert (errors.substitutions, errors.errors, errors.ref_words) == (1, 1, 5)
    assert em.word_errors("hello", "").wer == 1.0
    pooled = em.word_errors("a b c d", "a b c d") + em.word_errors("a b", "a x")
    assert pooled.wer == pytest.approx(1 / 6)


def test_word_role_accuracy_counts_words_given_to_the_wrong_speaker() -> None:
    result = em.truth_as_result(TRUTH)
    # The first client turn's text is attributed to the therapist's segment.
    segments = result["segments"]
    segments[0] = {**segments[0], "text": segments[0]["text"] + " " + segments[1]["text"]}
    segments[1] = {**segments[1], "text": ""}
    score = em.score_session(TRUTH, result)
    moved = len(em.normalise(TRUTH["turns"][1]["text"]).split())
    assert score.wer.wer == 0.0
    assert score.roles.speaker_accuracy == 1.0
    assert score.roles.words_correct == score.wer.ref_words - moved


def test_speech_only_reference_cuts_pauses_out_of_turns() -> None:
    turns = [{"start": 1.0, "end": 5.0, "speaker": "A", "pauses": [[2.0, 2.5], [3.0, 3.2]]}]
    assert [(t["start"], t["end"]) for t in em.speech_only(turns)] == [(1.0, 2.0), (2.5, 3.0), (3.2, 5.0)]


# --- fixture builder ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixtures_module() -> ModuleType:
    return _load("eval_fixtures")


def _spec(module: ModuleType, name: str, **extra: Any) -> Any:
    lines = [
        ("A", "How have you been sleeping lately?"),
        ("B", "Not very well. I keep waking up at night."),
        ("A", "What wakes you?"),
        ("B", "Worry, mostly about work."),
    ]
    return module.SessionSpec(
        name=name,
        kind="test",
        voices={"A": module.THERAPIST_M, "B": module.CLIENT_F},
        roles={"A": "therapist", "B": "client"},
        lines=lambda: list(lines),
        gap=lambda rng, i: [0.5, 0.8, 3.0, 0.3][i],
        seed=3,
        **extra,
    )


def test_fixture_truth_turns_match_the_audio_energy(fixtures_module: ModuleType, tmp_path: Path) -> None:
    mf = sys.modules["make_fixtures"]
    session = fixtures_module.build_session(_spec(fixtures_module, "energy"), tmp_path)
    audio = mf.read_wav(session.wav)
    truth = session.truth
    assert truth["duration_s"] == pytest.approx(audio.size / mf.SAMPLE_RATE)
    assert set(truth["roles"]) == {t["speaker"] for t in truth["turns"]}
    turns = truth["turns"]
    assert [t["speaker"] for t in turns] == ["A", "B", "A", "B"]
    rate = mf.SAMPLE_RATE

    def level_db(a: float, b: float) -> float:
        chunk = audio[int(a * rate) : int(b * rate)].astype(np.float64)
        return float(10 * np.log10(np.mean(chunk**2) / 32768.0**2 + 1e-20))

    def peak(a: float, b: float) -> int:
        return int(np.abs(audio[int(a * rate) : int(b * rate)].astype(np.int32)).max())

    # Gaps (and the lead-in and tail) hold only the faint noise floor.
    edges = [0.0] + [x for t in turns for x in (t["start"], t["end"])] + [truth["duration_s"]]
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        assert b - a >= 0.25
        assert level_db(a, b) < -60.0, (a, b)
    for turn in turns:
        # Speech starts in the turn's first 20 ms and is still there in its last 200 ms (a final consonant's
        # release can trail off quietly) ...
        assert peak(turn["start"], turn["start"] + 0.02) > 500
        assert peak(turn["end"] - 0.2, turn["end"]) > 500
        # ... and is loud through the turn apart from the recorded pauses.
        assert level_db(turn["start"], turn["end"]) > -35.0
        for p0, p1 in turn["pauses"]:
            assert turn["start"] < p0 < p1 < turn["end"]
            assert level_db(p0, p1) < -60.0
    # The gap after the second turn was asked for as 3 s.
    assert turns[2]["start"] - turns[1]["end"] == pytest.approx(3.0, abs=1e-3)
    # Cached: a second call returns the same truth without rebuilding.
    mtime = session.wav.stat().st_mtime_ns
    again = fixtures_module.build_session(_spec(fixtures_module, "energy"), tmp_path)
    assert again.truth == truth
    assert session.wav.stat().st_mtime_ns == mtime


def test_noisy_fixture_has_the_requested_snr(fixtures_module: ModuleType, tmp_path: Path) -> None:
    mf = sys.modules["make_fixtures"]
    spec = _spec(fixtures_module, "noisy", noise="pinknoise", snr_db=18.0)
    session = fixtures_module.build_session(spec, tmp_path)
    audio = mf.read_wav(session.wav).astype(np.float64)
    rate = mf.SAMPLE_RATE
    inside = np.zeros(audio.size, dtype=bool)
    for t in session.truth["turns"]:
        inside[int(t["start"] * rate) : int(t["end"] * rate)] = True
    noise_power = np.mean(audio[~inside] ** 2)
    speech_power = np.mean(audio[inside] ** 2) - noise_power
    assert 10 * np.log10(speech_power / noise_power) == pytest.approx(18.0, abs=2.0)
    assert session.truth["snr_db"] == 18.0


def test_eval_set_covers_every_kind_with_distinct_voices(fixtures_module: ModuleType) -> None:
    specs = fixtures_module.session_specs()
    assert {s.kind for s in specs} >= {"two_voice", "couples", "long_silences", "fast_exchange", "noisy"}
    for spec in specs:
        assert set(spec.roles) == set(spec.voices)
        assert len({str(v) for v in spec.voices.values()}) == len(spec.voices)
        assert len({v.name for v in spec.voices.values()}) == len(spec.voices), "vary the variant, not just pitch"
    couples = next(s for s in specs if s.kind == "couples")
    assert sorted(couples.roles.values()) == ["client", "partner", "therapist"]
    long_gaps = [
        g for g in (next(s for s in specs if s.kind == "long_silences").gap(random.Random(0), i) for i in range(12))
    ]
    assert max(long_gaps) >= 20.0
    assert sum(g >= 10.0 for g in long_gaps) >= 2
