"""The registry of model packs (``packs.json`` in the machine-wide model folder), their manifests, a pack's name
turned into its path, and checking a pack's files again."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbdesktop.services.digest import sha256_of
from tbdesktop.services.model_packs.formats import (
    KIND_ROLES,
    KINDS,
    MANIFEST_NAME,
    MAX_LICENSE_BYTES,
    NAME_RE,
    REGISTRY_FORMAT,
    REGISTRY_NAME,
    PackError,
    check_format,
    size_text,
)

log = logging.getLogger(__name__)


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


def write_registry(model_dir: Path, packs: list[PackManifest]) -> None:
    data = {"format": REGISTRY_FORMAT, "packs": [p.to_json() for p in sorted(packs, key=lambda p: p.name)]}
    write_json_atomic(registry_file(model_dir), data)


def write_json_atomic(path: Path, data: Any) -> None:
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


def pack_files(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder`` (links followed), hidden and cache folders left out."""
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for file in sorted(files):
            if file.startswith(".") or file == MANIFEST_NAME:
                continue
            path = Path(root) / file
            if path.is_file():
                yield path


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
                if sha256_of(path) != entry.sha256:
                    changed.append(entry.path)
            except OSError:
                missing.append(entry.path)
    known = {f.path for f in pack.files}
    extra = sorted(
        p.relative_to(folder).as_posix() for p in pack_files(folder) if p.relative_to(folder).as_posix() not in known
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
