"""Diarization with a pyannote.audio (4.x) pipeline loaded from a local model directory, for GPU workstations.

The directory (``TB_PYANNOTE_MODEL_DIR``) holds a ``config.yaml`` whose checkpoints are inside it, written as
``$model/<folder>`` or as paths relative to the directory; nothing is ever downloaded. torch and pyannote.audio
are imported only when a diarizer is built (the optional ``pyannote`` extra).
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.diarization import MAX_SPEAKERS, MIN_SPEAKERS, STAGE, Region
from tbdesktop.engine.errors import Cancelled, EngineError, ModelError
from tbdesktop.engine.progress import MeasuredEta, reporter
from tbdesktop.engine.progress import check_cancel as _check_cancel
from tbdesktop.engine.types import CancelCheck, DiarizationResult, ProgressCallback, SpeakerTurn

log = logging.getLogger(__name__)
_report = reporter(STAGE)

ENV_VAR = "TB_PYANNOTE_MODEL_DIR"
CONFIG_NAME = "config.yaml"
SAMPLE_RATE = 16000
HEARTBEAT_S = 1.0  # progress goes out at least this often (the protocol asks for every 2 s)
POLL_S = 0.1  # how often the caller's thread polls should_cancel
JOIN_S = 5.0  # how long a cancelled run may take to let go of the models
CHECKPOINT_KEYS = ("segmentation", "embedding", "plda")  # pipeline params that name model files
MIN_TURN_S = 0.001
INSTALL_HINT = "pyannote.audio is not installed; install the 'pyannote' extra (pip install 'tbdesktop[pyannote]')."

# Share of the run each pipeline step covers, for the progress bar: (first, last) fraction.
_STEP_SPANS = {
    "segmentation": (0.0, 0.1),
    "speaker_counting": (0.1, 0.1),
    "embeddings": (0.1, 0.95),
    "discrete_diarization": (0.95, 0.98),
}


class _Stopped(Exception):
    """Raised inside the helper thread to abandon a cancelled run."""


def resolve_device(device: str, torch: Any) -> str:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``."""
    if device != "auto":
        return device
    try:
        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:  # a broken CUDA driver must not stop CPU diarization
        return "cpu"


def check_model_dir(model_dir: Path | str | None) -> Path:
    """The model directory, or a ModelError an IT person can act on."""
    if model_dir is None or str(model_dir).strip() in ("", "."):
        raise ModelError(f"{ENV_VAR} is not set; point it at a pyannote model directory that contains {CONFIG_NAME}.")
    path = Path(model_dir).expanduser()
    if not path.exists():
        raise ModelError(f"{ENV_VAR} points to {path}, which does not exist.")
    if not path.is_dir():
        raise ModelError(f"{ENV_VAR} points to {path}, which is not a directory.")
    if not (path / CONFIG_NAME).is_file():
        raise ModelError(f"{ENV_VAR} ({path}) does not contain {CONFIG_NAME}; see docs/pyannote.md.")
    return path


def resolve_config(config: Any, model_dir: Path) -> dict[str, Any]:
    """The pipeline config with every checkpoint turned into a local path inside ``model_dir``.

    ``$model/<folder>`` and relative paths are read against the model directory (pyannote itself would read a
    relative path against the working directory); anything else, such as a Hugging Face id, is an error, since
    it would need the network.
    """
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), dict):
        raise ModelError(f"{model_dir / CONFIG_NAME} is not a pyannote pipeline config (no 'pipeline' section).")
    pipeline = dict(config["pipeline"])
    if not isinstance(pipeline.get("name"), str):
        raise ModelError(f"{model_dir / CONFIG_NAME} does not name a pipeline ('pipeline: name:').")
    params = dict(pipeline.get("params") or {})
    for key in CHECKPOINT_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            params[key] = {"checkpoint": str(_local_checkpoint(key, value, model_dir))}
        elif value is None and pipeline["name"].endswith(".SpeakerDiarization"):
            # left out, pyannote would fetch its default (community-1's) from Hugging Face
            raise ModelError(
                f"{CONFIG_NAME} in {ENV_VAR} ({model_dir}) does not name a {key} checkpoint "
                f"('pipeline: params: {key}: $model/{key}')."
            )
    pipeline["params"] = params
    return {**config, "pipeline": pipeline}


def _local_checkpoint(key: str, value: str, model_dir: Path) -> Path:
    relative = value.split("@", 1)[0][len("$model/") :] if value.startswith("$model/") else value
    path = Path(relative).expanduser()
    if not path.is_absolute():
        path = model_dir / path
    if not path.exists():
        raise ModelError(
            f"{CONFIG_NAME} in {ENV_VAR} ({model_dir}) names '{value}' for {key}, but {path} does not exist; "
            "copy the checkpoint into the directory and refer to it as $model/<folder>."
        )
    return path


def merge_regions(regions: Sequence[Region], duration: float) -> list[Region]:
    """Sorted, non-overlapping speech regions clipped to ``[0, duration]``."""
    merged: list[list[float]] = []
    for raw_start, raw_end in sorted((float(s), float(e)) for s, e in regions):
        start, end = max(0.0, raw_start), min(raw_end, duration)
        if end - start < MIN_TURN_S:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def to_result(
    tracks: Sequence[tuple[float, float, str]], duration: float, regions: Sequence[Region] | None = None
) -> DiarizationResult:
    """Exclusive turns sorted by time, cut to ``regions`` when given, labelled SPEAKER_00… by first appearance."""
    clipped: list[tuple[float, float, str]] = []
    for start, end, label in sorted(tracks, key=lambda t: (t[0], t[1])):
        start, end = max(0.0, start), min(end, duration)
        if clipped:
            start = max(start, clipped[-1][1])  # exclusive: a later turn starts where the previous one ends
        if end - start < MIN_TURN_S:
            continue
        if clipped and clipped[-1][2] == label and start - clipped[-1][1] < MIN_TURN_S:
            clipped[-1] = (clipped[-1][0], end, label)
        else:
            clipped.append((start, end, label))
    if regions is not None:
        clipped = _intersect(clipped, merge_regions(regions, duration))
    names: dict[str, str] = {}
    turns = []
    for start, end, label in clipped:
        name = names.setdefault(label, f"SPEAKER_{len(names):02d}")
        turns.append(SpeakerTurn(start=start, end=end, speaker=name))
    return DiarizationResult(turns=tuple(turns), speakers=tuple(names.values()))


def _intersect(turns: list[tuple[float, float, str]], regions: list[Region]) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    index = 0
    for start, end, label in turns:
        while index < len(regions) and regions[index][1] <= start:
            index += 1
        probe = index
        while probe < len(regions) and regions[probe][0] < end:
            a, b = max(start, regions[probe][0]), min(end, regions[probe][1])
            if b - a >= MIN_TURN_S:
                out.append((a, b, label))
            probe += 1
    return out


class _Progress:
    """Turns pyannote hook calls into one fraction and an ETA; written by the helper, read by the caller."""

    def __init__(self, started: float) -> None:
        self._eta = MeasuredEta(started, cap=0.99, min_fraction=0.05)

    @property
    def fraction(self) -> float:
        return self._eta.fraction

    def update(self, step_name: str, total: int | None, completed: int | None) -> None:
        first, last = _STEP_SPANS.get(step_name, (self.fraction, self.fraction))
        if total and completed is not None:
            value = first + (last - first) * min(float(completed) / float(total), 1.0)
        else:
            value = last if completed is None and total is None else first
        self._eta.advance_to(value)

    def eta(self) -> float | None:
        return self._eta.eta()


class PyannoteDiarizer:
    """A pyannote.audio speaker-diarization pipeline loaded once from ``model_dir`` and reused per recording."""

    def __init__(self, model_dir: Path | str | None, device: str = "auto") -> None:
        self.model_dir = check_model_dir(model_dir)
        # Offline and private: no hub look-ups, and pyannote's usage telemetry (on by default in 4.x, which
        # reports audio durations to pyannote.ai) is switched off before pyannote is first imported.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
        torch, pipeline_cls, yaml = _import_pyannote()
        self._torch = torch
        self.device = resolve_device(device, torch)
        config = _read_config(self.model_dir, yaml)
        resolved = resolve_config(config, self.model_dir)
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline = pipeline_cls.from_pretrained(resolved)
            if pipeline is None:
                raise ModelError(f"The pyannote pipeline in {self.model_dir} could not be loaded.")
            pipeline.to(torch.device(self.device))
        except EngineError:
            raise
        except Exception as exc:
            log.error("pyannote pipeline load failed", extra={"device": self.device, "error_type": type(exc).__name__})
            raise ModelError(
                f"The pyannote pipeline in {ENV_VAR} ({self.model_dir}) could not be loaded on "
                f"{self.device.upper()}: {type(exc).__name__}: {_short(exc)}"
            ) from exc
        self._pipeline: Any = pipeline
        self._run_lock = threading.Lock()  # one pipeline run at a time, even while a cancelled one winds down
        self._stops: dict[int, threading.Event] = {}  # helper thread id -> its stop flag
        self._install_stop_hooks()
        self.load_seconds = time.perf_counter() - started
        log.info(
            "pyannote pipeline loaded",
            extra={"device": self.device, "s": round(self.load_seconds, 3), "pipeline": type(pipeline).__name__},
        )

    def diarize(
        self,
        audio: npt.NDArray[np.float32],
        *,
        regions: Sequence[Region] | None = None,
        num_speakers: int | None = None,
        min_speakers: int = MIN_SPEAKERS,
        max_speakers: int = MAX_SPEAKERS,
        speakers_hint: int | None = None,  # pyannote has no use for a hint; min/max bound the count instead
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> DiarizationResult:
        audio = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
        duration = audio.shape[0] / SAMPLE_RATE
        _check_cancel(should_cancel)
        _report(on_progress, 0.0, None)
        if audio.shape[0] == 0 or (regions is not None and not merge_regions(regions, duration)):
            _report(on_progress, 1.0, 0.0)
            return DiarizationResult(turns=(), speakers=())
        started = time.perf_counter()
        file = {"waveform": self._torch.from_numpy(audio).unsqueeze(0), "sample_rate": SAMPLE_RATE}
        output = self._run(file, _speaker_kwargs(num_speakers, min_speakers, max_speakers), on_progress, should_cancel)
        result = to_result(_tracks(output), duration, regions)
        _report(on_progress, 1.0, 0.0)
        log.info(
            "diarized",
            extra={
                "audio_s": round(duration, 2),
                "turns": len(result.turns),
                "speakers": len(result.speakers),
                "device": self.device,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return result

    def _run(
        self,
        file: dict[str, Any],
        kwargs: dict[str, int],
        on_progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> Any:
        """Run the pipeline on a helper thread, so this thread keeps reporting progress and polling for cancel."""
        progress = _Progress(time.perf_counter())
        stop = threading.Event()
        finished = threading.Event()
        box: dict[str, Any] = {}

        def hook(
            step_name: str,
            step_artifact: Any,
            file: Any = None,
            total: int | None = None,
            completed: int | None = None,
        ) -> None:
            if stop.is_set():
                raise _Stopped()
            progress.update(step_name, total, completed)

        def target() -> None:
            ident = threading.get_ident()
            try:
                with self._run_lock:
                    self._stops[ident] = stop
                    if not stop.is_set():
                        box["output"] = self._pipeline(file, hook=hook, **kwargs)
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc
            finally:
                self._stops.pop(ident, None)
                finished.set()

        worker = threading.Thread(target=target, name="pyannote-diarize", daemon=True)
        worker.start()
        last_beat = time.monotonic()
        reported = 0.0
        try:
            while not finished.wait(POLL_S):
                _check_cancel(should_cancel)
                now = time.monotonic()
                if progress.fraction > reported or now - last_beat >= HEARTBEAT_S:
                    reported = progress.fraction
                    _report(on_progress, reported, progress.eta())
                    last_beat = now
            _check_cancel(should_cancel)
        except Cancelled:
            stop.set()
            worker.join(JOIN_S)  # the stop hooks end it within one layer of the network
            log.info("diarization cancelled", extra={"stopped": not worker.is_alive()})
            raise
        finally:
            stop.set()
        error = box.get("error")
        if isinstance(error, EngineError):
            raise error
        if error is not None:
            log.error("pyannote diarization failed", extra={"device": self.device, "error_type": type(error).__name__})
            raise ModelError(
                f"The pyannote pipeline failed while diarizing ({type(error).__name__}: {_short(error)})."
            ) from error
        return box["output"]

    def _install_stop_hooks(self) -> None:
        """Let a cancelled run stop inside a model call: every layer of the pipeline's networks checks the flag."""
        stops = self._stops

        def check(module: Any, args: Any) -> None:
            stop = stops.get(threading.get_ident())
            if stop is not None and stop.is_set():
                raise _Stopped()

        for network in _networks(self._pipeline, self._torch):
            for module in network.modules():
                module.register_forward_pre_hook(check)


def _import_pyannote() -> tuple[Any, Any, Any]:
    try:
        torch = importlib.import_module("torch")
        with warnings.catch_warnings():
            # pyannote warns when torchcodec cannot decode files; audio is handed over in memory instead
            warnings.simplefilter("ignore")
            audio = importlib.import_module("pyannote.audio")
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise ModelError(INSTALL_HINT) from exc
    except Exception as exc:  # e.g. a torchaudio built for another torch
        raise ModelError(
            f"pyannote.audio is installed but cannot be imported ({type(exc).__name__}: {_short(exc)})."
        ) from exc
    version = str(getattr(audio, "__version__", "0"))
    if not version.split(".", 1)[0].isdigit() or int(version.split(".", 1)[0]) < 4:
        raise ModelError(f"pyannote.audio {version} is too old; version 4 is required (the 'pyannote' extra).")
    try:  # belt and braces: the environment variable above already disables it
        metrics = importlib.import_module("pyannote.audio.telemetry.metrics")
        metrics.set_telemetry_metrics(False)
    except Exception:
        log.debug("pyannote telemetry switch not found")
    return torch, audio.Pipeline, yaml


def _read_config(model_dir: Path, yaml: Any) -> Any:
    path = model_dir / CONFIG_NAME
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"{path} could not be read ({type(exc).__name__}).") from exc


def _networks(pipeline: Any, torch: Any, depth: int = 3) -> list[Any]:
    """The torch modules a pipeline holds, looked for a few attributes down (pyannote keeps its models in
    ``_models`` and its ``Inference`` wrappers in ``_inferences``)."""
    found: dict[int, Any] = {}
    seen: set[int] = set()
    level: list[Any] = [pipeline]
    for _ in range(depth + 1):
        following: list[Any] = []
        for value in level:
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, torch.nn.Module):
                found[id(value)] = value
            elif isinstance(value, Mapping):
                following.extend(value.values())
            elif isinstance(value, list | tuple):
                following.extend(value)
            elif hasattr(value, "__dict__") and not isinstance(value, type | ModuleType):
                following.extend(vars(value).values())
        level = following
    return list(found.values())


def _speaker_kwargs(num_speakers: int | None, min_speakers: int, max_speakers: int) -> dict[str, int]:
    if num_speakers is not None:
        return {"num_speakers": max(1, int(num_speakers))}
    low = max(1, int(min_speakers))
    return {"min_speakers": low, "max_speakers": max(low, int(max_speakers))}


def _tracks(output: Any) -> list[tuple[float, float, str]]:
    """(start, end, label) of pyannote's exclusive diarization (4.x), or of its plain annotation."""
    annotation = getattr(output, "exclusive_speaker_diarization", None)
    if annotation is None:
        annotation = getattr(output, "speaker_diarization", output)
    tracks = []
    for segment, _track, label in annotation.itertracks(yield_label=True):
        start, end = float(segment.start), float(segment.end)
        if math.isfinite(start) and math.isfinite(end):
            tracks.append((start, end, str(label)))
    return tracks


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["ENV_VAR", "PyannoteDiarizer", "check_model_dir", "merge_regions", "resolve_config", "to_result"]
