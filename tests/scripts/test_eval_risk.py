"""The risk set's scoring (scripts/eval_risk.py) and the set itself (scripts/risk_set.py): pure and fast."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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


rs = _load("risk_set")
er = _load("eval_risk")

SI, SU = "suicidal_ideation", "substance_use"


def test_recall_and_false_positives_per_kind() -> None:
    results = [
        ((SI,), {SI}),  # found
        ((SI,), set()),  # missed
        ((SI, SU), {SI, SU}),
        ((), set()),  # a quiet control
        ((), {SU}),  # a control with a false flag
        ((SU,), {SU, SI}),  # right kind plus a false one
    ]
    summary = er.score(results, kinds=(SI, SU))
    si, su = summary["kinds"][SI], summary["kinds"][SU]
    assert (si["tp"], si["fn"], si["fp"], si["tn"]) == (2, 1, 1, 2)
    assert si["recall"] == pytest.approx(2 / 3) and si["false_positive_rate"] == pytest.approx(1 / 3)
    assert (su["tp"], su["fn"], su["fp"], su["tn"]) == (2, 0, 1, 3)
    assert su["recall"] == 1.0 and su["false_positive_rate"] == pytest.approx(1 / 4)
    assert summary["suicidal_ideation_recall"] == pytest.approx(2 / 3)
    assert (summary["controls"], summary["controls_flagged"]) == (2, 1)
    assert summary["control_false_positive_rate"] == 0.5
    assert summary["false_positive_rate"] == pytest.approx(2 / 7)
    assert summary["exact_sessions"] == 3
    met = {t["name"]: t["met"] for t in er.targets(summary)}
    assert not any(met.values())


def test_a_kind_no_session_expects_has_no_recall_and_targets_pass_when_all_right() -> None:
    summary = er.score([((SI,), {SI}), ((), set())], kinds=(SI, SU))
    assert summary["kinds"][SU]["recall"] is None and summary["kinds"][SU]["false_positive_rate"] == 0.0
    assert all(t["met"] for t in er.targets(summary))


def test_denied_flags_are_not_raised() -> None:
    flags = [{"kind": SI, "severity": "denied"}, {"kind": SU, "severity": "low"}]
    assert er.raised_kinds(flags) == {SU}


def test_the_set_is_large_balanced_and_well_formed() -> None:
    flagged, controls = rs.FLAGGED, rs.CONTROLS
    assert len(flagged) >= 40 and len(controls) >= len(flagged)
    assert all(s.expected for s in flagged) and not any(s.expected for s in controls)
    assert len({s.name for s in rs.SCRIPTS}) == len(rs.SCRIPTS)
    for script in rs.SCRIPTS:
        assert set(script.expected) <= set(rs.KINDS)
        assert 4 <= len(script.lines) <= 8
        assert {who for who, _ in script.lines} == {rs.T, rs.C}
    for kind in rs.KINDS:
        assert sum(kind in s.expected for s in flagged) >= 5
    # every session is spoken by two different voices, and its cache key follows its words
    spoken = er.spoken_set()
    assert all(s.voices[0] != s.voices[1] for s in spoken)
    changed = er.Spoken(rs.RiskScript("x", (), (("T", "a"), ("C", "b")), "g"), ("joe", "heart"), 1)
    other = er.Spoken(rs.RiskScript("x", (), (("T", "a"), ("C", "c")), "g"), ("joe", "heart"), 1)
    assert changed.key != other.key


def test_text_scoring_of_the_set_runs_without_audio() -> None:
    report = er.evaluate(er.spoken_set(["passive_not_here", "ctl_fig_traffic"]), None)
    assert "audio" not in report and report["text"]["summary"]["sessions"] == 2
    assert [r["name"] for r in report["sessions"]] == ["passive_not_here", "ctl_fig_traffic"]


def test_the_real_talk_control_counts_dialogues_per_kind_and_says_where() -> None:
    flags = {
        "7": [
            {"kind": SU, "severity": "moderate", "segment": 3},
            {"kind": SU, "severity": "low", "segment": 9},  # the same dialogue counts once
            {"kind": SI, "severity": "denied", "segment": 12},  # a denial is not raised
        ],
        "8": [{"kind": "harm_to_others", "severity": "high", "segment": 31}],
        "9": [],
        "10": [
            {"kind": "self_harm", "severity": "moderate", "segment": 4},
            {"kind": SU, "severity": "low", "segment": 5},
        ],
    }
    control = er.score_control(flags)
    kinds = control["kinds"]
    assert control["dialogues"] == 4
    assert (kinds[SU]["dialogues_flagged"], kinds[SU]["rate"]) == (2, 0.5)
    assert kinds[SI] == {"dialogues_flagged": 0, "rate": 0.0, "where": []}
    assert kinds["harm_to_others"]["where"] == [("8", 31)] and kinds["self_harm"]["where"] == [("10", 4)]
    # substance use is counted apart from the flags a clinician reads as risk
    assert (control["clinical_flagged"], control["clinical_rate"]) == (2, 0.5)
    assert er.score_control({})["clinical_rate"] is None


def test_the_real_talk_control_reads_a_dialogue_file(tmp_path: Path) -> None:
    assert er.annomi_control(tmp_path / "absent.csv") is None
    csv_path = tmp_path / "dialogues.csv"
    csv_path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text\n"
        "1,0,therapist,How much are you drinking these days?\n"
        "1,1,client,Honestly a bottle of wine every night.\n"
        "2,1,client,It makes me want to hit him.\n"
        "2,0,therapist,How are things at home?\n"
        "3,0,therapist,So it gets worse when your partner's not around?\n"
        "3,1,client,Yeah.\n",
        encoding="utf-8",
    )
    control = er.annomi_control(csv_path)
    assert control is not None and control["dialogues"] == 3
    assert control["kinds"][SU]["where"] == [("1", 1)]
    assert control["kinds"]["harm_to_others"]["where"] == [("2", 1)]
    assert control["kinds"][SI]["where"] == []
    assert [f["quote"] for f in control["flags"]["2"]] == ["It makes me want to hit him."]
    assert control["flags"]["1"] == [] and control["clinical_flagged"] == 1
