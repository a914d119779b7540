"""Package the one-folder bundle dist/TherapyBridge/ as a Debian package: dist/therapybridge_<version>_<arch>.deb.

Usage: python packaging/deb.py [--version V] [--bundle DIR] [--out DIR] [--compression zstd|gzip|xz|none]

What it installs:
  /opt/TherapyBridge/                       the bundle, root-owned, read-only for users
  /usr/bin/tbdesktop                        a symbolic link to /opt/TherapyBridge/tbdesktop (the bootloader finds
                                            its _internal/ folder through the link)
  /usr/share/applications/therapybridge.desktop
  /usr/share/icons/hicolor/{scalable,256x256}/apps/therapybridge.{svg,png}
  /usr/share/doc/therapybridge/             copyright, INSTALL.md (the IT guide), policy.example.json
The maintainer scripts (packaging/debian/postinst, postrm) create the machine-wide model folder
/var/lib/TherapyBridge/models and never touch user data or /etc/TherapyBridge.

The version is the project's (pyproject.toml) unless --version is given; the architecture is dpkg's. The 256x256
icon resources/icons/app-256.png is rendered from resources/icons/app.svg with Qt's SVG renderer (QSvgRenderer
into a transparent 256x256 QImage); render it again whenever app.svg changes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST_DIR = ROOT / "dist"
BUNDLE_DIR = DIST_DIR / "TherapyBridge"
TEMPLATES = ROOT / "packaging" / "debian"
GUIDE = ROOT / "packaging" / "INSTALL.md"
ICON_SVG = ROOT / "resources" / "icons" / "app.svg"
ICON_PNG = ROOT / "resources" / "icons" / "app-256.png"

PACKAGE = "therapybridge"
INSTALL_DIR = "opt/TherapyBridge"
DOC_DIR = f"usr/share/doc/{PACKAGE}"
MAINTAINER = "TherapyBridge Desktop <support@therapybridge.invalid>"
# The libraries the window needs from the workstation (INSTALL.md, "Linux system libraries"; the same list as
# scripts/system-deps.sh run). The command-line tool needs none of them.
DEPENDS = (
    "libegl1",
    "libgl1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libfontconfig1",
    "libdbus-1-3",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-image0",
    "libportaudio2",
    "libpulse0",
)
DESCRIPTION = """\
Therapy session transcription and progress notes, on this computer
 TherapyBridge Desktop records or imports therapy sessions, transcribes them and tells the speakers apart on
 this workstation, and drafts progress notes for the therapist to review and sign. The speech and speaker
 models are inside the package: nothing is downloaded, and nothing is sent anywhere unless the clinic
 configures a clinic server or an OpenAI-compatible server.
 .
 The application is installed in /opt/TherapyBridge, with the command-line tool as /usr/bin/tbdesktop.
 Clinic IT can set machine-wide settings in /etc/TherapyBridge/policy.json and add model packs with
 "tbdesktop model add"; see /usr/share/doc/therapybridge/INSTALL.md."""
# Debian version syntax (epoch and revision allowed); checked before dpkg-deb sees it for a clearer message.
_VERSION_RE = re.compile(r"^(?:\d+:)?\d[A-Za-z0-9.+~]*(?:-[A-Za-z0-9.+~]+)?$")
# Compression: zstd is fast on two cores and every dpkg able to run the bundle (glibc 2.36+) reads it.
COMPRESSION = {"zstd": ("zstd", "3"), "gzip": ("gzip", "6"), "xz": ("xz", "6"), "none": ("none", "0")}


class DebError(RuntimeError):
    pass


@dataclass(frozen=True)
class DebResult:
    path: Path
    version: str
    arch: str
    size_bytes: int
    installed_kib: int
    seconds: float


def project_version(root: Path = ROOT) -> str:
    """The version in pyproject.toml (the same one the package metadata carries)."""
    with (root / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version):
        raise DebError(f"{version!r} is not a Debian package version (digits first, then letters, digits, . + ~).")
    return version


def architecture() -> str:
    """dpkg's name for this machine's architecture (amd64, arm64, ...)."""
    try:
        proc = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DebError(f"dpkg --print-architecture failed ({exc}); a Debian package needs dpkg.") from exc
    return proc.stdout.strip()


def deb_name(version: str, arch: str) -> str:
    return f"{PACKAGE}_{version.split(':', 1)[-1]}_{arch}.deb"


# -- the package tree -----------------------------------------------------------------------------------------


def _readable_mode(mode: int) -> int:
    """rw-r--r-- or rwxr-xr-x: readable by every account, writable by root only."""
    return 0o755 if mode & 0o111 else 0o644


def _place(src: Path, dest: Path) -> None:
    """A hard link when the file already has the package's mode (no copy of ~1 GiB), else a copy with it."""
    mode = stat.S_IMODE(src.stat().st_mode)
    wanted = _readable_mode(mode)
    if mode == wanted:
        try:
            os.link(src, dest)
            return
        except OSError:  # another file system, or links not allowed
            pass
    shutil.copy2(src, dest)
    os.chmod(dest, wanted)


def _copy_tree(src: Path, dest: Path) -> None:
    """The bundle as it is, symbolic links kept as links; folders 755, files 644 or 755."""
    dest.mkdir(mode=0o755)
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        target = dest / here.relative_to(src)
        for name in sorted(dirnames + filenames):
            path = here / name
            out = target / name
            if path.is_symlink():
                os.symlink(os.readlink(path), out)
                if name in dirnames:
                    dirnames.remove(name)  # a linked folder is not walked into
            elif name in dirnames:
                out.mkdir(mode=0o755)
                os.chmod(out, 0o755)
            elif path.is_file():
                _place(path, out)
            else:
                raise DebError(f"{path} is neither a file, a folder nor a link: it cannot be packaged.")


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    os.chmod(path, mode)


def _fix_dirs(root: Path) -> None:
    for dirpath, _dirnames, _filenames in os.walk(root):
        os.chmod(dirpath, 0o755)


def _payload(staging: Path) -> Iterable[Path]:
    """Every file and link of the package, DEBIAN/ excluded, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(staging):
        here = Path(dirpath)
        if here == staging:
            dirnames[:] = [d for d in dirnames if d != "DEBIAN"]
        dirnames.sort()
        for name in sorted(filenames):
            yield here / name
        for name in dirnames:
            if (here / name).is_symlink():
                yield here / name


def installed_size_kib(staging: Path) -> int:
    """What dpkg-gencontrol would write: each file rounded up to KiB, plus one per folder and per link."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(staging):
        here = Path(dirpath)
        if here == staging:
            dirnames[:] = [d for d in dirnames if d != "DEBIAN"]
        total += 1
        for name in filenames:
            path = here / name
            total += 1 if path.is_symlink() else -(-path.stat().st_size // 1024)
    return total


def md5sums(staging: Path) -> str:
    lines = []
    for path in _payload(staging):
        if path.is_symlink():
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(staging).as_posix()}\n")
    return "".join(lines)


def control_text(version: str, arch: str, installed_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        "Section: misc\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}\n"
    )


def stage(bundle_dir: Path, staging: Path, *, version: str, arch: str) -> int:
    """Lay out the package under `staging` (which must not exist); returns its installed size in KiB."""
    for exe in ("tbdesktop", "TherapyBridge"):
        if not (bundle_dir / exe).is_file():
            raise DebError(f"{bundle_dir / exe} is missing: build the bundle first (python packaging/build.py).")
    staging.mkdir(mode=0o755)
    (staging / "opt").mkdir(mode=0o755)
    _copy_tree(bundle_dir, staging / INSTALL_DIR)
    bin_dir = staging / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    os.symlink(f"/{INSTALL_DIR}/tbdesktop", bin_dir / "tbdesktop")
    share = staging / "usr" / "share"
    _write(share / "applications" / f"{PACKAGE}.desktop", (TEMPLATES / f"{PACKAGE}.desktop").read_bytes())
    _write(share / "icons" / "hicolor" / "scalable" / "apps" / f"{PACKAGE}.svg", ICON_SVG.read_bytes())
    _write(share / "icons" / "hicolor" / "256x256" / "apps" / f"{PACKAGE}.png", ICON_PNG.read_bytes())
    doc = staging / DOC_DIR
    _write(doc / "copyright", (TEMPLATES / "copyright").read_bytes())
    _write(doc / "INSTALL.md", GUIDE.read_bytes())
    _write(doc / "policy.example.json", (TEMPLATES / "policy.example.json").read_bytes())
    _fix_dirs(staging)
    installed = installed_size_kib(staging)
    debian = staging / "DEBIAN"
    debian.mkdir(mode=0o755)
    _write(debian / "control", control_text(version, arch, installed))
    _write(debian / "md5sums", md5sums(staging))
    for script in ("postinst", "postrm"):
        _write(debian / script, (TEMPLATES / script).read_bytes(), 0o755)
    return installed


def build_deb(
    bundle_dir: Path = BUNDLE_DIR,
    out_dir: Path = DIST_DIR,
    *,
    version: str | None = None,
    arch: str | None = None,
    compression: str = "zstd",
) -> DebResult:
    """Package `bundle_dir` into `out_dir`/therapybridge_<version>_<arch>.deb (replacing one already there)."""
    started = time.monotonic()
    if shutil.which("dpkg-deb") is None:
        raise DebError("dpkg-deb is not installed: the Debian package is built on Debian or Ubuntu (apt install dpkg).")
    version = check_version(version or project_version())
    arch = arch or architecture()
    if compression not in COMPRESSION:
        raise DebError(f"unknown compression {compression!r} ({', '.join(COMPRESSION)}).")
    kind, level = COMPRESSION[compression]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / deb_name(version, arch)
    # Staged beside the bundle (same file system: hard links) in a fresh folder, so builds never collide.
    scratch = Path(tempfile.mkdtemp(prefix=".deb-", dir=bundle_dir.resolve().parent))
    try:
        staging = scratch / "root"
        installed = stage(bundle_dir, staging, version=version, arch=arch)
        partial = scratch / target.name
        cmd = ["dpkg-deb", "--root-owner-group", f"-Z{kind}", f"-z{level}", "--build", str(staging), str(partial)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DebError(f"dpkg-deb failed with exit status {proc.returncode}:\n{proc.stderr[-3000:]}".rstrip())
        shutil.move(partial, target)  # a rename on one file system: never a half-written .deb
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return DebResult(target, version, arch, target.stat().st_size, installed, time.monotonic() - started)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def describe(result: DebResult) -> str:
    return (
        f"Debian package: {result.path} ({_mib(result.size_bytes)}; {_mib(result.installed_kib * 1024)} installed; "
        f"built in {result.seconds:.0f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Package dist/TherapyBridge/ as a Debian package.")
    parser.add_argument("--version", help="package version (default: the project's, from pyproject.toml)")
    parser.add_argument("--bundle", type=Path, default=BUNDLE_DIR, help="the one-folder bundle to package")
    parser.add_argument("--out", type=Path, default=DIST_DIR, help="folder the .deb is written to")
    parser.add_argument("--compression", choices=sorted(COMPRESSION), default="zstd")
    args = parser.parse_args(argv)
    try:
        result = build_deb(args.bundle, args.out, version=args.version, compression=args.compression)
    except DebError as exc:
        print(f"packaging failed: {exc}", file=sys.stderr)
        return 1
    print(describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
