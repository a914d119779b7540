"""What a model pack must be: the format check of each kind (faster-whisper folder, GGUF file, pyannote pipeline
folder) and the licence file that goes with it. Reads files; writes nothing."""

from __future__ import annotations

import importlib
import json
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

from tbdesktop.errors import TBError

KINDS = ("speech", "notes", "diarization")
KIND_ROLES = {
    "speech": "Speech recognition",
    "notes": "Writing notes",
    "diarization": "Telling speakers apart",
}
REGISTRY_NAME = "packs.json"
MANIFEST_NAME = ".tbpack.json"  # inside each pack's folder; not one of the pack's files
REGISTRY_FORMAT = 1
RESERVED_NAMES = frozenset({"base"})  # the built-in speech model's name
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LICENSE_PREFIXES = ("LICENSE", "LICENCE", "COPYING")
LICENSE_SUFFIXES = ("", ".txt", ".md")
GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (2, 3)
MAX_LICENSE_BYTES = 1 << 20
CHUNK = 1 << 20
ADMIN_HINT = "run the command as an administrator, e.g. with sudo"

# Files a pyannote checkpoint folder must hold, by the pipeline parameter that names it (see docs/pyannote.md).
PYANNOTE_CHECKPOINT_FILES = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("plda.npz", "xvec_transform.npz"),
}


class PackError(TBError):
    """A model pack cannot be added, read or used; the message says what to do."""


def size_text(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.0f} MB"
    return f"{max(1, size // 1024) if size else 0} KB"


# -- format checks ------------------------------------------------------------------------------------------


def detect_kind(path: Path) -> str:
    """The kind of model at ``path``, from its content; a PackError saying what was expected otherwise."""
    if path.is_file():
        if _magic(path) == GGUF_MAGIC:
            return "notes"
        raise PackError(
            f"{path.name} is not a model this application can use: a single file must be a GGUF note model "
            "(it starts with 'GGUF'). A speech or speaker model is a folder."
        )
    if path.is_dir():
        if (path / "model.bin").is_file():
            return "speech"
        if (path / "config.yaml").is_file():
            return "diarization"
        raise PackError(
            f"The folder {path.name} holds no model this application knows: expected a faster-whisper speech "
            "model (model.bin, config.json, tokenizer.json or vocabulary.txt) or a pyannote pipeline (config.yaml)."
        )
    raise PackError(f"{path} was not found.")


def check_format(kind: str, path: Path) -> str:
    """Check the model at ``path`` is a ``kind`` model this application loads; its description, else PackError."""
    if kind == "speech":
        return _check_speech(path)
    if kind == "notes":
        return _check_gguf(path)
    if kind == "diarization":
        return _check_pyannote(path)
    raise PackError(f"Unknown model kind '{kind}': choose speech, notes or diarization.")


def _check_speech(folder: Path) -> str:
    expected = "a faster-whisper (CTranslate2) model folder: model.bin, config.json, and tokenizer.json or vocabulary.*"
    if not folder.is_dir():
        raise PackError(f"{folder.name} is not a folder; a speech model is {expected}.")
    if not (folder / "model.bin").is_file():
        raise PackError(f"The folder {folder.name} has no model.bin; a speech model is {expected}.")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError(f"The folder {folder.name} has no config.json; a speech model is {expected}.") from None
    except (OSError, ValueError):
        raise PackError(f"config.json in {folder.name} is not valid JSON; the speech model is damaged.") from None
    if not isinstance(config, dict):
        raise PackError(f"config.json in {folder.name} is not a model configuration; the speech model is damaged.")
    vocabulary = (folder / "tokenizer.json").is_file() or any(folder.glob("vocabulary.*"))
    if not vocabulary:
        raise PackError(
            f"The folder {folder.name} has no tokenizer.json or vocabulary file; a speech model is {expected}."
        )
    layers = config.get("num_hidden_layers") or config.get("decoder_layers")
    return "faster-whisper (CTranslate2)" + (f", {layers} layers" if isinstance(layers, int) else "")


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(4)
    except OSError:
        return b""


def gguf_header(path: Path) -> dict[str, Any]:
    """The GGUF file's version and its first metadata (``general.*``); PackError when it is not a GGUF file."""
    try:
        with path.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise PackError(f"{path.name} is not a GGUF model (a note model file starts with 'GGUF').")
            (version,) = struct.unpack("<I", _read(f, 4))
            if version not in GGUF_VERSIONS:
                raise PackError(
                    f"{path.name} is GGUF version {version}; this application reads versions "
                    f"{', '.join(map(str, GGUF_VERSIONS))}."
                )
            tensors, count = struct.unpack("<QQ", _read(f, 16))
            meta: dict[str, Any] = {"version": version, "tensors": tensors}
            for _ in range(min(count, 64)):
                key = _gguf_string(f)
                (value_type,) = struct.unpack("<I", _read(f, 4))
                if value_type == 9:  # an array (the vocabulary): the names we want come before it
                    break
                meta[key] = _gguf_value(f, value_type)
                if "general.architecture" in meta and "general.name" in meta:
                    break
            return meta
    except OSError:
        raise PackError(f"{path.name} cannot be read.") from None
    except (struct.error, ValueError, UnicodeDecodeError):
        raise PackError(f"{path.name} has a damaged GGUF header.") from None


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError("truncated")
    return data


def _gguf_string(f: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _read(f, 8))
    if length > 1 << 16:
        raise ValueError("string too long")
    return _read(f, length).decode("utf-8")


def _gguf_value(f: BinaryIO, value_type: int) -> Any:
    if value_type == 8:
        return _gguf_string(f)
    fmt = _GGUF_SCALARS.get(value_type)
    if fmt is None:
        raise ValueError("unknown value type")
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _check_gguf(path: Path) -> str:
    if not path.is_file():
        raise PackError(f"{path.name} is not a file; a note model is a single GGUF file.")
    meta = gguf_header(path)
    words = [f"GGUF v{meta['version']}"]
    for key in ("general.architecture", "general.name"):
        if isinstance(meta.get(key), str) and meta[key]:
            words.append(str(meta[key])[:80])
    return ", ".join(words)


def _check_pyannote(folder: Path) -> str:
    # the engine's own reading of the config: what PyannoteDiarizer will load is what is checked here
    from tbdesktop.engine.diarization.pyannote_backend import CHECKPOINT_KEYS, CONFIG_NAME, resolve_config
    from tbdesktop.engine.errors import ModelError

    if not folder.is_dir() or not (folder / CONFIG_NAME).is_file():
        raise PackError(f"{folder.name} has no {CONFIG_NAME}; a speaker pack is a pyannote pipeline folder.")
    try:
        yaml: Any = importlib.import_module("yaml")  # comes with the 'pyannote' extra
    except ImportError:
        raise PackError("The pyannote support is not installed; install the 'pyannote' extra first.") from None
    try:
        config = yaml.safe_load((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise PackError(f"{CONFIG_NAME} in {folder.name} is not valid YAML.") from None
    try:
        resolved = resolve_config(config, folder)
    except ModelError as exc:
        raise PackError(f"The pyannote pipeline in {folder.name} is not usable: {exc.message}") from None
    params = resolved["pipeline"].get("params") or {}
    found = []
    for key in CHECKPOINT_KEYS:
        value = params.get(key)
        if not isinstance(value, dict) or "checkpoint" not in value:
            continue
        checkpoint = Path(value["checkpoint"])
        if checkpoint.is_dir():
            absent = [n for n in PYANNOTE_CHECKPOINT_FILES[key] if not (checkpoint / n).is_file()]
            if absent:
                raise PackError(
                    f"The {key} folder of the pyannote pipeline in {folder.name} lacks {', '.join(absent)}."
                )
        try:
            checkpoint.resolve().relative_to(folder.resolve())
        except ValueError:
            raise PackError(
                f"The pyannote pipeline in {folder.name} names a {key} checkpoint outside its folder; "
                "copy it into the folder and refer to it as $model/<folder>."
            ) from None
        found.append(key)
    return f"pyannote pipeline {resolved['pipeline']['name'].rsplit('.', 1)[-1]}" + (
        f" ({', '.join(found)})" if found else ""
    )


# -- licences -----------------------------------------------------------------------------------------------


def is_license_name(name: str) -> bool:
    return name.upper().startswith(LICENSE_PREFIXES) and Path(name).suffix.lower() in LICENSE_SUFFIXES


def find_license(folder: Path) -> Path | None:
    """The first licence file (LICENSE*, LICENCE*, COPYING*; plain, .txt or .md) directly in ``folder``."""
    try:
        candidates = sorted(p for p in folder.iterdir() if p.is_file() and is_license_name(p.name))
    except OSError:
        return None
    return candidates[0] if candidates else None


def license_title(path: Path) -> str:
    """The licence's first non-empty line; PackError when it is empty, binary or too large to be a licence."""
    try:
        if path.stat().st_size > MAX_LICENSE_BYTES:
            raise PackError(f"{path.name} is too large to be a licence text.")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise PackError(f"The licence file {path.name} cannot be read as text.") from None
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not title:
        raise PackError(f"The licence file {path.name} is empty.")
    return title[:200]
