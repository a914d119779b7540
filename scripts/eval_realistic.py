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
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import json
import os
import sys
import time
import wave
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import eval_metrics as em  # noqa: E402

TARGET_COUNT_ACCURACY = 0.95
TARGET_TWO_SPEAKER_DER = 0.12
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


# --- the diarizer under test ---------------------------------------------------------------------------------------


def make_diarizer(cache_dir: Path) -> Any:
    """The app's local diarizer, built the way the diarization worker builds it.

    Prefers a public ``build_diarizer`` in tbdesktop.engine.workers, then the worker's own ``_build_diarizer``,
    with the options the pipeline would send (``PipelineOptions.worker_options()``); only when neither exists
    does it construct ``LocalDiarizer`` from the installed encoder itself.
    """
    from tbdesktop.engine import workers

    builder: Callable[[dict[str, Any]], Any] | None = getattr(workers, "build_diarizer", None) or getattr(
        workers, "_build_diarizer", None
    )
    options: dict[str, Any] = {"cache_dir": str(cache_dir), "diarization_backend": "local"}
    try:
        from tbdesktop.engine.pipeline import PipelineOptions

        options = {**PipelineOptions(cache_dir=cache_dir).worker_options(), "diarization_backend": "local"}
    except Exception:  # an options change must not stop the measurement; the minimal dict still builds it
        pass
    if builder is not None:
        return builder(options)
    from tbdesktop.engine.diarization.encoder import install_encoder

    from tbdesktop.engine.diarization.local import LocalDiarizer

    return LocalDiarizer(install_encoder(cache_dir))


def _diarization_params() -> dict[str, Any]:
    """min/max/num speakers as the pipeline sends them (its defaults)."""
    try:
        from tbdesktop.engine.pipeline import PipelineOptions

        o = PipelineOptions(cache_dir=Path("."))
        return {"num_speakers": o.num_speakers, "min_speakers": o.min_speakers, "max_speakers": o.max_speakers}
    except Exception:
        return {"num_speakers": None, "min_speakers": 1, "max_speakers": 6}


CACHE_DIR = SCRIPTS.parent / ".cache" / "eval-realistic" / "diarization-cache"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def _source(obj: Any) -> bytes:
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return b""
    return Path(path).read_bytes() if path else b""


def encoder_fingerprint(model: Any) -> str:
    """What the embeddings depend on besides their input: the model class's source and its weights file."""
    parts = [type(model).__qualname__.encode(), _source(type(model))]
    for value in vars(model).values():
        path = value if isinstance(value, str | Path) else getattr(value, "_model_path", None)
        if isinstance(path, str | Path) and Path(path).is_file():
            stat = Path(path).stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        elif isinstance(value, np.ndarray):
            parts.append(value.tobytes())
    return _digest(*parts)


class EmbeddingMemo:
    """Remembers ``model.embed(features)`` on disk, keyed by the features' bytes, per encoder fingerprint.

    Tuning the clusterer then costs no embedding work after the first run; a change to the features (they
    are computed by the diarizer) misses the cache by itself, and a change to the model's code or weights
    changes the fingerprint. ``--no-cache`` turns it off.
    """

    def __init__(self, model: Any, folder: Path) -> None:
        self.inner = model.embed
        self.folder = folder / encoder_fingerprint(model)
        self.table: dict[str, npt.NDArray[np.float32]] = {}
        self.hits = self.misses = 0
        self.session = ""
        self._dirty = False
        model.embed = self.embed

    def open(self, session: str) -> None:
        self.session = session
        path = self.folder / f"{session}.npz"
        self.table = {}
        if path.is_file():
            with np.load(path) as npz:
                self.table = {k: npz[k] for k in npz.files}
        self._dirty = False

    def embed(self, feats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        key = "k" + _digest(str(feats.shape).encode(), feats.tobytes())
        if key in self.table:
            self.hits += 1
            return self.table[key]
        self.misses += 1
        out = np.asarray(self.inner(feats), dtype=np.float32)
        self.table[key] = out
        self._dirty = True
        return out

    def close(self) -> None:
        if self._dirty:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f"{self.session}.{os.getpid()}.part.npz"  # another run may write the same file
            np.savez(tmp, **self.table)
            tmp.replace(self.folder / f"{self.session}.npz")
        self.table = {}


class DiarizationOnly:
    """decode → VAD (the app's Silero, diarization regions) → the diarizer; one model load for every session.

    With ``cache`` the VAD's speech probabilities (keyed by the file and the VAD and decoder code) and the
    encoder's embeddings (EmbeddingMemo) are kept in .cache/eval-realistic/diarization-cache/.
    """

    def __init__(self, cache_dir: Path, cache: bool = True) -> None:
        from tbdesktop.engine import vad

        started = time.perf_counter()
        self.vad_model = vad.SileroVad()
        self.diarizer = make_diarizer(cache_dir)
        self.params = _diarization_params()
        self.load_s = time.perf_counter() - started
        self.diarizer_name = f"{type(self.diarizer).__module__}.{type(self.diarizer).__name__}"
        self.memo: EmbeddingMemo | None = None
        self.vad_key = ""
        if cache:
            from tbdesktop.engine import audio as audio_mod

            self.vad_key = _digest(_source(vad), _source(audio_mod))
            for attr in ("model", "encoder", "embedder"):
                model = getattr(self.diarizer, attr, None)
                if model is not None and callable(getattr(model, "embed", None)):
                    self.memo = EmbeddingMemo(model, CACHE_DIR / "embeddings")
                    break

    def _probabilities(self, wav: Path, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        path = None
        if self.vad_key:
            stat = wav.stat()
            key = _digest(self.vad_key.encode(), f"{wav.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
            path = CACHE_DIR / "vad" / f"{wav.stem}-{key}.npy"
            if path.is_file():
                return np.asarray(np.load(path), dtype=np.float32)
        probs = self.vad_model.probabilities(samples, threads=1)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, probs)
        return probs

    def run(self, name: str, wav: Path, hint: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
        from tbdesktop.engine import audio as audio_mod
        from tbdesktop.engine import vad

        timings: dict[str, float] = {}
        started = time.perf_counter()
        _info, samples = audio_mod.load(wav)
        timings["decode"] = time.perf_counter() - started
        started = time.perf_counter()
        probs = self._probabilities(wav, samples)
        regions = vad.speech_regions(probs, samples.shape[0], vad.DIARIZATION_PARAMS)
        timings["vad"] = time.perf_counter() - started
        started = time.perf_counter()
        if self.memo is not None:
            self.memo.open(name)
        try:
            result = self.diarizer.diarize(samples, regions=regions, speakers_hint=hint, **self.params)
        finally:
            if self.memo is not None:
                self.memo.close()
        timings["diarization"] = time.perf_counter() - started
        turns = [{"start": t.start, "end": t.end, "speaker": t.speaker} for t in result.turns]
        return turns, timings


_RUNNER: DiarizationOnly | None = None


def _run_one(job: tuple[str, str, int, str, bool]) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
    """One session in a pool process (the runner is built once per process)."""
    global _RUNNER
    name, wav, hint, cache_dir, cache = job
    if _RUNNER is None:
        _RUNNER = DiarizationOnly(Path(cache_dir), cache)
    try:
        turns, timings = _RUNNER.run(name, Path(wav), hint)
    except Exception as exc:  # one broken session must not hide the others
        return None, {"error": f"{type(exc).__name__}: {exc}"}
    memo = _RUNNER.memo
    info: dict[str, Any] = {"timings": timings, "diarizer": _RUNNER.diarizer_name}
    if memo is not None:
        info["embedding_cache"] = {"hits": memo.hits, "misses": memo.misses}
    return turns, info


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
