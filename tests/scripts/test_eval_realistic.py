"""The realistic eval's scoring helpers and session composer: cpWER, pooling, overlapping truth, targets."""

from __future__ import annotations

import importlib.util
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
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


em = _load("eval_metrics")
er = _load("eval_realistic")
rf = _load("realistic_fixtures")
ac = _load("audio_conditions")

TRUTH = [
    {"start": 0.0, "end": 3.0, "speaker": "A", "text": "How have you been sleeping?"},
    {"start": 3.5, "end": 7.0, "speaker": "B", "text": "Not well, I wake up at 3."},
    {"start": 7.5, "end": 9.0, "speaker": "A", "text": "Every night?"},
    {"start": 9.5, "end": 12.0, "speaker": "B", "text": "Most nights, yes."},
]


def _hyp(names: dict[str, str], texts: dict[int, str] | None = None) -> list[dict[str, Any]]:
    return [{**t, "speaker": names[t["speaker"]], "text": (texts or {}).get(i, t["text"])} for i, t in enumerate(TRUTH)]


# --- cpWER -----------------------------------------------------------------------------------------------------


def test_cpwer_is_zero_for_the_truth_under_any_labels() -> None:
    cp = em.cp_word_errors(TRUTH, _hyp({"A": "SPEAKER_01", "B": "SPEAKER_00"}))
    assert cp.wer == 0.0
    assert cp.mapping == {"A": "SPEAKER_01", "B": "SPEAKER_00"}
    assert cp.errors.ref_words == len(em.normalise(" ".join(t["text"] for t in TRUTH)).split())


def test_cpwer_normalises_text_as_wer_does() -> None:
    hyp = _hyp({"A": "x", "B": "y"}, {1: "Um, not well. I wake up at three!"})
    assert em.cp_word_errors(TRUTH, hyp).wer == 0.0


def test_words_given_to_the_wrong_speaker_count_twice_in_cpwer_but_not_in_wer() -> None:
    # "Every night?" (2 words) is attributed to the client.
    hyp = _hyp({"A": "x", "B": "y"})
    hyp[2] = {**hyp[2], "speaker": "y"}
    cp = em.cp_word_errors(TRUTH, hyp)
    assert cp.errors.deletions == 2 and cp.errors.insertions == 2
    assert cp.errors.errors == 4
    assert em.word_errors([t["text"] for t in TRUTH], [h["text"] for h in hyp]).errors == 0


def test_cpwer_with_one_hypothesis_speaker_deletes_the_unmatched_speaker() -> None:
    hyp = [{**t, "speaker": "S"} for t in TRUTH]
    cp = em.cp_word_errors(TRUTH, hyp)
    a_words = len(em.normalise("How have you been sleeping? Every night?").split())
    b_words = len(em.normalise("Not well, I wake up at 3. Most nights, yes.").split())
    # S is paired with the speaker that costs least; the other's words are deleted and S's extra words inserted.
    assert cp.errors.errors == 2 * min(a_words, b_words)
    assert list(cp.mapping.values()).count(None) == 1


def test_cpwer_extra_hypothesis_speaker_is_insertions() -> None:
    hyp = [*_hyp({"A": "x", "B": "y"}), {"start": 12.5, "end": 13.0, "speaker": "z", "text": "hello there"}]
    cp = em.cp_word_errors(TRUTH, hyp)
    assert (cp.errors.insertions, cp.errors.errors) == (2, 2)
    assert cp.errors.hyp_words == cp.errors.ref_words + 2


def test_cpwer_empty_hypothesis_is_all_deletions() -> None:
    cp = em.cp_word_errors(TRUTH, [])
    assert cp.wer == 1.0
    assert cp.errors.deletions == cp.errors.ref_words


# --- overlapping truth -----------------------------------------------------------------------------------------

OVERLAP_TRUTH: dict[str, Any] = {
    "duration_s": 20.0,
    "roles": {"A": "therapist", "B": "client"},
    "turns": [
        {"start": 0.0, "end": 10.0, "speaker": "A", "role": "therapist", "text": "a"},
        {"start": 9.0, "end": 15.0, "speaker": "B", "role": "client", "text": "b", "kind": "overlap"},
    ],
}


def test_overlap_seconds_counts_time_with_two_voices() -> None:
    assert rf.overlap_seconds(OVERLAP_TRUTH["turns"]) == pytest.approx(1.0)
    three = [*OVERLAP_TRUTH["turns"], {"start": 14.0, "end": 16.0, "speaker": "C"}]
    assert rf.overlap_seconds(three) == pytest.approx(2.0)
    assert rf.overlap_seconds([{"start": 0, "end": 1}, {"start": 1, "end": 2}]) == 0.0


def test_an_exclusive_hypothesis_misses_the_overlapped_second_only() -> None:
    hyp = [{"start": 0.0, "end": 9.5, "speaker": "x"}, {"start": 9.5, "end": 15.0, "speaker": "y"}]
    score = er.score_diarization(OVERLAP_TRUTH, hyp, collar=0.0)
    der = score["der"]
    # Reference speech is 16 s (both voices counted in the overlap); the hypothesis has one voice there.
    assert der["reference_speech_s"] == pytest.approx(16.0)
    assert der["missed_s"] == pytest.approx(1.0)
    assert der["confusion_s"] == pytest.approx(0.0)
    assert der["der"] == pytest.approx(1.0 / 16.0)
    assert (score["speakers_found"], score["speakers_truth"]) == (2, 2)


def test_an_overlap_aware_hypothesis_scores_perfectly() -> None:
    hyp = [{"start": 0.0, "end": 10.0, "speaker": "x"}, {"start": 9.0, "end": 15.0, "speaker": "y"}]
    assert er.score_diarization(OVERLAP_TRUTH, hyp, collar=0.25)["der"]["der"] == 0.0


def test_collar_is_total_width_around_every_reference_boundary() -> None:
    hyp = [{"start": 0.0, "end": 9.0, "speaker": "x"}, {"start": 9.0, "end": 15.0, "speaker": "y"}]
    score = er.score_diarization(OVERLAP_TRUTH, hyp, collar=0.5)
    # collar=0.5 leaves ±0.25 s around every reference boundary (0, 9, 10, 15 s) unscored: of the missed second
    # of overlap (9–10 s) only 9.25–9.75 s is still scored.
    assert score["der_collar"]["missed_s"] == pytest.approx(0.5)
    assert score["der_collar"]["der"] < score["der"]["der"]


# --- pooling and targets ---------------------------------------------------------------------------------------


def _row(name: str, condition: str, der: tuple[float, float], found: int, truth: int = 2, **extra: Any) -> dict:
    error, total = der
    d = {"der": error / total, "collar_total_width_s": 0.0, "missed_s": error, "false_alarm_s": 0.0}
    d |= {"confusion_s": 0.0, "reference_speech_s": total}
    c = {**d, "collar_total_width_s": 0.25, "missed_s": error / 2, "der": error / 2 / total}
    score = {"der": d, "der_collar": c, "speakers_found": found, "speakers_truth": truth, **extra.pop("score", {})}
    return {"name": name, "condition": condition, "duration_s": total + 10, "score": score, **extra}


def test_pooling_weights_der_by_reference_speech_not_by_session() -> None:
    rows = [_row("a", "noise", (10.0, 100.0), 2), _row("b", "noise", (0.0, 300.0), 2)]
    pooled = er.pool(rows)
    assert pooled["der"] == pytest.approx(10.0 / 400.0)  # the mean of the two DERs would be 5 %
    assert pooled["der_collar"] == pytest.approx(5.0 / 400.0)
    assert (pooled["sessions"], pooled["count_correct"], pooled["count_accuracy"]) == (2, 2, 1.0)
    assert pooled["duration_s"] == pytest.approx(420.0)


def test_pooling_per_condition_keeps_conditions_apart_and_counts_errors() -> None:
    rows = [
        _row("a", "noise", (10.0, 100.0), 2),
        _row("b", "overlap", (30.0, 100.0), 1),
        {"name": "c", "condition": "overlap", "duration_s": 60.0, "error": "boom"},
    ]
    by = er.pool_by(rows)
    assert set(by) == {"noise", "overlap"}
    assert by["noise"]["der"] == pytest.approx(0.1)
    assert (by["overlap"]["sessions"], by["overlap"]["errors"], by["overlap"]["count_correct"]) == (1, 1, 0)
    assert er.pool([rows[2]]) == {"sessions": 0, "errors": 1}


def test_pooled_cpwer_sums_errors_and_words_and_roles_skip_unscored_sessions() -> None:
    roles_right = {"roles": {"speakers_correct": 2, "speakers_total": 2}}
    roles_wrong = {"roles": {"speakers_correct": 0, "speakers_total": 2}}
    rows = [
        _row("a", "x", (1.0, 10.0), 2, cpwer={"errors": 5, "ref_words": 100}, score=roles_right),
        _row("b", "x", (1.0, 10.0), 2, cpwer={"errors": 45, "ref_words": 100}, score=roles_wrong),
        _row("c", "x", (1.0, 10.0), 2, cpwer={"errors": 0, "ref_words": 50}, score=roles_wrong, roles_scored=False),
    ]
    pooled = er.pool(rows)
    assert pooled["cpwer"] == pytest.approx(50 / 250)
    assert (pooled["roles_right"], pooled["roles_sessions"]) == (1, 2)


def test_targets_count_accuracy_two_speaker_der_and_roles() -> None:
    roles = {"roles": {"speakers_correct": 2, "speakers_total": 2}}
    rows = [_row(f"s{i}", "c", (5.0, 100.0), 2, score=roles) for i in range(19)]
    rows.append(_row("mono", "monologue", (50.0, 100.0), 2, truth=1))  # a one-speaker session split in two
    by_name = {t["name"]: t for t in er.targets(rows, roles_measured=True)}
    count = by_name["speaker count right on ≥ 95 % of sessions"]
    assert count["met"] and count["value"].startswith("19/20")
    der = by_name["DER ≤ 12 % (no collar), two-speaker sessions"]
    assert der["met"] and der["value"] == "5.0%"  # the one-speaker session is not in the two-speaker pool
    assert by_name["roles right on every two-speaker session"]["met"]
    rows.append(_row("bad", "c", (600.0, 1000.0), 3))  # pooled two-speaker DER: 695 / 2900 s
    by_name = {t["name"]: t for t in er.targets(rows, roles_measured=False)}
    assert not by_name["speaker count right on ≥ 95 % of sessions"]["met"]
    assert not by_name["DER ≤ 12 % (no collar), two-speaker sessions"]["met"]
    assert by_name["roles right on every two-speaker session"]["met"] is None


# --- the real sample's reference -------------------------------------------------------------------------------


def test_rttm_and_stm_make_one_truth_with_text_on_the_turns() -> None:
    rttm = "SPEAKER s 1 1.0 2.0 <NA> <NA> spk1 <NA> <NA>\nSPEAKER s 1 3.5 1.0 <NA> <NA> spk2 <NA> <NA>\n"
    stm = "s 1 Ann 1.1 2.0 Hello there.\ns 1 Ann 2.1 2.9 How are you?\ns 1 Bo 3.6 4.4 Fine.\ns 1 Bo 5.0 5.5 Bye.\n"
    turns = er.parse_rttm(rttm)
    assert [(t["start"], t["end"], t["speaker"]) for t in turns] == [(1.0, 3.0, "spk1"), (3.5, 4.5, "spk2")]
    er.attach_text(turns, er.parse_stm(stm))
    assert [t["text"] for t in turns] == ["Hello there. How are you?", "Fine. Bye."]  # "Bye." goes to the nearest


# --- composing sessions (no synthesis: a stand-in voice) -------------------------------------------------------


class ToneVoice:
    """A stand-in synthesiser: 0.3 s of tone per word (0.1 s for short words), so timings are predictable."""

    def say(self, text: str, voice: str, *, seed: int, speed: float = 1.0) -> np.ndarray:
        words = text.split()
        seconds = sum(0.3 if len(w) > 3 else 0.1 for w in words) / speed
        n = int(seconds * rf.SAMPLE_RATE)
        return (0.1 * np.sin(np.arange(n) * 0.05)).astype(np.float32)


def _spec(style: str, **extra: Any) -> Any:
    voices = extra.pop("voices", {"A": "joe", "B": "heart"})
    roles = {s: {"A": "therapist", "B": "client", "C": "partner"}[s] for s in voices}
    return rf.SessionSpec(f"t_{style}", style, voices, roles, "scripted", seed=5, style=style, **extra)


def test_overlap_style_records_both_turns_with_the_listener_starting_early() -> None:
    spec = _spec("overlap", speech_s=60.0)
    _audio, turns = rf.mix(rf.compose(spec, ToneVoice()), spec)
    overlaps = [t for t in turns if t["kind"] == "overlap"]
    assert len(overlaps) >= 3
    for turn in overlaps:
        before = max((t for t in turns if t["start"] < turn["start"]), key=lambda t: t["end"])
        assert before["speaker"] != turn["speaker"]
        assert rf.OVERLAP_S[0] - 1e-3 <= before["end"] - turn["start"] <= rf.OVERLAP_S[1] + 1e-3
    assert rf.overlap_seconds(turns) > 0.3 * len(overlaps) - 1e-6


def test_backchannel_style_puts_short_listener_turns_inside_a_speakers_turn() -> None:
    spec = _spec("backchannel", speech_s=60.0)
    _audio, turns = rf.mix(rf.compose(spec, ToneVoice()), spec)
    backchannels = [i for i, t in enumerate(turns) if t["kind"] == "backchannel"]
    assert backchannels
    for i in backchannels:
        t = turns[i]
        assert rf.BACKCHANNEL_S[0] - 1e-3 <= t["end"] - t["start"] <= rf.BACKCHANNEL_S[1] + 1e-3
        assert t["text"] in rf.BACKCHANNELS
        assert turns[i - 1]["speaker"] == turns[i + 1]["speaker"] != t["speaker"]
    assert rf.overlap_seconds(turns) == 0.0


def test_dominant_style_gives_the_dominant_speaker_about_85_percent() -> None:
    spec = _spec("dominant", dominant="B", speech_s=60.0)
    placer = rf.compose(spec, ToneVoice())
    share = placer.speech["B"] / placer.speech_total
    assert 0.83 <= share <= 0.9


def test_monologue_has_one_speaker_and_mix_matches_the_truth() -> None:
    spec = _spec("monologue", voices={"B": "heart"}, speech_s=30.0)
    audio, turns = rf.mix(rf.compose(spec, ToneVoice()), spec)
    assert {t["speaker"] for t in turns} == {"B"}
    rate = rf.SAMPLE_RATE
    inside = np.zeros(audio.size, dtype=bool)
    for t in turns:
        inside[int(round(t["start"] * rate)) - 2 : int(round(t["end"] * rate)) + 2] = True  # times keep 0.1 ms
    assert np.all(audio[~inside] == 0.0)  # the dry mix is silent outside the truth turns
    assert audio.size / rate == pytest.approx(turns[-1]["end"] + rf.TAIL_S, abs=1e-3)


def test_noise_is_mixed_at_the_requested_snr() -> None:
    rng = np.random.default_rng(0)
    clean = np.zeros(rf.SAMPLE_RATE * 10, dtype=np.float32)
    clean[16000:80000] = 0.1 * rng.standard_normal(64000)
    turns = [{"start": 1.0, "end": 5.0}]
    background = ac.noise("pink", clean.size, seed=3)
    mixed = ac.mix_noise(clean, turns, background, snr_db=12.0)
    noise_part = mixed - clean
    snr = 10 * np.log10(np.mean(clean[16000:80000] ** 2) / np.mean(noise_part**2))
    assert snr == pytest.approx(12.0, abs=0.01)
    assert np.array_equal(ac.noise("brown", 1000, seed=3), ac.noise("brown", 1000, seed=3))


def test_the_set_has_every_condition_three_times_with_credible_voice_pairs() -> None:
    specs = rf.session_specs()
    by_condition: dict[str, list[Any]] = {}
    for spec in specs:
        by_condition.setdefault(spec.condition, []).append(spec)
    assert set(by_condition) == set(rf.CONDITIONS)
    assert all(len(v) >= 3 for v in by_condition.values())
    assert all(s.pair == "male" for s in by_condition["same_male"])
    assert all(s.pair == "female" for s in by_condition["same_female"])
    assert all(s.pair == "mixed" for s in by_condition["clean_mixed"])
    assert all(s.pair == "three" and len(set(s.roles.values())) == 3 for s in by_condition["couples"])
    assert all(s.pair == "one" for s in by_condition["monologue"])
    assert len({s.transcript for s in specs}) == len(specs)
    assert len({s.seed for s in specs}) == len(specs)


def test_targets_are_judged_on_the_realistic_sessions_when_there_are_any() -> None:
    espeak = _row("two_voice", "two_voice", (1.0, 100.0), 2)
    realistic = _row("noise_1", "noise", (30.0, 100.0), 2, pair="mixed")
    assert er.target_rows([espeak, realistic]) == [realistic]
    assert er.target_rows([espeak]) == [espeak]
