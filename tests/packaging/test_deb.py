"""The Debian package: real dpkg-deb and dpkg on real files.

Fast tests package a small stand-in bundle (modes, links, control files, the maintainer scripts, and a whole
install → upgrade → remove → purge in a throwaway root). Slow tests package the real bundle once per module (a
second version only by re-packing it), inspect it, unpack it and run the installed `tbdesktop`, and install,
upgrade, remove and purge it with `dpkg --root`. Nothing here reads or writes the machine's /opt, /usr, /etc or
/var: every dpkg call is rooted in a temporary folder and logs there.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from test_bundle import REPO_ROOT, Frozen, _assert_heard, _clean_env, _load

from tbdesktop import policy as tb_policy

DEB_SCRIPT = REPO_ROOT / "packaging" / "deb.py"
TEMPLATES = REPO_ROOT / "packaging" / "debian"
V1, V2 = "1.0.0", "1.0.1"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# What the package installs besides /opt/TherapyBridge/ (dpkg-deb --contents names, folders with a slash).
EXTRAS = {
    "./",
    "./opt/",
    "./usr/",
    "./usr/bin/",
    "./usr/bin/tbdesktop",
    "./usr/share/",
    "./usr/share/applications/",
    "./usr/share/applications/therapybridge.desktop",
    "./usr/share/doc/",
    "./usr/share/doc/therapybridge/",
    "./usr/share/doc/therapybridge/copyright",
    "./usr/share/doc/therapybridge/INSTALL.md",
    "./usr/share/doc/therapybridge/policy.example.json",
    "./usr/share/icons/",
    "./usr/share/icons/hicolor/",
    "./usr/share/icons/hicolor/256x256/",
    "./usr/share/icons/hicolor/256x256/apps/",
    "./usr/share/icons/hicolor/256x256/apps/therapybridge.png",
    "./usr/share/icons/hicolor/scalable/",
    "./usr/share/icons/hicolor/scalable/apps/",
    "./usr/share/icons/hicolor/scalable/apps/therapybridge.svg",
}

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Debian packages are built on Linux")


@pytest.fixture(scope="module")
def deb_module() -> ModuleType:
    return _load("tb_packaging_deb", DEB_SCRIPT)


@pytest.fixture(scope="module")
def build_module() -> ModuleType:
    return _load("tb_packaging_build", REPO_ROOT / "packaging" / "build.py")


def _require(*tools: str) -> None:
    for tool in tools:
        assert shutil.which(tool), f"{tool} is needed (apt install dpkg desktop-file-utils binutils)"


# -- a throwaway dpkg root ------------------------------------------------------------------------------------


def _tree_digest(path: Path) -> dict[str, str]:
    """Every file under `path` and its SHA-256: what must come through an install, upgrade or removal unchanged."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@dataclass
class DpkgRoot:
    root: Path

    @classmethod
    def create(cls, root: Path) -> DpkgRoot:
        admin = root / "var" / "lib" / "dpkg"
        for sub in ("info", "updates", "triggers", "alternatives"):
            (admin / sub).mkdir(parents=True, exist_ok=True)
        for name in ("status", "available"):
            (admin / name).touch()
        (root / "var" / "log").mkdir(parents=True, exist_ok=True)
        return cls(root)

    def dpkg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [
            "dpkg",
            f"--root={self.root}",
            f"--log={self.root / 'var' / 'log' / 'dpkg.log'}",
            "--force-script-chrootless",
            "--force-depends",
            *([] if IS_ROOT else ["--force-not-root"]),
            *args,
        ]
        env = dict(os.environ, PATH=os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
        if check:
            assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def state(self) -> str | None:
        """'<version> <status>' as dpkg records it, or None when dpkg no longer knows the package."""
        proc = subprocess.run(
            ["dpkg-query", f"--root={self.root}", "-W", "-f=${Version} ${Status}", "therapybridge"],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    def listed(self) -> list[str]:
        """The package's files and folders as dpkg recorded them (its .list file)."""
        return (self.root / "var/lib/dpkg/info/therapybridge.list").read_text(encoding="utf-8").split("\n")[:-1]

    def path(self, installed: str) -> Path:
        return self.root / installed.lstrip("/")


def _user_data(root: Path) -> tuple[Path, Path]:
    """A clinician's data folder and secret store, and IT's policy file: what no package operation may touch."""
    home = root / "home" / "dana"
    data = home / ".local" / "share" / "TherapyBridge"
    (data / "recordings").mkdir(parents=True)
    (data / "tbdesktop.sqlite3").write_bytes(os.urandom(4096))
    (data / "tbdesktop.keys").write_bytes(os.urandom(256))
    (data / "recordings" / "0001.tbrec").write_bytes(os.urandom(8192))
    secrets_dir = home / ".config" / "TherapyBridge" / "secrets"
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "dana.tbsecrets").write_bytes(os.urandom(512))
    (home / ".config" / "TherapyBridge" / "settings.json").write_text('{"asr_language": "en"}', encoding="utf-8")
    etc = root / "etc" / "TherapyBridge"
    etc.mkdir(parents=True)
    shutil.copy(TEMPLATES / "policy.example.json", etc / "policy.json")
    return home, etc


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# -- the package's parts (fast) -------------------------------------------------------------------------------


def test_policy_example_matches_the_policy_file_format(tmp_path: Path) -> None:
    example = TEMPLATES / "policy.example.json"
    data = json.loads(example.read_text(encoding="utf-8"))
    assert set(data) == set(tb_policy._KEYS), "the example shows every setting a policy file can have"
    loaded = tb_policy.load_policy(example)
    assert loaded.active
    assert loaded.clinic_server is not None and loaded.clinic_server.ca_file
    assert loaded.model_dir == Path("/var/lib/TherapyBridge/models")
    assert loaded.allowed_transcription == ("local",)
    assert loaded.allowed_servers == ()
    assert loaded.idle_lock_max_minutes == 15
    assert loaded.consent_required is True


def test_depends_are_the_libraries_the_guide_lists(deb_module: ModuleType) -> None:
    guide = (REPO_ROOT / "packaging" / "INSTALL.md").read_text(encoding="utf-8")
    match = re.search(r"apt-get install ((?:[^`]|\\\n)*?)\n```", guide)
    assert match, "the guide's Linux section lists the libraries in an apt-get command"
    guide_pkgs = match.group(1).replace("\\\n", " ").split()
    assert tuple(guide_pkgs) == deb_module.DEPENDS
    system_deps = (REPO_ROOT / "scripts" / "system-deps.sh").read_text(encoding="utf-8")
    run_match = re.search(r"run_pkgs=\(([^)]*)\)", system_deps)
    assert run_match
    assert tuple(run_match.group(1).split()) == deb_module.DEPENDS


def test_desktop_entry() -> None:
    _require("desktop-file-validate")
    entry = TEMPLATES / "therapybridge.desktop"
    proc = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower(), proc.stdout
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(entry, encoding="utf-8")
    desktop = parser["Desktop Entry"]
    assert desktop["Name"] == "TherapyBridge"
    assert desktop["Exec"] == "/opt/TherapyBridge/TherapyBridge"
    assert desktop["Icon"] == "therapybridge"
    assert desktop["Categories"] == "Office;MedicalSoftware;"
    assert desktop["Terminal"] == "false"


def test_icon_png_is_256_square() -> None:
    head = (REPO_ROOT / "resources" / "icons" / "app-256.png").read_bytes()[:32]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    assert struct.unpack(">II", head[16:24]) == (256, 256)


def test_versions(deb_module: ModuleType) -> None:
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert deb_module.project_version() == pyproject["project"]["version"]
    for good in ("0.1.0", "1.2.3~rc1", "2:1.0-3", "1.0+clinic.2"):
        assert deb_module.check_version(good) == good
    for bad in ("", "v1.0", "1.0 beta", "1.0_1", "-1"):
        with pytest.raises(deb_module.DebError):
            deb_module.check_version(bad)
    assert deb_module.deb_name("2:1.0-3", "amd64") == "therapybridge_1.0-3_amd64.deb"


def _run_script(name: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    shell = shutil.which("dash") or "/bin/sh"  # Debian runs maintainer scripts with dash
    env = dict(os.environ, DPKG_ROOT=str(root), DPKG_MAINTSCRIPT_NAME=name, DPKG_MAINTSCRIPT_PACKAGE="therapybridge")
    proc = subprocess.run(
        [shell, str(TEMPLATES / name), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def test_maintainer_scripts_honour_dpkg_root_and_keep_data(tmp_path: Path) -> None:
    home, etc = _user_data(tmp_path)
    kept = _tree_digest(home), _tree_digest(etc)
    models = tmp_path / "var" / "lib" / "TherapyBridge" / "models"

    _run_script("postinst", tmp_path, "configure", "")
    assert models.is_dir() and _mode(models) == 0o755 and _mode(models.parent) == 0o755
    if IS_ROOT:
        assert models.stat().st_uid == 0
    pack = models / "large-v3" / "model.bin"
    pack.parent.mkdir()
    pack.write_bytes(b"weights")
    os.chmod(models, 0o750)  # IT's own choice survives an upgrade's postinst
    _run_script("postinst", tmp_path, "configure", V1)
    assert _mode(models) == 0o750 and pack.read_bytes() == b"weights"

    _run_script("postrm", tmp_path, "remove")
    assert pack.read_bytes() == b"weights", "remove keeps the model packs"
    purged = _run_script("postrm", tmp_path, "purge")
    assert pack.read_bytes() == b"weights", "purge keeps model packs IT copied in"
    assert "/var/lib/TherapyBridge/models" in purged.stdout
    shutil.rmtree(models / "large-v3")
    _run_script("postrm", tmp_path, "purge")
    assert not (tmp_path / "var" / "lib" / "TherapyBridge").exists(), "purge removes the empty model folder"
    assert (_tree_digest(home), _tree_digest(etc)) == kept
    for script in ("postinst", "postrm"):
        text = (TEMPLATES / script).read_text(encoding="utf-8")
        assert "home" not in re.sub(r"#.*", "", text), f"{script} must not go near home folders"
        assert re.sub(r"#.*", "", text).count("/etc/TherapyBridge") == 0


def _fake_bundle(base: Path, *, extra: bool) -> Path:
    """A stand-in for dist/TherapyBridge/: both executables, data files with careless modes, links."""
    bundle = base / "TherapyBridge"
    internal = bundle / "_internal"
    (internal / "resources").mkdir(parents=True)
    for exe in ("tbdesktop", "TherapyBridge"):
        (bundle / exe).write_text("#!/bin/sh\necho fake\n", encoding="utf-8")
        os.chmod(bundle / exe, 0o775)
    (internal / "libQt6Core.so.6.11.3").write_bytes(b"\x7fELF fake")
    os.chmod(internal / "libQt6Core.so.6.11.3", 0o755)
    os.symlink("libQt6Core.so.6.11.3", internal / "libQt6Core.so.6")
    (internal / "resources" / "style.qss").write_text("QWidget {}\n", encoding="utf-8")
    os.chmod(internal / "resources" / "style.qss", 0o664)  # group-writable in the build tree
    (internal / "private.dat").write_bytes(b"data")
    os.chmod(internal / "private.dat", 0o600)  # unreadable by others in the build tree
    os.chmod(internal / "resources", 0o775)
    if extra:
        (internal / "only-in-v1.txt").write_text("old\n", encoding="utf-8")
    return bundle


def test_small_package_lifecycle(deb_module: ModuleType, tmp_path: Path) -> None:
    """Modes, links, control files, and install → upgrade → remove → purge with real dpkg in a throwaway root."""
    _require("dpkg", "dpkg-deb", "dpkg-query")
    old = deb_module.build_deb(_fake_bundle(tmp_path / "b1", extra=True), tmp_path / "out", version=V1)
    new = deb_module.build_deb(_fake_bundle(tmp_path / "b2", extra=False), tmp_path / "out", version=V2)
    assert old.path.name == f"therapybridge_{V1}_{old.arch}.deb" and new.path != old.path
    assert not list((tmp_path / "b1").glob(".deb-*")), "the staging folder is removed"
    assert _mode(tmp_path / "b1" / "TherapyBridge" / "_internal" / "private.dat") == 0o600, "the bundle is unchanged"

    dpkg = DpkgRoot.create(tmp_path / "root")
    home, etc = _user_data(dpkg.root)
    kept = _tree_digest(home), _tree_digest(etc)
    dpkg.dpkg("-i", str(old.path))
    assert dpkg.state() == f"{V1} install ok installed"
    opt = dpkg.path("/opt/TherapyBridge")
    assert _mode(opt / "tbdesktop") == 0o755
    assert _mode(opt / "_internal" / "resources" / "style.qss") == 0o644
    assert _mode(opt / "_internal" / "private.dat") == 0o644
    assert _mode(opt / "_internal" / "resources") == 0o755
    assert os.readlink(opt / "_internal" / "libQt6Core.so.6") == "libQt6Core.so.6.11.3"
    assert os.readlink(dpkg.path("/usr/bin/tbdesktop")) == "/opt/TherapyBridge/tbdesktop"
    assert (opt / "_internal" / "only-in-v1.txt").is_file()
    assert dpkg.path("/var/lib/TherapyBridge/models").is_dir()
    assert dpkg.dpkg("--verify", "therapybridge").stdout == "", "md5sums match the installed files"
    if IS_ROOT:
        assert all(p.lstat().st_uid == 0 and p.lstat().st_gid == 0 for p in opt.rglob("*"))

    dpkg.dpkg("-i", str(new.path))
    assert dpkg.state() == f"{V2} install ok installed"
    assert not (opt / "_internal" / "only-in-v1.txt").exists(), "a file the new version dropped is removed"
    assert dpkg.dpkg("--verify", "therapybridge").stdout == ""

    files = [p for p in dpkg.listed() if not dpkg.path(p).is_dir() or dpkg.path(p).is_symlink()]
    dpkg.dpkg("-r", "therapybridge")
    assert dpkg.state() == f"{V2} deinstall ok config-files"
    assert not [p for p in files if os.path.lexists(dpkg.path(p))]
    assert not opt.exists() and not dpkg.path("/opt").exists()
    assert dpkg.path("/var/lib/TherapyBridge/models").is_dir(), "remove keeps the model folder"

    dpkg.dpkg("-P", "therapybridge")
    assert dpkg.state() is None
    assert not dpkg.path("/var/lib/TherapyBridge").exists(), "purge removes the empty model folder"
    assert (_tree_digest(home), _tree_digest(etc)) == kept, "user data and the policy file are untouched"


# -- the real bundle (slow) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Debs:
    bundle_dir: Path
    out_dir: Path
    first: Path
    deb: ModuleType

    def second(self) -> Path:
        """The same bundle re-packed as the next version (made once, on first use)."""
        path = self.out_dir / self.deb.deb_name(V2, self.deb.architecture())
        if not path.is_file():
            self.deb.build_deb(self.bundle_dir, self.out_dir, version=V2)
        return path


@pytest.fixture(scope="module")
def debs(deb_module: ModuleType, build_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Debs]:
    """The bundle (rebuilt only when stale, held against concurrent rebuilds), packaged once as V1."""
    _require("dpkg", "dpkg-deb", "dpkg-query")
    try:
        result, lease = build_module.build_and_lease(quiet=True)
    except build_module.BuildError as exc:
        pytest.fail(f"the bundle did not build: {exc}")
    out_dir = tmp_path_factory.mktemp("debs")
    with lease:
        first = deb_module.build_deb(result.bundle_dir, out_dir, version=V1)
        yield Debs(result.bundle_dir, out_dir, first.path, deb_module)


def _contents(deb: Path) -> dict[str, tuple[str, str, str]]:
    """dpkg-deb --contents as {path: (mode string, owner/group, link target)}."""
    proc = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        perms, owner, _size, _date, _time, rest = line.split(maxsplit=5)
        path, _, target = rest.partition(" -> ")
        out[path] = (perms, owner, target)
    return out


@pytest.mark.slow
def test_deb_fields_and_contents(debs: Debs) -> None:
    fields = ("Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Description")
    proc = subprocess.run(["dpkg-deb", "--field", str(debs.first), *fields], capture_output=True, text=True, check=True)
    control = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line and line[0] != " ")
    assert control["Package"] == "therapybridge"
    assert control["Version"] == V1
    assert control["Architecture"] == debs.deb.architecture()
    assert control["Depends"] == ", ".join(debs.deb.DEPENDS)
    assert "libportaudio2" in control["Depends"] and "libxcb-cursor0" in control["Depends"]
    assert control["Maintainer"] and control["Description"]
    bundle_kib = sum(p.stat().st_size for p in debs.bundle_dir.rglob("*") if p.is_file() and not p.is_symlink())
    assert int(control["Installed-Size"]) >= bundle_kib // 1024

    members = subprocess.run(["ar", "t", str(debs.first)], capture_output=True, text=True, check=True).stdout.split()
    assert members == ["debian-binary", "control.tar.zst", "data.tar.zst"]

    contents = _contents(debs.first)
    expected_opt = {"./opt/TherapyBridge/"}
    for path in debs.bundle_dir.rglob("*"):
        rel = "./opt/TherapyBridge/" + path.relative_to(debs.bundle_dir).as_posix()
        expected_opt.add(rel + "/" if path.is_dir() and not path.is_symlink() else rel)
    assert set(contents) == EXTRAS | expected_opt, "no file outside the expected ones"
    for path, (perms, owner, target) in contents.items():
        assert owner == "root/root", path
        if path.endswith("/"):
            assert perms == "drwxr-xr-x", path
        elif perms.startswith("l"):
            assert target, path
        else:
            assert perms in ("-rw-r--r--", "-rwxr-xr-x"), f"{path} is {perms}"
    assert contents["./opt/TherapyBridge/tbdesktop"][0] == "-rwxr-xr-x"
    assert contents["./opt/TherapyBridge/TherapyBridge"][0] == "-rwxr-xr-x"
    assert contents["./usr/bin/tbdesktop"][2] == "/opt/TherapyBridge/tbdesktop"

    control_dir = debs.out_dir / "control"
    subprocess.run(["dpkg-deb", "--control", str(debs.first), str(control_dir)], check=True)
    assert sorted(p.name for p in control_dir.iterdir()) == ["control", "md5sums", "postinst", "postrm"]
    for script in ("postinst", "postrm"):
        assert _mode(control_dir / script) == 0o755
        assert (control_dir / script).read_bytes() == (TEMPLATES / script).read_bytes()
    lines = (control_dir / "md5sums").read_text(encoding="utf-8").splitlines()
    sums = {path: digest for digest, path in (line.split("  ", 1) for line in lines)}
    files = {p[2:] for p, (perms, _o, _t) in contents.items() if perms.startswith("-")}
    assert set(sums) == files
    exe = debs.bundle_dir / "tbdesktop"
    assert sums["opt/TherapyBridge/tbdesktop"] == hashlib.md5(exe.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def session_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """The two-voice espeak-ng session the bundle tests use, and words a correct transcript contains."""
    fixtures = _load("tb_make_fixtures_deb", REPO_ROOT / "scripts" / "make_fixtures.py")
    wav, _turns = fixtures.make_two_speaker_session(tmp_path_factory.mktemp("deb_audio"))
    return Path(wav), tuple(fixtures.KEYWORDS)


@pytest.mark.slow
def test_unpacked_package_runs(
    debs: Debs, session_audio: tuple[Path, tuple[str, ...]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The installed files work: selftest from /opt/TherapyBridge, and `process` through a /usr/bin-style link."""
    root = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["dpkg-deb", "-x", str(debs.first), str(root)], check=True)
    installed = root / "opt" / "TherapyBridge"
    scratch = tmp_path_factory.mktemp("unpacked-run")
    env = _clean_env(scratch)
    env["TB_MODEL_DIR"] = str(scratch / "models")
    frozen = Frozen(installed, installed / "tbdesktop", installed / "TherapyBridge", scratch, env)

    data = frozen.run_json("selftest", "--data-dir", str(scratch / "selftest-data"))
    checks = {c["check"]: c for c in data["checks"]}
    for name in ("engine", "database", "model", "speaker model", "secret store"):
        assert checks[name]["ok"], f"selftest check {name} failed: {checks[name]['detail']}"
    assert data["ok"] is True
    # the installed release says which it is (what IT checks before and after an upgrade)
    version = frozen.run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"TherapyBridge Desktop {debs.deb.project_version()}"

    # /usr/bin/tbdesktop is a link to the installed console executable: the bootloader must find _internal/.
    link = os.readlink(root / "usr" / "bin" / "tbdesktop")
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    (bin_dir / "tbdesktop").symlink_to(root / link.lstrip("/"))
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    wav, keywords = session_audio
    proc = subprocess.run(
        ["tbdesktop", "process", str(wav), "--language", "en", "--data-dir", str(scratch / "data"), "--json"],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    _assert_heard(" ".join(seg["text"] for seg in result["segments"]), keywords)
    assert [s["role"] for s in result["speakers"]] == ["therapist", "client"]


@pytest.mark.slow
def test_install_upgrade_remove_purge(debs: Debs, tmp_path_factory: pytest.TempPathFactory) -> None:
    dpkg = DpkgRoot.create(tmp_path_factory.mktemp("dpkgroot"))
    home, etc = _user_data(dpkg.root)
    kept = _tree_digest(home), _tree_digest(etc)

    dpkg.dpkg("-i", str(debs.first))
    assert dpkg.state() == f"{V1} install ok installed"
    opt = dpkg.path("/opt/TherapyBridge")
    assert os.access(opt / "tbdesktop", os.X_OK) and os.access(opt / "TherapyBridge", os.X_OK)
    assert (opt / "_internal" / "resources" / "licenses").is_dir()
    assert os.readlink(dpkg.path("/usr/bin/tbdesktop")) == "/opt/TherapyBridge/tbdesktop"
    entry = dpkg.path("/usr/share/applications/therapybridge.desktop")
    assert "Exec=/opt/TherapyBridge/TherapyBridge\n" in entry.read_text(encoding="utf-8")
    if shutil.which("desktop-file-validate"):
        validated = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, check=False)
        assert validated.returncode == 0, validated.stdout
    assert dpkg.path("/usr/share/icons/hicolor/256x256/apps/therapybridge.png").is_file()
    assert dpkg.path("/usr/share/icons/hicolor/scalable/apps/therapybridge.svg").is_file()
    assert json.loads(dpkg.path("/usr/share/doc/therapybridge/policy.example.json").read_text(encoding="utf-8"))
    models = dpkg.path("/var/lib/TherapyBridge/models")
    assert models.is_dir() and _mode(models) == 0o755
    writable = [p for p in opt.rglob("*") if not p.is_symlink() and _mode(p) & 0o022]
    assert not writable, f"writable by users: {writable[:5]}"
    if IS_ROOT:
        assert opt.stat().st_uid == 0 and (opt / "tbdesktop").stat().st_uid == 0 and models.stat().st_uid == 0
    assert dpkg.dpkg("--verify", "therapybridge").stdout == ""

    pack = models / "faster-whisper-large-v3" / "model.bin"  # a model pack IT added
    pack.parent.mkdir()
    pack.write_bytes(b"weights")
    before = (opt / "tbdesktop").stat().st_ino
    dpkg.dpkg("-i", str(debs.second()))
    assert dpkg.state() == f"{V2} install ok installed"
    assert (opt / "tbdesktop").stat().st_ino != before, "the upgrade replaced the installed files"
    assert dpkg.dpkg("--verify", "therapybridge").stdout == ""
    assert pack.read_bytes() == b"weights"
    assert (_tree_digest(home), _tree_digest(etc)) == kept

    files = [p for p in dpkg.listed() if not dpkg.path(p).is_dir() or dpkg.path(p).is_symlink()]
    assert len(files) > 500
    dpkg.dpkg("-r", "therapybridge")
    assert dpkg.state() == f"{V2} deinstall ok config-files"
    assert not [p for p in files if os.path.lexists(dpkg.path(p))], "every file of the package is gone"
    assert not opt.exists()
    assert pack.read_bytes() == b"weights"

    purged = dpkg.dpkg("-P", "therapybridge")
    assert dpkg.state() is None
    assert pack.read_bytes() == b"weights", "purge keeps model packs"
    assert "model packs kept in /var/lib/TherapyBridge/models" in purged.stdout + purged.stderr
    assert (_tree_digest(home), _tree_digest(etc)) == kept, "user data and the policy file are untouched"


def test_guide_and_deb_packaging_do_not_make_the_bundle_stale(build_module: ModuleType, tmp_path: Path) -> None:
    """Editing the IT guide or the Debian packaging re-makes only the .deb, never the ~1 GiB bundle."""
    now = time.time()
    for rel in ("tbdesktop/cli.py", "alembic/env.py", "resources/style.qss", "packaging/tbdesktop.spec", "main.py"):
        _touch(tmp_path / rel, now - 100)
    _touch(tmp_path / "pyproject.toml", now - 100)
    suffix = build_module.EXE_SUFFIX
    for exe in ("tbdesktop", "TherapyBridge"):
        _touch(tmp_path / "dist" / "TherapyBridge" / f"{exe}{suffix}", now - 50)
    assert build_module.is_fresh(tmp_path)
    for rel in ("packaging/INSTALL.md", "packaging/deb.py", "packaging/debian/postinst"):
        _touch(tmp_path / rel, now)
        assert build_module.is_fresh(tmp_path), f"{rel} is not in the bundle"
    _touch(tmp_path / "packaging" / "hooks" / "hook-new.py", now)
    assert not build_module.is_fresh(tmp_path), "a PyInstaller hook is part of the build"


def _touch(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    os.utime(path, (mtime, mtime))
