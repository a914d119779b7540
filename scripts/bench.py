"""`make bench`: processing speed against a plain faster-whisper baseline measured in the same run.

Workload: an AnnoMI counselling dialogue synthesised with two espeak-ng voices (about 5 minutes), or the
repository's own two-voice fixture repeated when the AnnoMI file is absent. Wall times include model loading.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import annomi_audio  # noqa: E402


def workload(seconds: float) -> Path:
    out = REPO_ROOT / ".cache" / "bench"
    if annomi_audio.ANNOMI_CSV.is_file():
        dialogues = annomi_audio.load_dialogues()
        longest = max(dialogues, key=lambda k: len(dialogues[k]))
        return annomi_audio.synthesise(longest, dialogues[longest], out, seconds)
    import make_fixtures

    wav, _ = make_fixtures.make_two_speaker_session(out)
    dest = out / f"repeated_{int(seconds)}s.wav"
    with wave.open(str(wav), "rb") as w:
        params, frames, dur = w.getparams(), w.readframes(w.getnframes()), w.getnframes() / w.getframerate()
    with wave.open(str(dest), "wb") as o:
        o.setparams(params)
        for _ in range(max(1, int(seconds / dur))):
            o.writeframes(frames)
    return dest


def duration_of(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def baseline(path: Path, model_dir: Path, threads: int) -> float:
    """Plain faster-whisper as documented: VAD on, beam 1, word timestamps, int8 on CPU."""
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    segments, _ = model.transcribe(str(path), beam_size=1, vad_filter=True, word_timestamps=True)
    for _ in segments:
        pass
    return time.perf_counter() - t0


def engine(path: Path, cache: Path) -> tuple[float, dict[str, float]]:
    from tbdesktop.engine.pipeline import PipelineOptions, run

    t0 = time.perf_counter()
    result = run(path, PipelineOptions(cache_dir=cache))
    return time.perf_counter() - t0, result.timings


def app_queue(path: Path, cache: Path) -> float:
    """Import + the job queue + the spawned worker, as the app runs it."""
    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.processing import ProcessingRunner
    from tbdesktop.services.profiles import ProfileService
    from tbdesktop.services.sessions import ImportRequest, SessionService

    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext.open(Settings(data_dir=Path(tmp), cache_dir=cache))
        user = ProfileService(ctx).create_profile_sync("Bench")
        t0 = time.perf_counter()
        SessionService(ctx, user).import_recording_sync(ImportRequest(source=path))
        runner = ProcessingRunner(ctx, owner_ids=[user.id])

        async def go() -> None:
            await runner.run_until_idle()
            await runner.stop()

        asyncio.run(go())
        elapsed = time.perf_counter() - t0
        ctx.close()
        return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the workload")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tbdesktop.config import load_settings
    from tbdesktop.engine.models import resolve_model

    cache = load_settings().cache_dir
    model_dir = resolve_model("base", cache)
    path = workload(args.seconds)
    audio_s = duration_of(path)
    threads = os.cpu_count() or 2

    results: dict[str, Any] = {"audio_s": round(audio_s, 1), "machine": f"{platform.machine()}, {threads} cores"}
    base = baseline(path, model_dir, threads)
    eng, timings = engine(path, cache)
    queue = app_queue(path, cache)
    results["runs"] = {
        "baseline faster-whisper (beam 1, VAD, words)": base,
        "engine pipeline (tbdesktop process)": eng,
        "app: import + queue + worker process": queue,
    }
    results["engine_timings"] = timings
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Workload: {audio_s:.0f} s of two-voice speech; {results['machine']}")
    print(f"{'configuration':48} {'wall s':>8} {'× realtime':>11} {'vs baseline':>12}")
    for name, wall in results["runs"].items():
        print(f"{name:48} {wall:8.1f} {audio_s / wall:10.1f}× {wall / base:11.2f}×")
    print("engine stage timings:", {k: round(v, 2) for k, v in timings.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
