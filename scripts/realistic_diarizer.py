"""The diarizer under test in the realistic eval's diarization-only mode: built as the engine's worker builds it,
with the VAD's probabilities and the encoder's embeddings remembered between runs (``EmbeddingMemo``)."""

from __future__ import annotations

import hashlib
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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


CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "eval-realistic" / "diarization-cache"


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
