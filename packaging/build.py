"""Build the one-folder bundle dist/TherapyBridge/ from packaging/tbdesktop.spec, then (on Debian and Ubuntu) the
Debian package dist/therapybridge_<version>_<arch>.deb from it (packaging/deb.py).

Usage: python packaging/build.py [--force] [--no-deb] [--version V]

A fresh build (the console executable newer than every source file) is reused unless --force is given; the .deb
is always made again from the bundle. On Windows and macOS only the bundle is built. Exit status 0 on success;
non-zero when PyInstaller fails, the bundle is incomplete or the package cannot be made.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "tbdesktop.spec"
DIST_DIR = ROOT / "dist"
WORK_DIR = ROOT / "build"
BUNDLE_DIR = DIST_DIR / "TherapyBridge"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
CONSOLE_EXE = BUNDLE_DIR / f"tbdesktop{EXE_SUFFIX}"
GUI_EXE = BUNDLE_DIR / f"TherapyBridge{EXE_SUFFIX}"
# What a build depends on; a change in any of these makes the bundle stale.
SOURCES = ("tbdesktop", "alembic", "resources", "packaging", "main.py", "pyproject.toml")
# Under packaging/ but not in the bundle: the IT guide and the Debian packaging (the .deb is made again each time).
NOT_IN_BUNDLE = ("packaging/INSTALL.md", "packaging/deb.py", "packaging/debian")
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass(frozen=True)
class BuildResult:
    bundle_dir: Path
    console_exe: Path
    gui_exe: Path
    reused: bool
    seconds: float
    size_bytes: int


class BuildError(RuntimeError):
    pass


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
                for name in filenames:
                    if not name.endswith((".pyc", ".pyo")):
                        yield Path(dirpath) / name


def newest_source_mtime(root: Path = ROOT) -> float:
    skip = [root / s for s in NOT_IN_BUNDLE]
    files = (p for p in _files(root / s for s in SOURCES) if not any(p == s or p.is_relative_to(s) for s in skip))
    return max((p.stat().st_mtime for p in files), default=0.0)


def is_fresh(root: Path = ROOT) -> bool:
    """True when the console executable exists and is newer than every file the build depends on."""
    exe = root / "dist" / "TherapyBridge" / f"tbdesktop{EXE_SUFFIX}"
    gui = root / "dist" / "TherapyBridge" / f"TherapyBridge{EXE_SUFFIX}"
    if not exe.is_file() or not gui.is_file():
        return False
    return exe.stat().st_mtime > newest_source_mtime(root)


def bundle_size(path: Path = BUNDLE_DIR) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _check_bundle() -> None:
    missing = [p for p in (CONSOLE_EXE, GUI_EXE) if not p.is_file()]
    if missing:
        raise BuildError("PyInstaller finished but the bundle lacks " + ", ".join(str(p) for p in missing))


class BundleLease:
    """A shared hold on the bundle: while any lease is open, no other build replaces dist/TherapyBridge/."""

    def __init__(self, handle: IO[str] | None) -> None:
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None

    def __enter__(self) -> BundleLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(handle: IO[str], shared: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: builds and test runs are not concurrent there
        return
    fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)


@contextmanager
def _exclusive() -> Iterator[IO[str]]:
    """One build at a time per checkout, and none while a lease is held; a second caller waits."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(WORK_DIR / ".build.lock", "a+", encoding="utf-8")  # closed here, by build() or by a lease
    try:
        _lock(handle, shared=False)
        yield handle
    except BaseException:
        handle.close()
        raise


def build(force: bool = False, *, quiet: bool = False) -> BuildResult:
    """Build the bundle (or reuse a fresh one) and return where it is, how long it took and its size."""
    with _exclusive() as handle:
        result = _build(force, quiet)
    handle.close()
    return result


def build_and_lease(force: bool = False, *, quiet: bool = False) -> tuple[BuildResult, BundleLease]:
    """Like build(), then keep the bundle from being rebuilt by others until the lease is released."""
    with _exclusive() as handle:
        result = _build(force, quiet)
    _lock(handle, shared=True)  # downgrade: other users may share, builders wait
    return result, BundleLease(handle)


def _build(force: bool, quiet: bool) -> BuildResult:
    started = time.monotonic()
    started_wall = time.time()
    if not force and is_fresh():
        return BuildResult(BUNDLE_DIR, CONSOLE_EXE, GUI_EXE, True, 0.0, bundle_size())
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(SPEC),
        "--noconfirm",
        "--clean",
        "--distpath",
        str(DIST_DIR),
        "--workpath",
        str(WORK_DIR),
        "--log-level",
        "WARN",
    ]
    env = dict(os.environ)
    # Analysis imports packages in helper processes; keep them headless and offline.
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("HF_HUB_OFFLINE", "1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or "")[-4000:] if quiet else ""
        raise BuildError(f"PyInstaller failed with exit status {proc.returncode}\n{tail}".rstrip())
    _check_bundle()
    # Date the executable at the start of the build: a source edited while PyInstaller ran makes it stale.
    os.utime(CONSOLE_EXE, (started_wall, started_wall))
    return BuildResult(BUNDLE_DIR, CONSOLE_EXE, GUI_EXE, False, time.monotonic() - started, bundle_size())


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _deb_module() -> ModuleType:
    """packaging/deb.py, loaded by path: packaging/ is a folder of scripts, not a Python package."""
    name = "tb_packaging_deb"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / "deb.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the TherapyBridge one-folder bundle in dist/TherapyBridge/ and, on Debian and Ubuntu, "
        "the Debian package dist/therapybridge_<version>_<arch>.deb."
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the bundle is fresh")
    parser.add_argument("--no-deb", action="store_true", help="build the bundle only")
    parser.add_argument("--version", help="Debian package version (default: the project's, from pyproject.toml)")
    args = parser.parse_args(argv)
    try:
        result, lease = build_and_lease(force=args.force)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    with lease:  # no concurrent build replaces the bundle while it is packaged
        if result.reused:
            print(f"Bundle is up to date: {result.bundle_dir} ({_mib(result.size_bytes)}); use --force to rebuild.")
        else:
            print(f"Built {result.bundle_dir} in {result.seconds:.0f} s ({_mib(result.size_bytes)}).")
        print(f"  console: {result.console_exe}")
        print(f"  app:     {result.gui_exe}")
        if args.no_deb:
            return 0
        if not sys.platform.startswith("linux"):
            print("No Debian package on this system: install the one-folder bundle (packaging/INSTALL.md).")
            return 0
        deb = _deb_module()
        try:
            package = deb.build_deb(result.bundle_dir, DIST_DIR, version=args.version)
        except deb.DebError as exc:
            print(
                f"packaging failed: {exc}\n(python packaging/build.py --no-deb builds the bundle only)", file=sys.stderr
            )
            return 1
        print(deb.describe(package))
    return 0


if __name__ == "__main__":
    sys.exit(main())
