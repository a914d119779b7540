"""Speaker embeddings from Resemblyzer's pretrained voice encoder, run with numpy alone.

The weights ship in the ``resemblyzer`` wheel on PyPI (Apache-2.0) as ``pretrained.pt``, a PyTorch legacy
pickle. They are read without torch (``read_legacy_state_dict``), verified by sha256 and converted once to a
``.npz`` file in the model cache. The network is a 3-layer LSTM (40 mel bands in, 256 units) followed by a
linear layer, a ReLU and L2 normalisation; each 1.6 s window of speech gives one 256-dimensional embedding.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms step
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s per embedding
HIDDEN = 256
LAYERS = 3

ENCODER_SOURCE_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
ENCODER_DIRNAME = "speaker-encoder"
ENCODER_FILENAME = "resemblyzer-encoder.npz"
_MARKER = ".verified.json"

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


# -- weights ------------------------------------------------------------------------------------------------


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _TensorRef:
    def __init__(self, key: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.key, self.offset, self.size, self.stride = key, offset, size, stride


def _rebuild_tensor(storage: str, offset: int, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


class _LegacyUnpickler(pickle.Unpickler):
    """Allows only what a state dict needs: no arbitrary code runs while reading the file."""

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__(fh)
        self.storage_dtypes: dict[str, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the encoder weights")

    def persistent_load(self, pid: Any) -> str:
        _kind, storage_type, key, _location, _size, _view = pid
        self.storage_dtypes[str(key)] = _STORAGE_DTYPES[storage_type.name]
        return str(key)


def read_legacy_state_dict(path: Path, entry: str = "model_state") -> dict[str, npt.NDArray[Any]]:
    """Read tensors from a PyTorch legacy (pre-zip) checkpoint without importing torch."""
    with Path(path).open("rb") as fh:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(fh)  # noqa: S301 - plain ints/dicts; the object pickle below is restricted
        unpickler = _LegacyUnpickler(fh)
        obj = unpickler.load()
        keys = pickle.load(fh)  # noqa: S301 - a list of strings
        buffers: dict[str, npt.NDArray[Any]] = {}
        for key in keys:
            (count,) = struct.unpack("<q", fh.read(8))
            dtype = np.dtype(unpickler.storage_dtypes[str(key)])
            raw = fh.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise ModelError("The speaker encoder weights are truncated.")
            buffers[str(key)] = np.frombuffer(raw, dtype=dtype)
    state = obj[entry] if entry in obj else obj
    out: dict[str, npt.NDArray[Any]] = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        base = buffers[ref.key]
        strides = tuple(s * base.itemsize for s in ref.stride)
        out[name] = np.lib.stride_tricks.as_strided(base[ref.offset :], shape=ref.size, strides=strides).copy()
    return out


def encoder_source() -> Path | None:
    """``pretrained.pt`` from the installed ``resemblyzer`` wheel (or the bundle), without importing it."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidate = Path(bundle) / "resemblyzer" / "pretrained.pt"
        if candidate.is_file():
            return candidate
    try:
        dist = importlib.metadata.distribution("resemblyzer")
    except importlib.metadata.PackageNotFoundError:
        return None
    candidate = Path(str(dist.locate_file("resemblyzer/pretrained.pt")))
    return candidate if candidate.is_file() else None


def encoder_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / ENCODER_DIRNAME / ENCODER_FILENAME


def install_encoder(cache_dir: Path) -> Path:
    """Convert the packaged weights into the model cache once (verified by sha256); return the .npz path."""
    target = encoder_path(cache_dir)
    marker = target.parent / _MARKER
    if target.is_file() and marker.is_file():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            if info.get("source_sha256") == ENCODER_SOURCE_SHA256 and info.get("size") == target.stat().st_size:
                return target
        except (OSError, ValueError):
            pass
    source = encoder_source()
    if source is None:
        raise ModelError(
            "The speaker model is not installed (the 'resemblyzer' package is missing); run 'make install'."
        )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != ENCODER_SOURCE_SHA256:
        raise ModelError("The speaker model file is damaged (checksum mismatch); reinstall the application.")
    weights = read_legacy_state_dict(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            arrays: dict[str, Any] = {k: v.astype(np.float32) for k, v in weights.items()}
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    marker.write_text(
        json.dumps({"source_sha256": ENCODER_SOURCE_SHA256, "size": target.stat().st_size}), encoding="utf-8"
    )
    log.info("speaker encoder installed")
    return target


# -- front end ----------------------------------------------------------------------------------------------


def _hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_part = min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log_part, mels)


def _mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filterbank() -> npt.NDArray[np.float32]:
    """Slaney-style mel filters (librosa's default), shape (40, 201)."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((N_MELS, fft_freqs.size))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : N_MELS + 2] - mel_pts[:N_MELS]))[:, None]
    return weights.astype(np.float32)


_FILTERS: npt.NDArray[np.float32] | None = None
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann


def mel_frames(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mel power spectrogram, one row per 10 ms frame (centred, zero-padded ends), shape (frames, 40)."""
    global _FILTERS
    if _FILTERS is None:
        _FILTERS = mel_filterbank()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    padded = np.pad(audio, N_FFT // 2)
    n_frames = 1 + (padded.size - N_FFT) // HOP
    if n_frames <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    block = 4096  # frames per block keeps the temporary spectrum small for hour-long audio
    for start in range(0, n_frames, block):
        stop = min(start + block, n_frames)
        idx = np.arange(start, stop)[:, None] * HOP + np.arange(N_FFT)[None, :]
        spectrum = np.fft.rfft(padded[idx] * _WINDOW, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        out[start:stop] = power @ _FILTERS.T
    return out


# -- network ------------------------------------------------------------------------------------------------


class SpeakerEncoder:
    """The voice encoder as numpy matrix products; batch-first like the original."""

    def __init__(self, weights_path: Path) -> None:
        try:
            with np.load(weights_path) as data:
                w = {k: np.asarray(data[k], dtype=np.float32) for k in data.files}
        except (OSError, ValueError) as exc:
            raise ModelError("The speaker model could not be loaded; reinstall the application.") from exc
        try:
            self._layers = [
                (
                    np.ascontiguousarray(w[f"lstm.weight_ih_l{i}"].T),
                    np.ascontiguousarray(w[f"lstm.weight_hh_l{i}"].T),
                    (w[f"lstm.bias_ih_l{i}"] + w[f"lstm.bias_hh_l{i}"]).astype(np.float32),
                )
                for i in range(LAYERS)
            ]
            self._linear_w = np.ascontiguousarray(w["linear.weight"].T)
            self._linear_b = w["linear.bias"]
        except KeyError as exc:
            raise ModelError("The speaker model file is incomplete; reinstall the application.") from exc

    def embed(self, mels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(batch, frames, 40) mel windows → (batch, 256) unit-length embeddings."""
        batch, steps, _ = mels.shape
        x = np.ascontiguousarray(mels, dtype=np.float32)
        h = np.zeros((batch, HIDDEN), dtype=np.float32)
        for layer, (w_ih, w_hh, bias) in enumerate(self._layers):
            # Input projections for every step in one product; only the recurrence is step by step.
            projected = (x.reshape(batch * steps, -1) @ w_ih).reshape(batch, steps, 4 * HIDDEN)
            projected += bias
            h = np.zeros((batch, HIDDEN), dtype=np.float32)
            c = np.zeros((batch, HIDDEN), dtype=np.float32)
            last = layer == LAYERS - 1
            outputs = None if last else np.empty((batch, steps, HIDDEN), dtype=np.float32)
            gates = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
            for t in range(steps):
                np.matmul(h, w_hh, out=gates)
                gates += projected[:, t]
                # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 for the input, forget and output gates together
                ifo = gates[:, : 2 * HIDDEN]
                ifo *= 0.5
                np.tanh(ifo, out=ifo)
                ifo *= 0.5
                ifo += 0.5
                o = gates[:, 3 * HIDDEN :]
                o *= 0.5
                np.tanh(o, out=o)
                o *= 0.5
                o += 0.5
                g = gates[:, 2 * HIDDEN : 3 * HIDDEN]
                np.tanh(g, out=g)
                c *= gates[:, HIDDEN : 2 * HIDDEN]
                c += gates[:, :HIDDEN] * g
                np.tanh(c, out=h)
                h *= o
                if outputs is not None:
                    outputs[:, t] = h
            if outputs is not None:
                x = outputs
        embeds = np.maximum(h @ self._linear_w + self._linear_b, 0.0)
        norms = np.linalg.norm(embeds, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (embeds / np.maximum(norms, 1e-8)).astype(np.float32)
        return out
