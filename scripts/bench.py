"""`make bench`: speed and memory of the processing pipeline against plain faster-whisper, in one run.

Workload: a two-speaker recording of AnnoMI counselling dialogues synthesised with two espeak-ng voices and
concatenated (scripts/eval_fixtures.py; cached in .cache/bench/). ``--minutes 60`` repeats that material with
silences in between for an hour.

Each configuration runs in its own fresh child process and is timed inside it from before its imports to the
last word, model loading included:

- faster-whisper alone: the same ``base`` model folder, int8 on CPU, ``cpu_threads = os.cpu_count()``, VAD on,
  beam 1, word timestamps (``WhisperModel.transcribe`` as documented);
- our pipeline: ``Pipeline(PipelineOptions(...))`` and ``run`` — cold (spawning both workers and loading the
  models counts) and then a second, warm run on the same ``Pipeline``.

Memory: the whole process tree (this bench process, the child and the pipeline's workers) is sampled from /proc
every 0.1 s; the peak of the summed RSS is reported with each process's peak, next to the pipeline's own
``resources.peak_rss_mb``. The decoded audio the workers read lives in a memory file (memfd) that no process's
RSS shows: the memory target counts it too (RSS + memory files, scripts/rss.py).

Timings are noisy on a shared machine: every configuration runs ``--repeat`` times (default 3), the order of the
configurations alternating from round to round, and each is reported as the median with its min, max and spread;
the load average is printed before and after. One run is never a finding.

Targets (met / not met on the medians; the exit status reflects errors only): end-to-end ≥ 40× realtime on the
10-minute file; pipeline wall ≤ 0.6 × faster-whisper-alone wall; peak tree RSS + memory files ≤ 1.5 GB on the
60-minute file; the window's worst stall ≤ 50 ms while the app processes the recording (a 10 ms timer on the Qt
loop; ``--no-gui`` skips).

The window's stall: the real main window, offscreen, imports the recording, shows it while it is processed and is
rebuilt with its transcript at the end. Each stall is split into the time the window's thread waited, runnable, for
a CPU (Linux schedstat: the machine's scheduling, e.g. other processes on a busy machine) and the rest (work of the
app on that thread, or another thread of the app holding the GIL). ``--gui-only`` runs just this, ``--repeat``
times, judged on the median of the runs' worst stalls.

Usage: python scripts/bench.py [--minutes 10] [--repeat 3] [--json out.json] [--warm-runs 1] [--app] [--gui-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(1, str(REPO_ROOT / "tests"))  # the in-memory keyring the app path's bench profile uses

import eval_fixtures  # noqa: E402
import rss  # noqa: E402

TARGET_REALTIME = 40.0
TARGET_WALL_RATIO = 0.6
TARGET_PEAK_MB = 1536.0
TARGET_STALL_MS = 50.0
STAGES = ("model_load", "model_wait", "decode", "vad", "asr", "diarization", "merge", "total", "overlap")


def workload(minutes: float) -> eval_fixtures.Session:
    return eval_fixtures.build_bench_recording(minutes)


def duration_of(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# --- children: each configuration in a fresh process ---------------------------------------------------------


def child_faster_whisper(audio: Path, model_dir: Path, threads: int, language: str | None) -> dict[str, Any]:
    """Plain faster-whisper as documented: VAD on, beam 1, word timestamps, int8 on CPU."""
    t0 = time.perf_counter()
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    loaded = time.perf_counter()
    segments, info = model.transcribe(str(audio), beam_size=1, vad_filter=True, word_timestamps=True, language=language)
    texts = [s.text for s in segments]
    done = time.perf_counter()
    return {
        "wall_s": done - t0,
        "load_s": loaded - t0,
        "transcribe_s": done - loaded,
        "language": info.language,
        "text": " ".join(texts),
    }


def child_pipeline(audio: Path, cache: Path, warm_runs: int, language: str | None) -> dict[str, Any]:
    """A new Pipeline (cold: worker start and model load count), then ``warm_runs`` more runs on it."""
    t0 = time.perf_counter()
    from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

    pipeline = Pipeline(PipelineOptions(cache_dir=cache, speakers_hint=2, language=language))
    runs: list[dict[str, Any]] = []
    try:
        started = t0
        for index in range(1 + warm_runs):
            result = pipeline.run(audio).to_dict()
            finished = time.perf_counter()
            runs.append({"wall_s": finished - started, "cold": index == 0, "result": result})
            started = finished
        pids = pipeline.worker_pids() if hasattr(pipeline, "worker_pids") else []
    finally:
        pipeline.close()
    return {"runs": runs, "worker_pids": pids, "options": repr(pipeline.options)}


def run_child(kind: str, out: Path, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--out", str(out), *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    code = proc.wait()
    if code != 0:
        raise RuntimeError(f"the {kind} run failed (exit {code})")
    data = dict(json.loads(out.read_text(encoding="utf-8")))
    data["process_wall_s"] = time.perf_counter() - started  # incl. interpreter start, for reference
    data["pid"] = proc.pid
    return data


def _loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def app_queue(path: Path, cache: Path, count: int = 1, workers: int = 0) -> tuple[float, int]:
    """Import ``count`` recordings, then the job queue and the spawned workers until all are done, as the app runs
    them (``workers`` jobs at once; 0: as many as the app decides for this workstation). Returns the wall seconds
    from the first import to the last job's end, and how many jobs ran at once."""
    import keyring
    from memory_keyring import MemoryKeyring

    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.processing import ProcessingRunner
    from tbdesktop.services.profiles import ProfileService
    from tbdesktop.services.sessions import ImportRequest, SessionService

    keyring.set_keyring(MemoryKeyring.backend())  # the recordings' keys: never an OS keyring of the bench machine
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.open(Settings(data_dir=Path(tmp), cache_dir=cache, secret_store="keyring"))
        user = ProfileService(ctx).create_profile_sync("Bench")
        t0 = time.perf_counter()
        for n in range(count):
            SessionService(ctx, user).import_recording_sync(
                ImportRequest(source=path, client_name=f"Client {n + 1}", consent_method="verbal", allow_duplicate=True)
            )
        runner = ProcessingRunner(ctx, owner_ids=[user.id], workers=workers)

        async def go() -> int:
            done = await runner.run_until_idle()
            await runner.stop()
            return done

        done = asyncio.run(go())
        elapsed = time.perf_counter() - t0
        ctx.close()
        if done != count:
            raise RuntimeError(f"the queue ran {done} of {count} jobs")
        return elapsed, runner.capacity.jobs


def _cpu_wait_ms() -> float | None:
    """Linux: how long the calling thread has so far spent runnable but waiting for a CPU (its schedstat)."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as fh:
            return int(fh.read().split()[1]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


def gui_stall(path: Path, cache: Path) -> dict[str, Any]:
    """The window while a recording is imported and processed as the app does it: the real main window, shown
    (offscreen), imports the file through its import flow (the processing dialog, the sessions list), opens the
    session and stays on it until its view is rebuilt with the transcript; the runner is on its own thread.
    A 10 ms sleep on the Qt loop measures how late the loop ever came back, from the import until a second
    after the job ended. Each tick also records how long the window's thread waited, runnable, for a CPU
    (Linux schedstat): a stall made of that waiting is the machine's scheduling, not work of the app."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import keyring
    import qasync
    from memory_keyring import MemoryKeyring
    from PySide6.QtWidgets import QApplication

    from tbdesktop.app import processing_for_window
    from tbdesktop.config import Settings
    from tbdesktop.services.bundle import AppServices
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.profiles import ProfileService
    from tbdesktop.services.sessions import ImportRequest
    from tbdesktop.ui.resources import style_sheet
    from tbdesktop.ui.window.main_window import MainWindow

    keyring.set_keyring(MemoryKeyring.backend())
    app = QApplication.instance() or QApplication([])
    app.setStyleSheet(style_sheet())
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.open(Settings(data_dir=Path(tmp), cache_dir=cache, secret_store="keyring"))
        user = ProfileService(ctx).create_profile_sync("Bench")
        processing = processing_for_window(ctx, user)
        window = MainWindow(AppServices.compose(ctx, user), processing)
        window.resize(1040, 720)
        window.show()
        finished: list[str] = []
        processing.add_listener(
            lambda e: finished.append(e.status) if e.status in {"completed", "failed", "cancelled"} else None
        )

        async def main() -> dict[str, Any]:
            await processing.start()
            await window.refresh()
            ticks: list[tuple[float, float]] = []  # (how late, of which waiting for a CPU), seconds
            stop_at: list[float] = []

            async def sample() -> None:
                while not stop_at or time.perf_counter() < stop_at[0]:
                    before, waited = time.perf_counter(), _cpu_wait_ms()
                    await asyncio.sleep(0.01)
                    late = time.perf_counter() - before - 0.01
                    after = _cpu_wait_ms()
                    cpu = (after - waited) / 1000 if after is not None and waited is not None else 0.0
                    ticks.append((late, min(max(cpu, 0.0), max(late, 0.0))))

            sampler = asyncio.ensure_future(sample())
            info = await window.imports.run_import(ImportRequest(source=path, consent_method="verbal"))
            if info is None:
                raise RuntimeError("the import failed")
            await window.open_session(info.id)  # on screen while it is processed: rebuilt when it ends
            while not finished:
                await asyncio.sleep(0.05)
            stop_at.append(time.perf_counter() + 1.0)  # the list refresh and the session view after the end
            await sampler
            shown = len(window.session_view.rows())
            await processing.stop()
            lates = sorted(late for late, _ in ticks)
            worst = max(ticks) if ticks else (0.0, 0.0)
            return {
                "worst_stall_ms": round(1000 * worst[0], 1),
                "worst_stall_cpu_wait_ms": round(1000 * worst[1], 1),
                "worst_app_stall_ms": round(1000 * max(late - cpu for late, cpu in ticks), 1) if ticks else 0.0,
                "p99_stall_ms": round(1000 * lates[int(len(lates) * 0.99)], 1) if lates else 0.0,
                "ticks": len(lates),
                "status": finished[0],
                "transcript_rows": shown,
                "load": [round(x, 2) for x in os.getloadavg()],
            }

        try:
            return loop.run_until_complete(main())
        finally:
            window.close()
            ctx.close()
            loop.close()
            asyncio.set_event_loop(None)


# --- report ------------------------------------------------------------------------------------------------------


def run_fw(tmp: Path, common: list[str], model_dir: Path, threads: int) -> dict[str, Any]:
    with rss.TreeSampler() as sampler, rss.CpuWatch() as cpu:
        data = run_child("fw", tmp / "fw.json", [*common, "--model-dir", str(model_dir), "--threads", str(threads)])
    memory = sampler.report()
    _label(memory, "faster-whisper child", data["pid"], [])
    return {"data": data, "cpu": cpu.report(), "memory": memory}


def run_pipeline(tmp: Path, common: list[str], cache: Path, warm_runs: int) -> dict[str, Any]:
    with rss.TreeSampler() as sampler, rss.CpuWatch() as cpu:
        pl = run_child(
            "pipeline", tmp / "pipeline.json", [*common, "--cache", str(cache), "--warm-runs", str(warm_runs)]
        )
    memory = sampler.report()
    _label(memory, "pipeline main (child)", pl["pid"], list(pl.get("worker_pids") or []))
    runs = [
        {
            "cold": run["cold"],
            "wall_s": run["wall_s"],
            "timings": run["result"].get("timings", {}),
            "resources": (run["result"].get("resources") or {}).get("peak_rss_mb"),
            "speakers": [
                {k: s.get(k) for k in ("id", "role", "talk_time_s", "words")} for s in run["result"].get("speakers", ())
            ],
        }
        for run in pl["runs"]
    ]
    return {"runs": runs, "memory": memory, "options": pl.get("options"), "cpu": cpu.report(),
            "result": pl["runs"][0]["result"]}  # fmt: skip


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "runs": [round(v, 2) for v in values],
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def spread_table(fw_runs: list[dict[str, Any]], pl_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread of each configuration's wall time over the rounds."""
    table: dict[str, Any] = {}
    if fw_runs:
        table["faster-whisper alone"] = _stats([r["data"]["wall_s"] for r in fw_runs])
    if pl_runs:
        table["pipeline, cold"] = _stats([r["runs"][0]["wall_s"] for r in pl_runs])
        warm = [r["runs"][1]["wall_s"] for r in pl_runs if len(r["runs"]) > 1]
        if warm:
            table["pipeline, warm"] = _stats(warm)
    return table


def median_run(runs: list[dict[str, Any]], wall: Callable[[dict[str, Any]], float]) -> dict[str, Any]:
    """The run whose wall time is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=wall)
    return ordered[(len(ordered) - 1) // 2]


def stage_medians(timings: list[dict[str, Any]]) -> dict[str, float]:
    return {
        k: round(statistics.median(float(t[k]) for t in timings if k in t), 2)
        for k in STAGES
        if any(k in t for t in timings)
    }


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _label(memory: dict[str, Any], child: str, child_pid: int, worker_pids: list[int]) -> None:
    names = dict(zip(worker_pids, ("asr worker", "diarization worker"), strict=False))
    names[child_pid] = child
    for entry in memory["per_process_peak_rss_mb"]:
        if entry["pid"] in names:
            entry["name"] = names[entry["pid"]]
        elif entry["pid"] == os.getpid():
            entry["name"] = "bench (this process)"
        else:
            entry["name"] = entry["name"][:28]


def accuracy(truth: dict[str, Any], result: dict[str, Any], fw_text: str | None) -> dict[str, Any]:
    import eval_metrics as em

    score = em.score_session(truth, result).to_dict()
    out = {
        "wer": score["wer"]["wer"],
        "der": score["der"]["der"],
        "der_collar_0.25": score["der_collar"]["der"],
        "speakers_found": score["speakers_found"],
        "role_speaker_accuracy": score["roles"]["speaker_accuracy"],
        "role_word_accuracy": score["roles"]["word_accuracy"],
    }
    if fw_text is not None:
        out["faster_whisper_wer"] = em.word_errors([t["text"] for t in truth["turns"]], fw_text).wer
    return out


def print_report(r: dict[str, Any]) -> None:
    audio_s = r["audio_s"]
    print(f"\nWorkload: {audio_s:.0f} s ({audio_s / 60:.1f} min) two-voice speech, {r['workload']['turns']} turns")
    print(f"Machine: {r['machine']}; faster-whisper threads {r['threads']}")
    head = (
        f"{'configuration':52} {'wall s':>8} {'× realtime':>11} {'vs fw':>7} {'peak tree RSS':>14} {'other load':>10}"
    )
    print(head)
    print("-" * len(head))
    fw = r.get("faster_whisper")
    for row in r["table"]:
        ratio = f"{row['wall_s'] / fw['wall_s']:6.2f}×" if fw else "     —"
        mem = f"{row['peak_tree_rss_mb']:10.0f} MB" if row.get("peak_tree_rss_mb") is not None else ""
        load = f"{row['other_load']:9.2f}" if row.get("other_load") is not None else ""
        print(f"{row['name']:52} {row['wall_s']:8.1f} {audio_s / row['wall_s']:10.1f}× {ratio} {mem:>14} {load:>10}")
    print(
        "  wall s: the median of the rounds; other load: the most CPU cores busy with processes outside this "
        f"benchmark during any round of that configuration (of {r['threads']}); above ~0.2 the timings are disturbed"
    )
    reps = r.get("repeats") or {}
    if reps:
        print(f"\nRounds (configurations alternated; load average before {r.get('load_before')}, after "
              f"{r.get('load_after')}):")  # fmt: skip
        for name, st in reps.items():
            spread = 100 * (st["max"] - st["min"]) / st["median"] if st["median"] else 0.0
            runs = ", ".join(f"{v:.1f}" for v in st["runs"])
            print(f"  {name:24} median {st['median']:7.1f} s  min {st['min']:7.1f}  max {st['max']:7.1f}  "
                  f"spread {spread:4.0f} %  ({runs})")  # fmt: skip
    if fw:
        print(f"  (faster-whisper alone: model load {fw['load_s']:.1f} s, transcription {fw['transcribe_s']:.1f} s)")
    p = r.get("pipeline")
    if p:
        print("\nPipeline stage timings (s):")
        print(f"  {'run':6}" + "".join(f"{k:>12}" for k in STAGES))
        for run in p["runs"]:
            t = run["timings"]
            label = "cold" if run["cold"] else "warm"
            print(f"  {label:6}" + "".join(f"{t[k]:12.2f}" if k in t else f"{'—':>12}" for k in STAGES))
        med = p.get("stage_medians")
        if med:
            print(f"  {'median':6}" + "".join(f"{med[k]:12.2f}" if k in med else f"{'—':>12}" for k in STAGES)
                  + "   (cold runs)")  # fmt: skip
        cold = p["runs"][0]["timings"]
        if cold.get("asr") and "overlap" in cold:
            print(
                f"  overlap: ASR and diarization ran together for {cold['overlap']:.1f} s "
                f"({100 * cold['overlap'] / max(cold.get('diarization') or 1e-9, 1e-9):.0f} % of diarization)"
            )
        mem = p["memory"]
        print(
            f"\nPeak memory during the pipeline ({'cold + warm' if len(p['runs']) > 1 else 'cold'}), whole tree "
            f"sampled every {mem['interval_s']} s: "
            f"RSS {mem['peak_tree_rss_mb']:.0f} MB"
            + (f", PSS {mem['peak_tree_pss_mb']:.0f} MB" if mem.get("peak_tree_pss_mb") else "")
            + f"; RSS + memory files (decoded audio) {mem['peak_tree_total_mb']:.0f} MB"
        )
        for entry in mem["per_process_peak_rss_mb"][:6]:
            print(f"  {entry['name']:28} pid {entry['pid']:>7}  {entry['mb']:8.0f} MB")
        print(
            "  pipeline resources.peak_rss_mb (each process's exact high-water mark; the sampler can miss a spike "
            f"shorter than 0.1 s): {p['runs'][-1]['resources']}"
        )
        if r.get("faster_whisper_memory"):
            print(f"  faster-whisper alone, whole tree: {r['faster_whisper_memory']['peak_tree_rss_mb']:.0f} MB")
        acc = p.get("accuracy")
        if acc:
            fw_wer = acc.get("faster_whisper_wer")
            print(
                f"\nAccuracy on this workload (cold run): WER {100 * acc['wer']:.1f} %"
                + (f" (faster-whisper alone {100 * fw_wer:.1f} %)" if fw_wer is not None else "")
                + f", DER {100 * acc['der']:.1f} % (collar 0.25: {100 * acc['der_collar_0.25']:.1f} %), "
                f"speakers {acc['speakers_found']}/2, role accuracy {100 * acc['role_speaker_accuracy']:.0f} %"
            )
    for g in r.get("gui_runs") or ([r["gui"]] if r.get("gui") else []):
        print(
            f"\nWindow while the app imported and processed the recording ({g['status']}, "
            f"{g.get('transcript_rows', 0)} transcript rows shown): worst stall {g['worst_stall_ms']:.0f} ms "
            f"(of which {g.get('worst_stall_cpu_wait_ms', 0):.0f} ms waiting for a CPU), worst stall of the app "
            f"itself {g.get('worst_app_stall_ms', 0):.0f} ms, p99 {g['p99_stall_ms']:.0f} ms over {g['ticks']} "
            f"ticks of a 10 ms timer (load {g.get('load')})"
        )
    long = r.get("long_memory")
    if long:
        print(
            f"\nPipeline on a {long['minutes']:g}-minute recording: peak tree RSS {long['peak_tree_rss_mb']:.0f} MB, "
            f"with the decoded audio's memory file {long['peak_tree_total_mb']:.0f} MB; "
            f"{long['wall_s']:.0f} s ({long['realtime']:.1f}× realtime)"
        )
    for q in r.get("queue") or []:
        print(
            f"\nQueue of {q['recordings']} recordings through the app (import, job queue, workers; TB_WORKERS "
            f"{q['workers']} → {q['jobs_at_once']} at once): {q['wall_s']:.0f} s — {q['sessions_per_hour']:.0f} "
            f"sessions per hour, {q['audio_hours_per_hour']:.1f} hours of audio per hour (load {q['load']})"
        )
    print("\nTargets")
    for t in r["targets"]:
        print(f"  {t['name']:58} {t['value']:>22}   {_met(t['met']) if t['met'] is not None else t.get('note', '')}")


def gui_target(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The window's worst stall, judged on the median over the runs (one run outside --gui-only)."""
    runs = r.get("gui_runs") or ([r["gui"]] if r.get("gui") else [])
    if not runs:
        return []
    worst = statistics.median(g["worst_stall_ms"] for g in runs)
    each = ", ".join(f"{g['worst_stall_ms']:.0f}" for g in runs)
    spread = f" (runs: {each})" if len(runs) > 1 else ""
    return [
        {
            "name": f"window's worst stall ≤ {TARGET_STALL_MS:g} ms while processing",
            "value": f"{worst:.0f} ms{spread}",
            "met": worst <= TARGET_STALL_MS,
        }
    ]


def targets(r: dict[str, Any], minutes: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = gui_target(r)
    p, fw = r.get("pipeline"), r.get("faster_whisper")
    if not p:
        return out
    reps = r.get("repeats") or {}
    cold = reps["pipeline, cold"]["median"] if "pipeline, cold" in reps else p["runs"][0]["wall_s"]
    rt = r["audio_s"] / cold
    ten = abs(minutes - 10) < 0.5
    out.append(
        {
            "name": f"end-to-end ≥ {TARGET_REALTIME:g}× realtime (10-min file, cold, median)",
            "value": f"{rt:.1f}×",
            "met": rt >= TARGET_REALTIME if ten else None,
            "note": "" if ten else f"n/a: {minutes:g}-min file",
        }
    )
    if fw:
        ratio = cold / fw["wall_s"]
        out.append(
            {
                "name": f"pipeline wall ≤ {TARGET_WALL_RATIO:g} × faster-whisper alone (cold, medians)",
                "value": f"{ratio:.2f}×",
                "met": ratio <= TARGET_WALL_RATIO,
            }
        )
    long = r.get("long_memory")
    if long is not None:  # the --rss-minutes run of this same bench
        peak, sixty, length = long["peak_tree_total_mb"], long["minutes"] >= 60, long["minutes"]
    else:
        peak, sixty, length = p["memory"]["peak_tree_total_mb"], minutes >= 60, minutes
    out.append(
        {
            "name": "peak tree RSS + memory files ≤ 1.5 GB (60-min file)",
            "value": f"{peak:.0f} MB ({length:g}-min file)",
            "met": peak <= TARGET_PEAK_MB if sixty else None,
            "note": "" if sixty else f"n/a: {length:g}-min file (run --rss-minutes 60)",
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the workload (default 10)")
    parser.add_argument("--json", nargs="?", const="-", help="write the report as JSON to this file ('-': stdout)")
    parser.add_argument("--warm-runs", type=int, default=1, help="runs after the cold one on the same Pipeline")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of every configuration, alternating their order (default 3)"
    )
    parser.add_argument("--language", default="auto", help="language for both systems (default: detect)")
    parser.add_argument("--skip-baseline", action="store_true", help="skip faster-whisper alone")
    parser.add_argument("--app", action="store_true", help="also time import + job queue + worker (the app path)")
    parser.add_argument("--queue", type=int, default=0, help="also time a queue of N recordings through the app path")
    parser.add_argument(
        "--queue-workers",
        default="0",
        help="comma-separated jobs-at-once settings to time the queue with (0: the app decides; e.g. 0,2)",
    )
    parser.add_argument(
        "--no-gui", dest="gui", action="store_false", help="skip the window's stall while the app processes"
    )
    parser.add_argument(
        "--rss-minutes",
        type=float,
        default=0.0,
        help="also run the pipeline once on a recording this long for its peak memory (e.g. 60)",
    )
    parser.add_argument(
        "--gui-only",
        action="store_true",
        help="only the window's stall while the app processes the recording, --repeat times",
    )
    parser.add_argument("--child", choices=("fw", "pipeline"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--audio", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    language = None if args.language == "auto" else args.language

    if args.child:
        if args.child == "fw":
            data = child_faster_whisper(args.audio, args.model_dir, args.threads, language)
        else:
            data = child_pipeline(args.audio, args.cache, args.warm_runs, language)
        args.out.write_text(json.dumps(data), encoding="utf-8")
        return 0

    from tbdesktop.config import load_settings
    from tbdesktop.engine.models import resolve_model

    cache = load_settings().cache_dir
    model_dir = resolve_model("base", cache)
    print(f"building (or reusing) the {args.minutes:g}-minute workload in {eval_fixtures.BENCH_DIR} …", flush=True)
    session = workload(args.minutes)
    audio_s = duration_of(session.wav)
    threads = os.cpu_count() or 2
    report: dict[str, Any] = {
        "audio_s": round(audio_s, 2),
        "minutes": args.minutes,
        "workload": {"wav": str(session.wav), "turns": len(session.truth["turns"]), "source": session.truth["source"]},
        "machine": f"{platform.machine()}, {threads} cores, Python {platform.python_version()}",
        "threads": threads,
        "language": args.language,
        "table": [],
    }
    common = ["--audio", str(session.wav), "--language", args.language]
    report["load_before"] = [round(x, 2) for x in os.getloadavg()]
    if args.gui_only:
        report["gui_runs"] = []
        for round_no in range(args.repeat):
            print(f"window {round_no + 1}/{args.repeat}: a 10 ms timer on the Qt loop while the app imports and "
                  "processes the recording …", flush=True)  # fmt: skip
            report["gui_runs"].append(gui_stall(session.wav, cache))
        report["load_after"] = [round(x, 2) for x in os.getloadavg()]
        report["targets"] = gui_target(report)
        return _output(report, args.json)
    fw_runs: list[dict[str, Any]] = []
    pl_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(args.repeat):
            # alternate the order, so a slow spell of the machine does not land on one configuration only
            order = ("fw", "pipeline") if round_no % 2 == 0 else ("pipeline", "fw")
            for kind in order:
                if kind == "fw" and args.skip_baseline:
                    continue
                print(f"round {round_no + 1}/{args.repeat}: {'faster-whisper alone' if kind == 'fw' else 'pipeline'} …",
                      flush=True)  # fmt: skip
                if kind == "fw":
                    fw_runs.append(run_fw(Path(tmp), common, model_dir, threads))
                else:
                    pl_runs.append(run_pipeline(Path(tmp), common, cache, args.warm_runs))
    if args.rss_minutes:
        print(f"pipeline once on a {args.rss_minutes:g}-minute recording, for its peak memory …", flush=True)
        long_session = workload(args.rss_minutes)
        with tempfile.TemporaryDirectory() as tmp:
            long_run = run_pipeline(
                Path(tmp), ["--audio", str(long_session.wav), "--language", args.language], cache, 0
            )
        report["long_memory"] = {
            "minutes": args.rss_minutes,
            "peak_tree_rss_mb": long_run["memory"]["peak_tree_rss_mb"],
            "peak_tree_total_mb": long_run["memory"]["peak_tree_total_mb"],
            "per_process_peak_rss_mb": long_run["memory"]["per_process_peak_rss_mb"][:6],
            "wall_s": long_run["runs"][0]["wall_s"],
            "realtime": round(duration_of(long_session.wav) / long_run["runs"][0]["wall_s"], 1),
        }
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report["repeats"] = spread_table(fw_runs, pl_runs)
    if fw_runs:
        fw_median = median_run(fw_runs, lambda r: r["data"]["wall_s"])
        report["faster_whisper"] = fw_median["data"]
        report["faster_whisper"]["wall_s"] = report["repeats"]["faster-whisper alone"]["median"]
        report["faster_whisper"]["cpu"] = fw_median["cpu"]
        report["faster_whisper_memory"] = fw_median["memory"]
        report["table"].append(
            {
                "name": "faster-whisper alone (int8, beam 1, VAD, words)",
                "wall_s": report["repeats"]["faster-whisper alone"]["median"],
                "peak_tree_rss_mb": max(r["memory"]["peak_tree_rss_mb"] for r in fw_runs),
                "other_load": max(r["cpu"]["other_load"] for r in fw_runs),
            }
        )
    pl_median = median_run(pl_runs, lambda r: r["runs"][0]["wall_s"])
    report["pipeline"] = {
        "runs": pl_median["runs"],
        "memory": max((r["memory"] for r in pl_runs), key=lambda m: float(m["peak_tree_rss_mb"])),
        "options": pl_median["options"],
        "cpu": pl_median["cpu"],
        "stage_medians": stage_medians([r["runs"][0]["timings"] for r in pl_runs]),
    }
    try:
        fw_text = report.get("faster_whisper", {}).get("text")
        report["pipeline"]["accuracy"] = accuracy(session.truth, pl_median["result"], fw_text)
    except Exception as exc:  # accuracy is extra information here; `make eval` owns it
        report["pipeline"]["accuracy_error"] = f"{type(exc).__name__}: {exc}"
    for label, cold in (("pipeline, cold", True), ("pipeline, warm", False)):
        stats = report["repeats"].get(label)
        if stats is None:
            continue
        report["table"].append(
            {
                "name": "pipeline, cold (new Pipeline: workers + models + run)"
                if cold
                else "pipeline, warm (same Pipeline, second run)",
                "wall_s": stats["median"],
                "peak_tree_rss_mb": report["pipeline"]["memory"]["peak_tree_rss_mb"] if cold else None,
                "other_load": max(r["cpu"]["other_load"] for r in pl_runs),
            }
        )
    if args.app:
        print("app: import + queue + worker …", flush=True)
        report["table"].append(
            {"name": "app: import + queue + worker process", "wall_s": app_queue(session.wav, cache)[0]}
        )
    if args.gui:
        print("window: a 10 ms timer on the Qt loop while the app processes the recording …", flush=True)
        report["gui"] = gui_stall(session.wav, cache)
    if args.queue:
        report["queue"] = []
        for workers in [int(w) for w in str(args.queue_workers).split(",") if w.strip()]:
            print(f"app: a queue of {args.queue} recordings, TB_WORKERS {workers} …", flush=True)
            before = _loadavg()
            wall, at_once = app_queue(session.wav, cache, args.queue, workers)
            report["queue"].append(
                {
                    "recordings": args.queue,
                    "workers": workers,
                    "jobs_at_once": at_once,
                    "wall_s": round(wall, 1),
                    "sessions_per_hour": round(args.queue * 3600 / wall, 1),
                    "audio_hours_per_hour": round(args.queue * audio_s / wall, 1),
                    "load": f"{before} → {_loadavg()}",
                }
            )
    report["targets"] = targets(report, args.minutes)
    if report.get("faster_whisper"):
        report["faster_whisper"].pop("text", None)
    return _output(report, args.json)


def _output(report: dict[str, Any], json_path: str | None) -> int:
    if json_path == "-":
        print(json.dumps(report, indent=1))
        return 0
    print_report(report)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"\nwrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
