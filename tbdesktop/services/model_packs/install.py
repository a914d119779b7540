"""Adding a model pack (validate, copy into a staging folder, hash again, swap in, register) and removing one."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tbdesktop.services.digest import sha256_of
from tbdesktop.services.model_packs.formats import (
    ADMIN_HINT,
    CHUNK,
    KINDS,
    MANIFEST_NAME,
    NAME_RE,
    RESERVED_NAMES,
    PackError,
    check_format,
    detect_kind,
    find_license,
    license_title,
)
from tbdesktop.services.model_packs.registry import (
    PackFile,
    PackManifest,
    list_packs,
    pack_files,
    write_json_atomic,
    write_registry,
)
from tbdesktop.services.secrets import file_lock

log = logging.getLogger(__name__)
LOCK_NAME = ".packs.lock"
LOCK_TIMEOUT_S = 2 * 3600.0  # the other command may be copying a model of many GB


@dataclass
class _Copy:
    files: list[PackFile] = field(default_factory=list)


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
    with registry_lock(model_dir):
        return _add_locked(source, model_dir, name, kind, fmt, licence_source, title, replace)


def _add_locked(
    source: Path,
    model_dir: Path,
    name: str,
    kind: str,
    fmt: str,
    licence_source: Path,
    title: str,
    replace: bool,
) -> PackManifest:
    existing = {p.name: p for p in list_packs(model_dir)}
    target = model_dir / name
    if (name in existing or target.exists()) and not replace:
        raise PackError(f"A model pack named '{name}' already exists; choose another --name, or add --replace.")

    staging = _staging_dir(model_dir, name)
    try:
        copy = _Copy()
        if source.is_dir():
            model_rel = "."
            for path in pack_files(source):
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
            if sha256_of(staging / entry.path) != entry.sha256:
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
        write_json_atomic(staging / MANIFEST_NAME, manifest.to_json())
        _make_readable(staging)
        _swap_in(staging, target)
    except PermissionError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackError(f"Cannot write to the model folder {model_dir}: {ADMIN_HINT}.") from exc
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackError(f"The model could not be copied into {model_dir}: {exc.strerror or exc}.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    existing[name] = manifest
    try:
        write_registry(model_dir, list(existing.values()))
    except OSError as exc:
        raise PackError(f"The model pack list in {model_dir} could not be written: {exc.strerror or exc}.") from exc
    log.info(
        "model pack added", extra={"pack": name, "kind": kind, "files": len(manifest.files), "bytes": manifest.size}
    )
    return manifest


def remove_pack(model_dir: Path, name: str) -> PackManifest:
    """Unregister a pack and delete its copy (the original it was added from is never touched)."""
    model_dir = Path(model_dir)
    try:
        with registry_lock(model_dir):
            return _remove_locked(model_dir, name)
    except PermissionError as exc:
        raise PackError(f"Cannot change the model folder {model_dir}: {ADMIN_HINT}.") from exc


def _remove_locked(model_dir: Path, name: str) -> PackManifest:
    packs = {p.name: p for p in list_packs(model_dir)}
    pack = packs.pop(name, None)
    if pack is None:
        raise PackError(f"No model pack named '{name}' is registered (see `tbdesktop model list`).")
    try:
        write_registry(model_dir, list(packs.values()))
        folder = pack.folder(model_dir)
        if folder.exists():
            trash = model_dir / f".removing-{name}-{uuid.uuid4().hex[:8]}"
            os.replace(folder, trash)
            shutil.rmtree(trash)
    except PermissionError as exc:
        raise PackError(f"Cannot change the model folder {model_dir}: {ADMIN_HINT}.") from exc
    log.info("model pack removed", extra={"pack": name})
    return pack


def registry_lock(model_dir: Path) -> AbstractContextManager[None]:
    """One change to the model folder at a time: two `model add` run at once must not lose a registry entry."""
    return file_lock(
        model_dir / LOCK_NAME,
        LOCK_TIMEOUT_S,
        busy=lambda: PackError(f"Another command is changing the model folder {model_dir}; try again when it is done."),
        mode=0o644,
    )


def _prepare_model_dir(model_dir: Path) -> None:
    try:
        if not model_dir.is_dir():
            model_dir.mkdir(parents=True)
            os.chmod(model_dir, 0o755)  # every account reads the packs
    except PermissionError as exc:
        raise PackError(f"Cannot create the model folder {model_dir}: {ADMIN_HINT}.") from exc
    except OSError as exc:
        raise PackError(f"Cannot use the model folder {model_dir}: {exc.strerror or exc}.") from exc
    if not os.access(model_dir, os.W_OK | os.X_OK):
        raise PackError(f"Cannot write to the model folder {model_dir}: {ADMIN_HINT}.")


def _staging_dir(model_dir: Path, name: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".adding-{name}-", dir=model_dir))
    except PermissionError as exc:
        raise PackError(f"Cannot write to the model folder {model_dir}: {ADMIN_HINT}.") from exc


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


def _copy_file(source: Path, dest: Path, rel: str) -> PackFile:
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
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
