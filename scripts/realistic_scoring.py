"""Scoring, pooling and targets of the realistic eval: DER with and without a collar, the speaker count, per
condition and overall, and the printed table of targets (met / not met)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import eval_metrics as em  # noqa: E402

TARGET_COUNT_ACCURACY = 0.95
TARGET_TWO_SPEAKER_DER = 0.12


# --- scoring -------------------------------------------------------------------------------------------------------


def score_diarization(truth: Mapping[str, Any], hyp_turns: Sequence[em.Turn], collar: float) -> dict[str, Any]:
    """DER without and with ``collar`` (overlapping truth turns are scored as overlap) and the speaker count."""
    turns = list(truth["turns"])
    duration = float(truth["duration_s"])
    return {
        "der": em.diarization_error(turns, hyp_turns, duration, collar=0.0).to_dict(),
        "der_collar": em.diarization_error(turns, hyp_turns, duration, collar=collar).to_dict(),
        "speakers_found": em.speaker_count(hyp_turns),
        "speakers_truth": len(truth["roles"]),
    }


def _der(d: Mapping[str, Any]) -> em.DiarizationScore:
    return em.DiarizationScore(
        d["collar_total_width_s"], d["missed_s"], d["false_alarm_s"], d["confusion_s"], d["reference_speech_s"]
    )


def pool(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pooled scores of session rows (each with ``score`` as from score_diarization / em.score_session).

    DER: error seconds summed over total reference speech; cpWER: errors over reference words; count accuracy
    and role accuracy: the share of sessions that are right (roles only where the row has them and they count).
    """
    ok = [r for r in rows if "score" in r]
    if not ok:
        return {"sessions": 0, "errors": len(rows)}
    der = sum((_der(r["score"]["der"]) for r in ok), em.DiarizationScore(0.0))
    collar = float(ok[0]["score"]["der_collar"]["collar_total_width_s"])
    der_c = sum((_der(r["score"]["der_collar"]) for r in ok), em.DiarizationScore(collar))
    out: dict[str, Any] = {
        "sessions": len(ok),
        "errors": len(rows) - len(ok),
        "duration_s": sum(float(r["duration_s"]) for r in ok),
        "der": der.der,
        "der_collar": der_c.der,
        "count_correct": sum(r["score"]["speakers_found"] == r["score"]["speakers_truth"] for r in ok),
    }
    out["count_accuracy"] = out["count_correct"] / len(ok)
    cp = [r["cpwer"] for r in ok if r.get("cpwer")]
    if cp:
        errors, words = sum(c["errors"] for c in cp), sum(c["ref_words"] for c in cp)
        out["cpwer"] = errors / words if words else 0.0
    roles = [r for r in ok if "roles" in r["score"] and r.get("roles_scored", True)]
    if roles:
        right = sum(r["score"]["roles"]["speakers_correct"] == r["score"]["roles"]["speakers_total"] for r in roles)
        out["roles_sessions"] = len(roles)
        out["roles_right"] = right
    return out


def pool_by(rows: Sequence[Mapping[str, Any]], key: str = "condition") -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get(key)), []).append(row)
    return {name: pool(group) for name, group in groups.items()}


def target_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Accuracy is judged on realistic audio: the realistic sessions when there are any, else all rows."""
    return [r for r in rows if r.get("pair")] or list(rows)


def targets(rows: Sequence[Mapping[str, Any]], roles_measured: bool) -> list[dict[str, Any]]:
    ok = [r for r in rows if "score" in r]
    if not ok:
        return []
    overall = pool(ok)
    two = pool([r for r in ok if r["score"]["speakers_truth"] == 2])
    out = [
        {
            "name": "speaker count right on ≥ 95 % of sessions",
            "value": f"{overall['count_correct']}/{overall['sessions']} ({overall['count_accuracy']:.0%})",
            "met": overall["count_accuracy"] >= TARGET_COUNT_ACCURACY,
        }
    ]
    if two["sessions"]:
        out.append(
            {
                "name": "DER ≤ 12 % (no collar), two-speaker sessions",
                "value": f"{100 * two['der']:.1f}%",
                "met": two["der"] <= TARGET_TWO_SPEAKER_DER,
            }
        )
    if roles_measured and two.get("roles_sessions"):
        out.append(
            {
                "name": "roles right on every two-speaker session",
                "value": f"{two['roles_right']}/{two['roles_sessions']}",
                "met": two["roles_right"] == two["roles_sessions"],
            }
        )
    elif not roles_measured:
        out.append({"name": "roles right on every two-speaker session", "value": "not measured", "met": None})
    return out


# --- report --------------------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "    —" if x is None else f"{100 * x:5.1f}%"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "NOT MET")


def print_pooled(rows: Sequence[Mapping[str, Any]], collar: float, roles_measured: bool) -> None:
    """Per-condition and overall pooled lines, then the targets."""
    head = f"{'condition':14} {'n':>3} {'min':>5} {'DER':>6} {'DER±' + format(collar / 2, 'g'):>8} {'count':>6}"
    if roles_measured:
        head += f" {'cpWER':>6} {'roles':>6}"
    print(head)
    print("-" * len(head))
    groups = pool_by(rows)
    two = pool([r for r in rows if "score" in r and r["score"]["speakers_truth"] == 2])
    lines = [*sorted(groups.items()), ("two-speaker", two), ("overall", pool(rows))]
    for name, p in lines:
        if not p.get("sessions"):
            print(f"{name:14} no scored sessions ({p.get('errors', 0)} errors)")
            continue
        line = (
            f"{name:14} {p['sessions']:>3} {p['duration_s'] / 60:5.1f} {_pct(p['der'])} {_pct(p['der_collar']):>8} "
            f"{p['count_correct']:>2}/{p['sessions']:<3}"
        )
        if roles_measured:
            roles = f"{p['roles_right']}/{p['roles_sessions']}" if p.get("roles_sessions") else "—"
            line += f" {_pct(p.get('cpwer'))} {roles:>6}"
        print(line)
    judged = target_rows(rows)
    print(f"\nTargets ({'realistic set' if judged[0].get('pair') else 'espeak set'})" if judged else "")
    for t in targets(judged, roles_measured):
        print(f"  {t['name']:46} {t['value']:>14}   {_met(t['met'])}")
