"""The realistic half of `make eval`: sessions, a fast diarization-only mode, per-condition pooling and targets.

Sessions: scripts/realistic_fixtures.py (neural voices; conditions such as same-gender pairs, telephone band,
reverb, noise, backchannels, overlaps, a dominant speaker, couples, monologues) plus ``real_sample``, the real
30 s two-person recording and its reference that ship in the pyannote.audio wheel (when it is installed).

Diarization-only mode (``python scripts/eval.py --diarization-only``): decode, the app's voice-activity
detection and the app's local diarizer, in this process, with no transcription: DER (no collar and with the
collar, pyannote's total width) and the speaker count per session, pooled per condition and overall. The
diarizer is built by ``make_diarizer``, which asks the engine's worker builder for it, so whatever encoder the
engine uses is what is measured. Two processes with one thread each; the VAD's probabilities and the encoder's
embeddings are remembered between runs (``EmbeddingMemo``; ``--no-cache`` recomputes), so after a change to the
clustering the whole realistic set takes about 6 s (2 shared cores), and about 100 s when the embeddings must be
computed again (a new encoder).

Targets (printed as met / not met): speaker count right on ≥ 95 % of sessions; DER ≤ 12 % (no collar) pooled
over the two-speaker sessions; roles right on every two-speaker session (full mode only: roles need words).

The diarizer and its memo are in realistic_diarizer.py, the scoring, pooling and targets in realistic_scoring.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import time
import wave
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from realistic_diarizer import _run_one  # noqa: E402
from realistic_scoring import _pct, pool, pool_by, print_pooled, score_diarization, target_rows, targets  # noqa: E402

HINT_BY_KIND = {"couples": 3}  # what the app's session type gives; everything else is an individual session (2)
REAL_SAMPLE = "real_sample"


@dataclass
class Item:
    name: str
    kind: str
    wav: Path
    truth: dict[str, Any]


def hint_for(kind: str) -> int:
    return HINT_BY_KIND.get(kind, 2)


# --- sessions ------------------------------------------------------------------------------------------------------


def realistic_items(names: Sequence[str] | None = None, jobs: int = 2) -> list[Item]:
    """The realistic sessions (built on first use) and the real sample when pyannote.audio is installed."""
    import realistic_fixtures as rf

    wanted = None if not names else [n for n in names if n != REAL_SAMPLE]
    items = []
    if wanted is None or wanted:
        sessions = rf.build_all(rf.DEFAULT_DIR, wanted, jobs=jobs)
        items = [Item(s.name, str(s.truth["condition"]), s.wav, s.truth) for s in sessions]
    if not names or REAL_SAMPLE in names:
        sample = real_sample_item()
        if sample is None:
            print("real_sample skipped: pyannote.audio is not installed")
        else:
            items.append(sample)
    return items


def real_sample_item() -> Item | None:
    """pyannote.audio's sample (``pyannote.audio.sample.SAMPLE_FILE``): read from its files, torch not imported."""
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "sample"
    wav, rttm, stm = folder / "sample.wav", folder / "sample.rttm", folder / "sample.stm"
    if not (wav.is_file() and rttm.is_file()):
        return None
    with wave.open(str(wav), "rb") as w:
        duration = w.getnframes() / w.getframerate()
    turns = parse_rttm(rttm.read_text(encoding="utf-8"))
    if stm.is_file():
        attach_text(turns, parse_stm(stm.read_text(encoding="utf-8")))
    speakers = sorted({t["speaker"] for t in turns})
    truth = {
        "name": REAL_SAMPLE,
        "kind": REAL_SAMPLE,
        "condition": REAL_SAMPLE,
        "duration_s": duration,
        "roles": dict.fromkeys(speakers, "participant"),
        "roles_scored": False,  # two people on the telephone, not a therapy session
        "pair": "real",
        "source": "pyannote.audio sample (real recording, reference annotation shipped with it)",
        "turns": turns,
    }
    return Item(REAL_SAMPLE, REAL_SAMPLE, wav, truth)


def parse_rttm(text: str) -> list[dict[str, Any]]:
    turns = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, length = float(f[3]), float(f[4])
            turns.append({"start": start, "end": round(start + length, 4), "speaker": f[7], "role": None, "text": ""})
    return sorted(turns, key=lambda t: t["start"])


def parse_stm(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5:
            out.append({"speaker": f[2], "start": float(f[3]), "end": float(f[4]), "text": " ".join(f[5:])})
    return out


def attach_text(turns: list[dict[str, Any]], entries: Iterable[Mapping[str, Any]]) -> None:
    """Each transcript entry's text goes to the reference turn holding its midpoint (else the nearest turn)."""
    if not turns:
        return
    for entry in sorted(entries, key=lambda e: float(e["start"])):
        mid = (float(entry["start"]) + float(entry["end"])) / 2
        best = min(
            turns,
            key=lambda t: 0.0 if t["start"] <= mid <= t["end"] else min(abs(t["start"] - mid), abs(t["end"] - mid)),
        )
        best["text"] = f"{best['text']} {entry['text']}".strip()


def run_diarization_only(
    items: Sequence[Item],
    cache_dir: Path,
    collar: float,
    json_path: Path | None,
    hint: int | None = None,
    jobs: int = 2,
    cache: bool = True,
) -> int:
    """Diarize every session (``jobs`` processes, one diarizer thread each), print the table, pool, targets."""
    started = time.perf_counter()
    head = (
        f"{'session':24} {'condition':12} {'pair':6} {'dur s':>6} {'DER':>6} {'DER±' + format(collar / 2, 'g'):>8} "
        f"{'spk':>5} {'hint':>4} {'s':>5}"
    )
    rows: list[dict[str, Any]] = []
    jobs_list = []
    for item in items:
        truth = item.truth
        rows.append(
            {
                "name": item.name,
                "condition": truth.get("condition", item.kind),
                "pair": truth.get("pair", ""),
                "duration_s": float(truth["duration_s"]),
                "hint": hint if hint is not None else hint_for(item.kind),
            }
        )
        jobs_list.append((item.name, str(item.wav), rows[-1]["hint"], str(cache_dir), cache))
    failed = False
    diarizer = ""
    with _single_threaded_children(), _pool(jobs) as executor:
        for item, row, (hyp, info) in zip(items, rows, executor.map(_run_one, jobs_list), strict=True):
            if not diarizer and "diarizer" in info:
                diarizer = info["diarizer"]
                print(f"diarizer: {diarizer}")
                print(head)
                print("-" * len(head))
            if hyp is None:
                failed = True
                row["error"] = info["error"]
                print(f"{item.name:24} ERROR {row['error']}")
                continue
            row.update(info)
            row["score"] = score_diarization(item.truth, hyp, collar)
            row["hypothesis"] = hyp
            s = row["score"]
            print(
                f"{item.name:24} {row['condition']:12} {row['pair']:6} {row['duration_s']:6.1f} "
                f"{_pct(s['der']['der'])} {_pct(s['der_collar']['der']):>8} {s['speakers_found']:>2}/"
                f"{s['speakers_truth']:<2} {row['hint']:>4} {sum(info['timings'].values()):5.2f}",
                flush=True,
            )
    wall = time.perf_counter() - started
    print()
    print_pooled(rows, collar, roles_measured=False)
    audio_min = sum(r["duration_s"] for r in rows) / 60
    hits = sum(r.get("embedding_cache", {}).get("hits", 0) for r in rows)
    calls = hits + sum(r.get("embedding_cache", {}).get("misses", 0) for r in rows)
    cached = f"; embeddings from cache: {hits}/{calls} calls" if calls else ""
    print(f"\n{len(rows)} sessions, {audio_min:.1f} min of audio, {wall:.1f} s wall, {jobs} processes{cached}")
    print(
        "DER: pyannote.metrics over the whole file, overlap scored, no collar; "
        f"DER±{collar / 2:g}: collar={collar:g} (pyannote's collar is the total width). spk: found/truth."
    )
    if json_path is not None:
        report = {
            "mode": "diarization-only",
            "diarizer": diarizer,
            "collar": collar,
            "wall_s": wall,
            "sessions": rows,
            "conditions": pool_by(rows),
            "two_speaker": pool([r for r in rows if "score" in r and r["score"]["speakers_truth"] == 2]),
            "overall": pool(rows),
            "targets": targets(target_rows(rows), roles_measured=False),
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"wrote {json_path}")
    return 1 if failed else 0


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Pool processes read these when numpy and onnxruntime load: one thread each, as the app's worker."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _pool(jobs: int) -> Iterator[Any]:
    if jobs <= 1:

        class _Serial:
            map = staticmethod(map)

        yield _Serial()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool
