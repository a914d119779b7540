"""`make eval`: accuracy of the processing pipeline on synthetic sessions with exact truth.

Sessions (``--set``): ``espeak`` — the eval fixtures (scripts/eval_fixtures.py: two voices, couples, long silences,
fast exchange, noise) and the AnnoMI WER set (the first AnnoMI dialogues, 60 s each, two voices; skipped when
../shared/eval/annomi/annomi-dev.csv is absent); ``realistic`` — neural voices under hard conditions
(scripts/realistic_fixtures.py) and pyannote.audio's real two-person sample (scripts/eval_realistic.py);
``risk`` — short scripted sessions that should or should not raise risk flags, spoken in neural voices and run
through the pipeline, then the rule risk flags scored per kind (scripts/eval_risk.py); ``all`` (the default) —
all three. For every session it reports

- WER of the pipeline's transcript and of plain faster-whisper on the same audio (same ``base`` model folder,
  int8, beam 1, VAD on, word timestamps) — text normalised as in scripts/eval_metrics.py;
- DER (pyannote.metrics) with no collar and with ``--collar`` (pyannote's collar is the total width:
  0.25 means ±0.125 s around each reference boundary);
- speakers found against the truth, and role accuracy per speaker and per word;
- cpWER (concatenated minimum-permutation WER: words must also go to the right speaker).

The realistic set is also pooled per condition, with its own targets (scripts/eval_realistic.py).
``--diarization-only`` skips transcription: decode, the app's VAD and the app's diarizer in this process, DER and
speaker count only — fast enough to run after every change to the clusterer.

Both systems are told the language (``--language en``; 'auto' detects). Each session gets the speakers hint the
app's session type would give (couples 3, otherwise 2; ``--hint`` overrides). One ``Pipeline`` serves all
sessions, so the first session's wall time includes starting the workers and loading the models.

Targets (printed as met / not met; the exit status reflects errors only), espeak set: DER ≤ 10 %, role accuracy
100 %, WER ≤ faster-whisper alone; realistic set: see scripts/eval_realistic.py.

Usage: python scripts/eval.py [--set realistic|espeak|risk|all] [--diarization-only] [--json out.json]
                              [--sessions NAME …] [--annomi N] [--truth-as-hypothesis]
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import annomi_audio  # noqa: E402
import eval_fixtures  # noqa: E402
import eval_metrics as em  # noqa: E402
import eval_realistic as er  # noqa: E402
import eval_risk  # noqa: E402

TARGET_DER = 0.10
TARGET_ROLE_ACCURACY = 1.0
HINT_BY_KIND = er.HINT_BY_KIND


@dataclasses.dataclass
class Item:
    name: str
    kind: str
    wav: Path
    truth: dict[str, Any]


def collect(args: argparse.Namespace) -> list[Item]:
    items: list[Item] = []
    if args.set in ("realistic", "all"):
        items += [Item(i.name, i.kind, i.wav, i.truth) for i in er.realistic_items(args.sessions, jobs=args.jobs)]
    if args.set == "realistic":
        return items
    items += [
        Item(s.name, str(s.truth["kind"]), s.wav, s.truth)
        for s in eval_fixtures.build_all(eval_fixtures.DEFAULT_DIR, args.sessions)
    ]
    if args.annomi and annomi_audio.ANNOMI_CSV.is_file():
        dialogues = annomi_audio.load_dialogues()
        for tid in sorted(dialogues, key=int)[: args.annomi]:
            wav = annomi_audio.synthesise(tid, dialogues[tid], REPO_ROOT / ".cache" / "eval", args.annomi_seconds)
            name = f"annomi_{tid}"
            if not args.sessions or name in args.sessions:
                items.append(Item(name, "annomi", wav, annomi_audio.truth_for(wav)))
    elif args.annomi:
        print(f"AnnoMI WER set skipped: {annomi_audio.ANNOMI_CSV} not found")
    return items


# --- systems under test ------------------------------------------------------------------------------------------


class FasterWhisperAlone:
    """Plain faster-whisper as documented: int8 on CPU, beam 1, VAD on, word timestamps, all cores."""

    def __init__(self, model_dir: Path, language: str | None) -> None:
        from faster_whisper import WhisperModel

        started = time.perf_counter()
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 2)
        self.load_s = time.perf_counter() - started
        self.language = language

    def transcribe(self, wav: Path) -> tuple[str, float]:
        started = time.perf_counter()
        segments, _ = self.model.transcribe(
            str(wav), beam_size=1, vad_filter=True, word_timestamps=True, language=self.language
        )
        text = " ".join(s.text for s in segments)
        return text, time.perf_counter() - started


class Pipelines:
    """The pipeline under test. One ``Pipeline`` when ``run`` takes a per-recording ``speakers_hint``;
    otherwise one per hint (each created on first use). All are closed at the end."""

    def __init__(self, cache_dir: Path, language: str | None) -> None:
        self.cache_dir = cache_dir
        self.language = language
        self._open: dict[int | None, Any] = {}
        self.construct_s: dict[str, float] = {}
        self._per_run_hint: bool | None = None

    def _get(self, hint: int | None) -> Any:
        from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

        if self._per_run_hint is None:
            self._per_run_hint = "speakers_hint" in inspect.signature(Pipeline.run).parameters
        key = None if self._per_run_hint else hint
        if key not in self._open:
            fields = {f.name for f in dataclasses.fields(PipelineOptions)}
            wanted: dict[str, Any] = {"cache_dir": self.cache_dir, "language": self.language, "speakers_hint": hint}
            if "speakers_hint" not in fields:
                print("note: PipelineOptions has no speakers_hint (old pipeline); running without it")
            started = time.perf_counter()
            self._open[key] = Pipeline(PipelineOptions(**{k: v for k, v in wanted.items() if k in fields}))
            self.construct_s[str(key)] = time.perf_counter() - started
        return self._open[key]

    def run(self, wav: Path, hint: int | None) -> tuple[dict[str, Any], float]:
        pipeline = self._get(hint)
        started = time.perf_counter()
        result = pipeline.run(wav, speakers_hint=hint) if self._per_run_hint else pipeline.run(wav)
        return dict(result.to_dict()), time.perf_counter() - started

    def close(self) -> None:
        for pipeline in self._open.values():
            close = getattr(pipeline, "close", None)
            if close is not None:
                close()
        self._open.clear()


# --- report ---------------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "   —  " if x is None else f"{100 * x:5.1f}%"


def _rtf(x: float | None) -> str:
    return "    —" if not x else f"{x:5.1f}×"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def print_report(report: dict[str, Any]) -> None:
    collar = report["collar"]
    head = (
        f"{'session':26} {'kind':13} {'dur s':>6} {'WER':>6} {'cpWER':>6} {'fw WER':>6} {'DER':>6} "
        f"{'DER±' + format(collar / 2, '.3g'):>8} {'spk':>5} {'role':>6} {'word role':>9} {'× rt':>6}"
    )
    print(head)
    print("-" * len(head))
    for row in report["sessions"]:
        if "error" in row:
            print(f"{row['name']:26} {row['kind']:13} ERROR: {row['error']}")
            continue
        s = row["score"]
        fw = row.get("faster_whisper")
        no_roles = {"speaker_accuracy": None, "word_accuracy": None}  # the real sample has no therapy roles
        roles = s["roles"] if row.get("roles_scored", True) else no_roles
        print(
            f"{row['name']:26} {row['kind']:13} {row['duration_s']:6.1f} {_pct(s['wer']['wer'])} "
            f"{_pct(row['cpwer']['wer'] if row.get('cpwer') else None)} {_pct(fw['wer']['wer'] if fw else None)} "
            f"{_pct(s['der']['der'])} {_pct(s['der_collar']['der']):>8} "
            f"{s['speakers_found']:>2}/{s['speakers_truth']:<2} {_pct(roles['speaker_accuracy'])} "
            f"{_pct(roles['word_accuracy']):>9} {_rtf(row.get('realtime_factor'))}"
        )
    o = report.get("overall")
    if not o:
        return
    print("-" * len(head))
    print(
        f"{'overall (pooled)':26} {'':13} {o['duration_s']:6.0f} {_pct(o['wer'])} {_pct(o.get('cpwer'))} "
        f"{_pct(o['faster_whisper_wer'])} "
        f"{_pct(o['der'])} {_pct(o['der_collar']):>8} {o['speaker_count_correct']:>2}/{o['sessions']:<2} "
        f"{_pct(o['role_speaker_accuracy'])} {_pct(o['role_word_accuracy']):>9}"
    )
    print(
        f"\nWER: jiwer on normalised text, pooled over {o['ref_words']} reference words. DER: pyannote.metrics, "
        f"UEM = whole file, overlap scored; 'DER' has no collar, 'DER±{collar / 2:g}' uses collar={collar:g} "
        "(pyannote's collar is the total width). spk: speakers found/truth per session (overall: sessions with "
        "the right count). role: truth speakers whose optimally-matched hypothesis speaker got the right role. "
        f"word role: reference words aligned to a hypothesis word ({_pct(o['role_word_coverage']).strip()} of "
        "them) whose segment role is right."
    )
    print("\nTargets (espeak set)" if report["targets"] else "")
    for target in report["targets"]:
        print(f"  {target['name']:44} {target['value']:>16}   {_met(target['met'])}")


def summarise(rows: list[dict[str, Any]], collar: float) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return {}
    wer = sum((em.WordErrors(**_we(r["score"]["wer"])) for r in ok), em.NO_WORDS)
    fw_rows = [r for r in ok if r.get("faster_whisper")]
    fw = sum((em.WordErrors(**_we(r["faster_whisper"]["wer"])) for r in fw_rows), em.NO_WORDS)
    der = sum((_ds(r["score"]["der"]) for r in ok), em.DiarizationScore(0.0))
    der_c = sum((_ds(r["score"]["der_collar"]) for r in ok), em.DiarizationScore(collar))
    scored = [r for r in ok if r.get("roles_scored", True)]  # the real sample has no therapy roles
    roles = {k: sum(r["score"]["roles"][k] for r in scored) for k in ("speakers_correct", "speakers_total")}
    words = {k: sum(r["score"]["roles"][k] for r in scored) for k in ("words_correct", "words_scored", "words_total")}
    cp = [r["cpwer"] for r in ok if r.get("cpwer")]
    return {
        "sessions": len(ok),
        "duration_s": sum(r["duration_s"] for r in ok),
        "wer": wer.wer,
        "ref_words": wer.ref_words,
        "faster_whisper_wer": fw.wer if fw_rows else None,
        "cpwer": sum(c["errors"] for c in cp) / max(sum(c["ref_words"] for c in cp), 1) if cp else None,
        "der": der.der,
        "der_collar": der_c.der,
        "speaker_count_correct": sum(r["score"]["speakers_found"] == r["score"]["speakers_truth"] for r in ok),
        "role_speaker_accuracy": roles["speakers_correct"] / max(roles["speakers_total"], 1),
        "role_word_accuracy": words["words_correct"] / max(words["words_scored"], 1),
        "role_word_coverage": words["words_scored"] / max(words["words_total"], 1),
        "pipeline_wall_s": sum(r.get("wall_s") or 0.0 for r in ok),
    }


def _we(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in ("errors", "substitutions", "deletions", "insertions", "ref_words", "hyp_words")}


def _ds(d: dict[str, Any]) -> em.DiarizationScore:
    return em.DiarizationScore(
        d["collar_total_width_s"], d["missed_s"], d["false_alarm_s"], d["confusion_s"], d["reference_speech_s"]
    )


def targets(overall: dict[str, Any], collar: float) -> list[dict[str, Any]]:
    if not overall:
        return []
    out = [
        {"name": "DER ≤ 10 % (no collar)", "value": _pct(overall["der"]), "met": overall["der"] <= TARGET_DER},
        {
            "name": f"DER ≤ 10 % (collar {collar:g} = ±{collar / 2:g} s)",
            "value": _pct(overall["der_collar"]),
            "met": overall["der_collar"] <= TARGET_DER,
        },
        {
            "name": "role accuracy 100 % (speakers)",
            "value": _pct(overall["role_speaker_accuracy"]),
            "met": overall["role_speaker_accuracy"] >= TARGET_ROLE_ACCURACY,
        },
    ]
    if overall["faster_whisper_wer"] is not None:
        out.append(
            {
                "name": "WER ≤ faster-whisper alone",
                "value": f"{_pct(overall['wer']).strip()} vs {_pct(overall['faster_whisper_wer']).strip()}",
                "met": overall["wer"] <= overall["faster_whisper_wer"] + 1e-12,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--set", choices=("realistic", "espeak", "risk", "all"), default="all", help="which sessions")
    parser.add_argument(
        "--diarization-only", action="store_true", help="decode + VAD + diarizer in process, no ASR: DER and count"
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes that build sessions / diarize (default 2)")
    parser.add_argument(
        "--no-cache", action="store_true", help="diarization-only: recompute VAD and embeddings (no memo)"
    )
    parser.add_argument("--sessions", nargs="*", help="only these session names")
    parser.add_argument("--annomi", type=int, default=4, help="AnnoMI dialogues in the WER set (0: none)")
    parser.add_argument("--annomi-seconds", type=float, default=60.0, help="audio per AnnoMI dialogue")
    parser.add_argument("--collar", type=float, default=0.25, help="pyannote collar (total width, seconds)")
    parser.add_argument("--language", default="en", help="language for both systems ('auto' to detect)")
    parser.add_argument("--hint", type=int, help="speakers_hint for every session (default: by session kind)")
    parser.add_argument("--no-baseline", action="store_true", help="skip plain faster-whisper")
    parser.add_argument(
        "--truth-as-hypothesis", action="store_true", help="score the truth against itself (checks the metrics)"
    )
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    language = None if args.language == "auto" else args.language

    if args.set == "risk":
        return run_risk_only(args, language)
    items = collect(args)
    if not items:
        print("no sessions to evaluate")
        return 1
    from tbdesktop.config import load_settings
    from tbdesktop.engine.models import resolve_model

    cache = load_settings().cache_dir
    if args.diarization_only:
        return er.run_diarization_only(
            items, cache, args.collar, args.json, args.hint, jobs=args.jobs, cache=not args.no_cache
        )
    baseline = None
    if not args.no_baseline and not args.truth_as_hypothesis:
        baseline = FasterWhisperAlone(resolve_model("base", cache), language)
    pipelines = Pipelines(cache, language)
    rows: list[dict[str, Any]] = []
    risk: dict[str, Any] | None = None
    failed = False
    try:
        for item in items:
            row: dict[str, Any] = {
                "name": item.name,
                "kind": item.kind,
                "wav": str(item.wav),
                "duration_s": float(item.truth["duration_s"]),
                "truth_speakers": len(item.truth["roles"]),
                "set": "realistic" if "condition" in item.truth else "espeak",
                "condition": item.truth.get("condition", item.kind),
                "pair": item.truth.get("pair", ""),
                "roles_scored": bool(item.truth.get("roles_scored", True)),
            }
            rows.append(row)
            try:
                if args.truth_as_hypothesis:
                    result, wall = em.truth_as_result(item.truth), None
                else:
                    hint = args.hint if args.hint is not None else HINT_BY_KIND.get(item.kind, 2)
                    result, wall = pipelines.run(item.wav, hint)
                    row["speakers_hint"] = hint
                row["wall_s"] = wall
                row["realtime_factor"] = row["duration_s"] / wall if wall else None
                row["score"] = em.score_session(item.truth, result, collar=args.collar).to_dict()
                row["cpwer"] = em.cp_word_errors(item.truth["turns"], result.get("segments") or []).to_dict()
                row["speech_only_der"] = speech_only_der(item, result)
                row["timings"] = result.get("timings")
                row["resources"] = result.get("resources")
                row["hypothesis"] = {k: result.get(k) for k in ("speakers", "turns", "segments")}
                if baseline is not None:
                    text, fw_wall = baseline.transcribe(item.wav)
                    row["faster_whisper"] = {
                        "wer": em.word_errors([t["text"] for t in item.truth["turns"]], text).to_dict(),
                        "wall_s": fw_wall,
                        "text": text,
                    }
            except Exception as exc:  # one broken session must not hide the others
                failed = True
                row["error"] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            _progress(row)
        if args.set == "all" and not args.truth_as_hypothesis and not args.sessions:
            try:
                risk = eval_risk.run_risk(None, lambda wav: pipelines.run(wav, 2)[0], jobs=args.jobs)
            except Exception:  # the other sets' report still comes out
                failed = True
                traceback.print_exc()
    finally:
        pipelines.close()

    overall = summarise(rows, args.collar)
    espeak_rows = [r for r in rows if r["set"] == "espeak"]
    realistic_rows = [r for r in rows if r["set"] == "realistic"]
    report = {
        "collar": args.collar,
        "collar_convention": "pyannote.metrics total width: collar 0.25 forgives ±0.125 s around reference boundaries",
        "mode": "truth-as-hypothesis" if args.truth_as_hypothesis else "pipeline",
        "language": args.language,
        "baseline": None if baseline is None else {"load_s": baseline.load_s, "config": "int8, beam 1, VAD, words"},
        "pipeline_construct_s": pipelines.construct_s,
        "sessions": rows,
        "overall": overall,
    }
    report["targets"] = targets(summarise(espeak_rows, args.collar), args.collar) if espeak_rows else []
    if realistic_rows:
        report["realistic"] = {
            "conditions": er.pool_by(realistic_rows),
            "overall": er.pool(realistic_rows),
            "targets": er.targets(realistic_rows, roles_measured=True),
        }
    report["roles_on_annomi_text"] = roles_on_annomi_text()
    if risk is not None:
        report["risk"] = risk
    print()
    print_report(report)
    if realistic_rows:
        print("\nRealistic set, pooled per condition")
        er.print_pooled(realistic_rows, args.collar, roles_measured=True)
    text_roles = report["roles_on_annomi_text"]
    if text_roles is not None:
        print(
            f"\nRole method on the AnnoMI transcripts' own text (no audio): {text_roles['correct']}/"
            f"{text_roles['dialogues']} dialogues right from the first 20 utterances, "
            f"{text_roles['correct_full']}/{text_roles['dialogues']} from the whole dialogue"
        )
    if risk is not None:
        eval_risk.print_report(risk, verbose=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if failed else 0


def run_risk_only(args: argparse.Namespace, language: str | None) -> int:
    """``--set risk``: the risk set through the pipeline (or its text only with --truth-as-hypothesis)."""
    from tbdesktop.config import load_settings

    pipelines = None if args.truth_as_hypothesis else Pipelines(load_settings().cache_dir, language)
    try:
        run = None if pipelines is None else (lambda wav: pipelines.run(wav, 2)[0])
        report = eval_risk.run_risk(args.sessions, run, jobs=args.jobs)
    finally:
        if pipelines is not None:
            pipelines.close()
    eval_risk.print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"set": "risk", "risk": report}, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


def roles_on_annomi_text() -> dict[str, int] | None:
    """The role rules (engine/roles.py) on every AnnoMI dev dialogue's labelled text, timed at a speaking pace.

    Separates the rules from transcription and diarization errors: how often is the therapist found when
    the words and the speakers are right?
    """
    import csv
    from collections import defaultdict

    from tbdesktop.engine import roles
    from tbdesktop.engine.types import Segment

    if not annomi_audio.ANNOMI_CSV.is_file():
        return None
    dialogues: dict[str, list[dict[str, str]]] = defaultdict(list)
    with annomi_audio.ANNOMI_CSV.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            dialogues[row["transcript_id"]].append(row)
    counts = {"dialogues": len(dialogues), "correct": 0, "correct_full": 0}
    for utterances in dialogues.values():
        utterances.sort(key=lambda r: int(r["utterance_id"]))
        for key, limit in (("correct", 20), ("correct_full", len(utterances))):
            segments, t = [], 0.0
            for u in utterances[:limit]:
                length = 0.35 * len(u["utterance_text"].split()) + 0.5
                segments.append(Segment(t, t + length, u["utterance_text"], u["interlocutor"]))
                t += length + 0.5
            found = roles.assign_roles(segments)
            counts[key] += int(found.get("therapist") == "therapist" and found.get("client") == "client")
    return counts


def speech_only_der(item: Item, result: dict[str, Any]) -> float | None:
    """DER (no collar) against a reference with the pauses inside turns cut out (a diagnostic; fixtures only)."""
    if not any("pauses" in t for t in item.truth["turns"]):
        return None
    hyp = result.get("turns") or result.get("segments") or []
    return em.diarization_error(em.speech_only(item.truth["turns"]), hyp, float(item.truth["duration_s"])).der


def _progress(row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"  {row['name']}: ERROR {row['error']}", flush=True)
        return
    s = row["score"]
    print(
        f"  {row['name']}: WER {_pct(s['wer']['wer']).strip()}, DER {_pct(s['der']['der']).strip()}, "
        f"speakers {s['speakers_found']}/{s['speakers_truth']}, role {_pct(s['roles']['speaker_accuracy']).strip()}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
