"""Model packs: models IT adds for the whole machine (``tbdesktop model add``), each with its licence and checksums.

A pack is a copy of a faster-whisper folder (speech), a GGUF file (notes) or a pyannote pipeline folder
(diarization) under ``Settings.model_dir/<name>/``, with a manifest of every file's size and SHA-256. The
registry ``packs.json`` in the same folder lists them. A pack's name can be given wherever a model is chosen.
Nothing is ever downloaded: a pack is only ever copied from a path on this machine.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from tbdesktop.errors import TBError

log = logging.getLogger(__name__)

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
_CHUNK = 1 << 20
_ADMIN_HINT = "run the command as an administrator, e.g. with sudo"

# Files a pyannote checkpoint folder must hold, by the pipeline parameter that names it (see docs/pyannote.md).
PYANNOTE_CHECKPOINT_FILES = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("plda.npz", "xvec_transform.npz"),
}


class PackError(TBError):
    """A model pack cannot be added, read or used; the message says what to do."""


@dataclass(frozen=True)
class PackFile:
    path: str  # relative to the pack folder, with forward slashes
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class PackManifest:
    """What was registered: the pack's files with their checksums, its kind, where it came from, its licence."""

    name: str
    kind: str
    model: str  # the model itself, relative to the pack folder: "." for a folder, the .gguf file's name for notes
    format: str  # what the format check found, in words
    source: str
    added_at: str
    license_file: str  # relative to the pack folder
    license_title: str  # the licence's first non-empty line
    files: tuple[PackFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def role(self) -> str:
        return KIND_ROLES.get(self.kind, self.kind)

    def folder(self, model_dir: Path) -> Path:
        return Path(model_dir) / self.name

    def model_path(self, model_dir: Path) -> Path:
        """What a setting points at: the pack's folder, or its GGUF file for a notes pack."""
        folder = self.folder(model_dir)
        return folder if self.model == "." else folder / self.model

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "format": self.format,
            "source": self.source,
            "added_at": self.added_at,
            "license_file": self.license_file,
            "license_title": self.license_title,
            "size": self.size,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: Any) -> PackManifest:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        files = tuple(
            PackFile(path=str(f["path"]), size=int(f["size"]), sha256=str(f["sha256"])) for f in data["files"]
        )
        name, kind = str(data["name"]), str(data["kind"])
        if not NAME_RE.match(name) or kind not in KINDS:
            raise ValueError("bad name or kind")
        return cls(
            name=name,
            kind=kind,
            model=str(data.get("model") or "."),
            format=str(data.get("format") or ""),
            source=str(data.get("source") or ""),
            added_at=str(data.get("added_at") or ""),
            license_file=str(data["license_file"]),
            license_title=str(data.get("license_title") or ""),
            files=files,
        )


@dataclass(frozen=True)
class PackCheck:
    """A pack looked at again: its files (by size, or re-hashed) and its format."""

    name: str
    kind: str
    hashed: bool  # every file re-hashed (else sizes only)
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # everything wrong, in words
    size: int = 0
    license_title: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        what = f"{KIND_ROLES.get(self.kind, self.kind).lower()}, {size_text(self.size)}, licence: {self.license_title}"
        if self.ok:
            return f"{what}; " + ("every file matches its checksum" if self.hashed else "files present, sizes match")
        return f"{what}; " + "; ".join(self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "ok": self.ok,
            "hashed": self.hashed,
            "missing": list(self.missing),
            "changed": list(self.changed),
            "extra": list(self.extra),
            "problems": list(self.problems),
            "size": self.size,
            "license_title": self.license_title,
        }


@dataclass
class _Copy:
    files: list[PackFile] = field(default_factory=list)


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


def license_text(model_dir: Path, manifest: PackManifest) -> str | None:
    try:
        path = manifest.folder(model_dir) / manifest.license_file
        if path.stat().st_size > MAX_LICENSE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# -- the registry -------------------------------------------------------------------------------------------


def registry_file(model_dir: Path) -> Path:
    return Path(model_dir) / REGISTRY_NAME


def list_packs(model_dir: Path) -> tuple[PackManifest, ...]:
    """The registered packs, by name; none when nothing was ever added; PackError when the registry is damaged."""
    path = registry_file(model_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise PackError(f"The model pack list {path} cannot be read ({exc.strerror}).") from None
    try:
        data = json.loads(raw)
        packs = tuple(PackManifest.from_json(entry) for entry in data["packs"])
    except (ValueError, KeyError, TypeError):
        raise PackError(
            f"The model pack list {path} is damaged. Add the packs again with `tbdesktop model add --replace`, "
            "or restore the file from a backup."
        ) from None
    return tuple(sorted(packs, key=lambda p: p.name.casefold()))


def get_pack(model_dir: Path, name: str) -> PackManifest:
    for pack in list_packs(model_dir):
        if pack.name == name:
            return pack
    raise PackError(f"No model pack named '{name}' is registered (see `tbdesktop model list`).")


def find_pack(model_dir: Path, name: str, kind: str | None = None) -> PackManifest | None:
    """The registered pack ``name`` (of ``kind``, if given), or None; a damaged registry reads as none."""
    if not NAME_RE.match(name or ""):
        return None
    try:
        packs = list_packs(model_dir)
    except PackError:
        log.warning("model pack list unreadable", extra={"model_dir": str(model_dir)})
        return None
    return next((p for p in packs if p.name == name and (kind is None or p.kind == kind)), None)


def resolve_model_setting(model_dir: Path, value: str, kind: str) -> str:
    """A setting's value with a registered pack's name turned into its path; anything else unchanged."""
    pack = find_pack(model_dir, value.strip(), kind)
    return str(pack.model_path(model_dir)) if pack is not None else value


def _write_registry(model_dir: Path, packs: list[PackManifest]) -> None:
    data = {"format": REGISTRY_FORMAT, "packs": [p.to_json() for p in sorted(packs, key=lambda p: p.name)]}
    _write_json_atomic(registry_file(model_dir), data)


def _write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# -- adding and removing ------------------------------------------------------------------------------------


def default_name(source: Path) -> str:
    stem = source.stem if source.is_file() else source.name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:64]
    return name or "model"


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise PackError(
            f"'{name}' cannot name a model pack: use up to 64 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit."
        )
    if name in RESERVED_NAMES:
        raise PackError(f"'{name}' is the built-in speech model's name; choose another name for the pack.")


def add_pack(
    source: Path,
    model_dir: Path,
    *,
    name: str | None = None,
    license_path: Path | None = None,
    kind: str | None = None,
    replace: bool = False,
) -> PackManifest:
    """Validate the model at ``source`` and register a copy of it (with its licence) for the whole machine."""
    source = Path(source).expanduser()
    if not source.exists():
        raise PackError(f"{source} was not found.")
    source = source.resolve()
    if kind is not None and kind not in KINDS:
        raise PackError(f"Unknown model kind '{kind}': choose speech, notes or diarization.")
    kind = kind or detect_kind(source)
    fmt = check_format(kind, source)
    name = name or default_name(source)
    check_name(name)

    licence_source = Path(license_path).expanduser() if license_path is not None else None
    if licence_source is not None and not licence_source.is_file():
        raise PackError(f"The licence file {licence_source} was not found.")
    if licence_source is None:
        licence_source = find_license(source if source.is_dir() else source.parent)
    if licence_source is None:
        where = "in the folder" if source.is_dir() else "beside the file"
        raise PackError(
            f"No licence file {where} (LICENSE, LICENCE or COPYING, plain text or .txt/.md): give it with "
            "--license FILE. Every model pack records the licence it is used under."
        )
    title = license_title(licence_source)

    model_dir = Path(model_dir)
    _prepare_model_dir(model_dir)
    existing = {p.name: p for p in list_packs(model_dir)}
    target = model_dir / name
    if (name in existing or target.exists()) and not replace:
        raise PackError(f"A model pack named '{name}' already exists; choose another --name, or add --replace.")

    staging = _staging_dir(model_dir, name)
    try:
        copy = _Copy()
        if source.is_dir():
            model_rel = "."
            for path in _walk(source):
                rel = path.relative_to(source).as_posix()
                copy.files.append(_copy_file(path, staging / rel, rel))
        else:
            model_rel = source.name
            copy.files.append(_copy_file(source, staging / model_rel, model_rel))
        licence_rel = _licence_destination(source, licence_source, {f.path for f in copy.files})
        if licence_rel not in {f.path for f in copy.files}:
            copy.files.append(_copy_file(licence_source, staging / licence_rel, licence_rel))
        # what was written is what was read: every copy hashed again before the pack goes live
        for entry in copy.files:
            if _sha256(staging / entry.path) != entry.sha256:
                raise PackError(f"The copy of {entry.path} does not match the original; check the disk and try again.")
        check_format(kind, staging if model_rel == "." else staging / model_rel)
        manifest = PackManifest(
            name=name,
            kind=kind,
            model=model_rel,
            format=fmt,
            source=str(source),
            added_at=datetime.now(UTC).isoformat(timespec="seconds"),
            license_file=licence_rel,
            license_title=title,
            files=tuple(sorted(copy.files, key=lambda f: f.path)),
        )
        _write_json_atomic(staging / MANIFEST_NAME, manifest.to_json())
        _make_readable(staging)
        _swap_in(staging, target)
    except PermissionError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackError(f"Cannot write to the model folder {model_dir}: {_ADMIN_HINT}.") from exc
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackError(f"The model could not be copied into {model_dir}: {exc.strerror or exc}.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    existing[name] = manifest
    try:
        _write_registry(model_dir, list(existing.values()))
    except OSError as exc:
        raise PackError(f"The model pack list in {model_dir} could not be written: {exc.strerror or exc}.") from exc
    log.info(
        "model pack added", extra={"pack": name, "kind": kind, "files": len(manifest.files), "bytes": manifest.size}
    )
    return manifest


def remove_pack(model_dir: Path, name: str) -> PackManifest:
    """Unregister a pack and delete its copy (the original it was added from is never touched)."""
    model_dir = Path(model_dir)
    packs = {p.name: p for p in list_packs(model_dir)}
    pack = packs.pop(name, None)
    if pack is None:
        raise PackError(f"No model pack named '{name}' is registered (see `tbdesktop model list`).")
    try:
        _write_registry(model_dir, list(packs.values()))
        folder = pack.folder(model_dir)
        if folder.exists():
            trash = model_dir / f".removing-{name}-{uuid.uuid4().hex[:8]}"
            os.replace(folder, trash)
            shutil.rmtree(trash)
    except PermissionError as exc:
        raise PackError(f"Cannot change the model folder {model_dir}: {_ADMIN_HINT}.") from exc
    log.info("model pack removed", extra={"pack": name})
    return pack


def _prepare_model_dir(model_dir: Path) -> None:
    try:
        if not model_dir.is_dir():
            model_dir.mkdir(parents=True)
            os.chmod(model_dir, 0o755)  # every account reads the packs
    except PermissionError as exc:
        raise PackError(f"Cannot create the model folder {model_dir}: {_ADMIN_HINT}.") from exc
    except OSError as exc:
        raise PackError(f"Cannot use the model folder {model_dir}: {exc.strerror or exc}.") from exc
    if not os.access(model_dir, os.W_OK | os.X_OK):
        raise PackError(f"Cannot write to the model folder {model_dir}: {_ADMIN_HINT}.")


def _staging_dir(model_dir: Path, name: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=model_dir))
    except PermissionError as exc:
        raise PackError(f"Cannot write to the model folder {model_dir}: {_ADMIN_HINT}.") from exc


def _swap_in(staging: Path, target: Path) -> None:
    """Put the staged pack at ``target``; a pack being replaced is moved aside first, then deleted."""
    old = None
    if target.exists():
        old = target.parent / f".replacing-{target.name}-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _walk(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder`` (links followed), hidden and cache folders left out."""
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for file in sorted(files):
            if file.startswith(".") or file == MANIFEST_NAME:
                continue
            path = Path(root) / file
            if path.is_file():
                yield path


def _copy_file(source: Path, dest: Path, rel: str) -> PackFile:
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return PackFile(path=rel, size=size, sha256=digest.hexdigest())


def _licence_destination(source: Path, licence: Path, copied: set[str]) -> str:
    """Where the licence lives in the pack: where it already is when it came with the folder, else beside it."""
    if source.is_dir():
        try:
            rel = licence.resolve().relative_to(source).as_posix()
            if rel in copied:
                return rel
        except ValueError:
            pass
    suffix = licence.suffix.lower() if licence.suffix.lower() in (".txt", ".md") else ".txt"
    for candidate in (f"LICENSE{suffix}", f"LICENSE-PACK{suffix}"):
        if candidate not in copied:
            return candidate
    return f"LICENSE-{uuid.uuid4().hex[:8]}{suffix}"


def _make_readable(folder: Path) -> None:
    """Every account on the workstation reads the pack; only the administrator changes it."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for d in dirs:
            os.chmod(Path(root) / d, 0o755)
        for f in files:
            os.chmod(Path(root) / f, 0o644)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- checking -----------------------------------------------------------------------------------------------


def verify_pack(model_dir: Path, pack: PackManifest, *, full: bool = True) -> PackCheck:
    """Look at a pack again: files missing, changed (size, or checksum when ``full``) or extra; its format."""
    folder = pack.folder(model_dir)
    missing: list[str] = []
    changed: list[str] = []
    problems: list[str] = []
    if not folder.is_dir():
        problems.append(f"its folder {folder} is missing")
        return PackCheck(
            pack.name, pack.kind, full, missing=tuple(f.path for f in pack.files), problems=tuple(problems),
            size=pack.size, license_title=pack.license_title,
        )  # fmt: skip
    for entry in pack.files:
        path = folder / entry.path
        try:
            size = path.stat().st_size
        except OSError:
            missing.append(entry.path)
            continue
        if size != entry.size:
            changed.append(entry.path)
        elif full:
            try:
                if _sha256(path) != entry.sha256:
                    changed.append(entry.path)
            except OSError:
                missing.append(entry.path)
    known = {f.path for f in pack.files}
    extra = sorted(
        p.relative_to(folder).as_posix() for p in _walk(folder) if p.relative_to(folder).as_posix() not in known
    )
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if changed:
        problems.append("changed since it was added: " + ", ".join(changed))
    if extra:
        problems.append("files that are not part of the pack: " + ", ".join(extra))
    if not missing:
        try:
            check_format(pack.kind, pack.model_path(model_dir))
        except PackError as exc:
            problems.append(exc.message)
    return PackCheck(
        name=pack.name,
        kind=pack.kind,
        hashed=full,
        missing=tuple(missing),
        changed=tuple(changed),
        extra=tuple(extra),
        problems=tuple(problems),
        size=pack.size,
        license_title=pack.license_title,
    )


def verify_packs(model_dir: Path, name: str | None = None, *, full: bool = True) -> tuple[PackCheck, ...]:
    packs = (get_pack(model_dir, name),) if name else list_packs(model_dir)
    return tuple(verify_pack(model_dir, p, full=full) for p in packs)
