"""CAM++ (3D-Speaker, Apache-2.0) as an ONNX graph, built in code from the checkpoint's tensors.

Input ``fbank`` (batch, frames, 80): Kaldi log-mel frames, mean-normalised per window. Output ``embedding``
(batch, 192). Batch and length are dynamic; batch norms are inference-mode ``BatchNormalization`` nodes
(onnxruntime folds those that follow a convolution). Built from the same tensors, the bytes are the same.

The network as 3D-Speaker defines it (speakerlab/models/campplus/DTDNN.py): a 2-D convolutional front end
(FCM) over frequency, a strided TDNN layer, three densely connected blocks of context-aware-masking layers
(each mask pooled over the whole window and over 100-frame segments) with transition layers between them,
mean and unbiased standard deviation pooling over time, and a linear layer with an affine-less batch norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

GRAPH_VERSION = 2  # raise on any change to the graph: installed copies are rebuilt
FEAT_DIM = 80
EMBEDDING_DIM = 192
MIN_FRAMES = 3  # the strided TDNN layer must leave two frames for an unbiased standard deviation
OPSET = 17
IR_VERSION = 8
SEGMENT = 100  # frames per segment of the context-aware mask's segment pooling
BLOCKS = ((12, 1), (24, 2), (16, 2))  # (layers, dilation) of the three dense blocks; kernel 3 in all
_BN_EPS = 1e-5

Weights = dict[str, npt.NDArray[Any]]


class _Builder:
    def __init__(self, weights: Weights) -> None:
        self.w = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: npt.NDArray[Any], name: str | None = None) -> str:
        from onnx import numpy_helper

        name = name or self._fresh("const")
        if name not in self._names:
            self._names.add(name)
            self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def weight(self, key: str) -> str:
        if key not in self.w:
            raise KeyError(key)
        return self.const(self.w[key].astype(np.float32), key)

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    # -- layers --

    def bn(self, x: str, prefix: str) -> str:
        mean = self.weight(f"{prefix}.running_mean")
        var = self.weight(f"{prefix}.running_var")
        if f"{prefix}.weight" in self.w:
            scale, bias = self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")
        else:  # affine=False
            n = self.w[f"{prefix}.running_mean"].shape[0]
            scale = self.const(np.ones(n, np.float32), f"{prefix}.ones")
            bias = self.const(np.zeros(n, np.float32), f"{prefix}.zeros")
        return self.op("BatchNormalization", [x, scale, bias, mean, var], epsilon=_BN_EPS)

    def conv(self, x: str, prefix: str, *, stride: tuple[int, ...] = (1,), pad: int = 0, dilation: int = 1) -> str:
        weight = self.w[f"{prefix}.weight"]
        spatial = weight.ndim - 2
        inputs = [x, self.weight(f"{prefix}.weight")]
        if f"{prefix}.bias" in self.w:
            inputs.append(self.weight(f"{prefix}.bias"))
        return self.op(
            "Conv",
            inputs,
            kernel_shape=list(weight.shape[2:]),
            strides=list(stride) if len(stride) == spatial else [stride[0]] * spatial,
            pads=[pad] * (2 * spatial),
            dilations=[dilation] * spatial,
        )

    def bn_relu(self, x: str, prefix: str) -> str:
        return self.op("Relu", [self.bn(x, prefix)])

    def res_block(self, x: str, prefix: str, stride: int) -> str:
        out = self.bn_relu(self.conv(x, f"{prefix}.conv1", stride=(stride, 1), pad=1), f"{prefix}.bn1")
        out = self.bn(self.conv(out, f"{prefix}.conv2", pad=1), f"{prefix}.bn2")
        shortcut = x
        if f"{prefix}.shortcut.0.weight" in self.w:
            shortcut = self.bn(self.conv(x, f"{prefix}.shortcut.0", stride=(stride, 1)), f"{prefix}.shortcut.1")
        return self.op("Relu", [self.op("Add", [out, shortcut])])


def build_campplus(weights: Weights, *, relu_embedding: bool = False) -> bytes:
    """Serialised ONNX model of CAM++ from its state dict (names as in 3D-Speaker's ``CAMPPlus``).

    ``relu_embedding`` adds the ReLU that some copies of the model code put after the last batch norm
    (3D-Speaker's own model has none).
    """
    from onnx import TensorProto, helper

    b = _Builder(weights)
    i64 = np.int64
    feats = "fbank"
    x = b.op("Transpose", [feats], perm=[0, 2, 1])  # (B, F, T)
    x = b.op("Unsqueeze", [x, b.const(np.array([1], i64), "axis_1")])  # (B, 1, F, T)

    # FCM front end: frequency is halved three times, time is kept.
    x = b.bn_relu(b.conv(x, "head.conv1", pad=1), "head.bn1")
    for layer in ("layer1", "layer2"):
        x = b.res_block(x, f"head.{layer}.0", 2)
        x = b.res_block(x, f"head.{layer}.1", 1)
    x = b.bn_relu(b.conv(x, "head.conv2", stride=(2, 1), pad=1), "head.bn2")
    channels = b.w["head.conv2.weight"].shape[0] * (FEAT_DIM // 8)
    x = b.op("Reshape", [x, b.const(np.array([0, channels, -1], i64), "fcm_shape")])  # (B, 320, T)

    x = b.bn_relu(b.conv(x, "xvector.tdnn.linear", stride=(2,), pad=2), "xvector.tdnn.nonlinear.batchnorm")

    # Segment pooling, exact for any length: sum each 100-frame segment (the last one zero-padded), divide
    # by the segment's true frame count, and give every frame its segment's mean. Shared by all layers.
    zero, one = b.const(np.array(0, i64), "zero"), b.const(np.array(1, i64), "one")
    seg = b.const(np.array(SEGMENT, i64), "segment")
    frames = b.op("Squeeze", [b.op("Gather", [b.op("Shape", [x]), b.const(np.array([2], i64), "axis_2")])])
    n_segments = b.op("Div", [b.op("Add", [frames, b.const(np.array(SEGMENT - 1, i64), "segment_1")]), seg])
    pad_len = b.op("Sub", [b.op("Mul", [n_segments, seg]), frames])
    pads = b.op(
        "Concat",
        [b.const(np.zeros(5, i64), "pads_head"), b.op("Unsqueeze", [pad_len, b.const(np.array([0], i64), "axis_0")])],
        axis=0,
    )
    seg_starts = b.op("Cast", [b.op("Mul", [b.op("Range", [zero, n_segments, one]), seg])], to=TensorProto.FLOAT)
    frames_f = b.op("Cast", [frames], to=TensorProto.FLOAT)
    counts = b.op(
        "Min", [b.op("Sub", [frames_f, seg_starts]), b.const(np.array(float(SEGMENT), np.float32), "segment_f")]
    )
    seg_shape = b.const(np.array([0, 0, -1, SEGMENT], i64), "segment_shape")
    last_axis = b.const(np.array([3], i64), "axis_3")
    tile = b.const(np.array([1, 1, 1, SEGMENT], i64), "segment_tile")
    flat_shape = b.const(np.array([0, 0, -1], i64), "flat_shape")
    frames_1d = b.op("Unsqueeze", [frames, b.const(np.array([0], i64), "axis_0")])
    counts_col = b.op("Unsqueeze", [counts, b.const(np.array([1], i64), "axis_1")])  # (segments, 1)

    def segment_means(h: str) -> str:
        padded = b.op("Reshape", [b.op("Pad", [h, pads]), seg_shape])  # (B, C, segments, 100)
        means = b.op("Div", [b.op("ReduceSum", [padded, last_axis], keepdims=1), counts_col])
        spread = b.op("Reshape", [b.op("Expand", [means, tile]), flat_shape])  # every frame its segment's mean
        return b.op(
            "Slice", [spread, b.const(np.array([0], i64), "start_0"), frames_1d, b.const(np.array([2], i64), "axis_2")]
        )

    def cam_layer(h: str, prefix: str, dilation: int) -> str:
        local = b.conv(h, f"{prefix}.linear_local", pad=dilation, dilation=dilation)
        context = b.op("Add", [b.op("ReduceMean", [h], axes=[2], keepdims=1), segment_means(h)])
        mask = b.conv(b.op("Relu", [b.conv(context, f"{prefix}.linear1")]), f"{prefix}.linear2")
        return b.op("Mul", [local, b.op("Sigmoid", [mask])])

    for index, (layers, dilation) in enumerate(BLOCKS, start=1):
        for j in range(1, layers + 1):
            p = f"xvector.block{index}.tdnnd{j}"
            h = b.conv(b.bn_relu(x, f"{p}.nonlinear1.batchnorm"), f"{p}.linear1")
            h = cam_layer(b.bn_relu(h, f"{p}.nonlinear2.batchnorm"), f"{p}.cam_layer", dilation)
            x = b.op("Concat", [x, h], axis=1)
        x = b.conv(b.bn_relu(x, f"xvector.transit{index}.nonlinear.batchnorm"), f"xvector.transit{index}.linear")
    x = b.bn_relu(x, "xvector.out_nonlinear.batchnorm")

    # Statistics pooling: mean and unbiased standard deviation over time.
    mean = b.op("ReduceMean", [x], axes=[2], keepdims=1)
    centred = b.op("Sub", [x, mean])
    squares = b.op("ReduceSum", [b.op("Mul", [centred, centred]), b.const(np.array([2], i64), "axis_2")], keepdims=0)
    dof = b.op("Cast", [b.op("Sub", [frames, one])], to=TensorProto.FLOAT)
    std = b.op("Sqrt", [b.op("Div", [squares, dof])])
    stats = b.op("Concat", [b.op("Squeeze", [mean, b.const(np.array([2], i64), "axis_2")]), std], axis=1)

    dense = b.w["xvector.dense.linear.weight"]
    dense_t = b.const(np.ascontiguousarray(dense[:, :, 0].T.astype(np.float32)), "xvector.dense.linear.weight_t")
    out = b.bn(b.op("MatMul", [stats, dense_t]), "xvector.dense.nonlinear.batchnorm")
    if relu_embedding:
        out = b.op("Relu", [out])
    b.nodes.append(helper.make_node("Identity", [out], ["embedding"], name="embedding"))

    graph = helper.make_graph(
        b.nodes,
        "campplus",
        [helper.make_tensor_value_info(feats, TensorProto.FLOAT, ["batch", "frames", FEAT_DIM])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dense.shape[0]])],
        b.initializers,
    )
    model = helper.make_model(
        graph, producer_name="tbdesktop", opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    data: bytes = model.SerializeToString(deterministic=True)
    return data
