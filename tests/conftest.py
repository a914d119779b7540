"""Shared test fixtures: generated speech, the offline model cache, SQLite and PostgreSQL databases."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from memory_keyring import MemoryKeyring
from pg_cluster import clinic_cluster  # noqa: F401  (a private PostgreSQL cluster)
from polling import until

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO_ROOT / ".cache"
MODEL_CACHE = CACHE_ROOT / "model-cache"
ARTIFACTS = REPO_ROOT / "test-artifacts"
PG_ADMIN_URL = os.environ.get("TB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Set before any test imports Qt or spawns a worker: headless Qt, offline models, one shared model cache.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TB_CACHE_DIR"] = str(MODEL_CACHE)
# Machine-wide model packs: none, unless a test registers some in its own folder.
os.environ["TB_MODEL_DIR"] = str(CACHE_ROOT / "no-model-packs")
for _key in (
    "TB_DATA_DIR",
    "TB_DATABASE_URL",
    "TB_USER",
    "TB_PASSCODE",
    "TB_NEW_PASSCODE",
    "TB_SECRET_STORE",
    "TB_POLICY_FILE",
):
    os.environ.pop(_key, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The app's own processes started by tests read the machine's policy file: on a machine that has one, the
    tests would check that clinic's settings instead of their own."""
    from tbdesktop.policy import machine_policy_file

    if machine_policy_file().exists():
        pytest.exit(f"{machine_policy_file()} exists: run the tests on a machine without a clinic policy.", 1)


@pytest.fixture(autouse=True)
def no_machine_policy(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The machine-wide policy file is looked for in a test folder (absent unless a test writes it), never in the
    real /etc/TherapyBridge."""
    # a folder of this test's own, made only if the test writes a policy: one test's policy never reaches another
    path = tmp_path_factory.getbasetemp() / "machine" / uuid.uuid4().hex / "TherapyBridge" / "policy.json"
    monkeypatch.setattr("tbdesktop.policy.machine_policy_file", lambda: path)
    return path


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[Any]:
    """A fresh in-memory keyring for every test (secrets never leak from one test to the next)."""
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring.backend()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tb_{name}", REPO_ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the script look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def audio_files() -> dict[str, Path]:
    """Generated fixtures (cached under .cache/fixtures): the two-voice session and edge cases."""
    return dict(_load_script("make_fixtures").make_all(CACHE_ROOT / "fixtures"))


@pytest.fixture(scope="session")
def two_speaker() -> tuple[Path, list[dict[str, Any]], tuple[str, ...]]:
    module = _load_script("make_fixtures")
    wav, turns = module.make_two_speaker_session(CACHE_ROOT / "fixtures")
    return wav, turns, tuple(module.KEYWORDS)


@pytest.fixture(scope="session")
def two_microphone_session(two_speaker: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-voice fixture as if each person wore a microphone: a two-channel file, each voice loud on its own
    channel (the therapist's on channel 0) and faint (about -24 dB) on the other."""
    import wave

    import numpy as np

    wav, turns, _ = two_speaker
    with wave.open(str(wav), "rb") as f:
        rate = f.getframerate()
        mono = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).astype(np.float32)
    therapist = np.zeros(mono.shape, dtype=bool)
    for turn in turns:
        if turn["speaker"] == "THERAPIST":
            therapist[int(turn["start"] * rate) : int(turn["end"] * rate)] = True
    near, far = 1.0, 0.06
    stereo = np.stack([mono * np.where(therapist, near, far), mono * np.where(therapist, far, near)], axis=1)
    out = tmp_path_factory.mktemp("two_microphones") / "session_two_microphones.wav"
    with wave.open(str(out), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(stereo.clip(-32768, 32767).astype(np.int16).tobytes())
    return out


@pytest.fixture(scope="session")
def model_cache() -> Path:
    from tbdesktop.engine.models import resolve_model

    resolve_model("base", MODEL_CACHE)
    return MODEL_CACHE


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ARTIFACTS
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- databases ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server, started when it is not running."""
    from sqlalchemy import create_engine, text

    def ping() -> bool:
        try:
            engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            return True
        except Exception:
            return False

    if not ping():
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "ensure-postgres.sh")], check=False)
    assert ping(), "PostgreSQL is not reachable at 127.0.0.1:5432"
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    from sqlalchemy import create_engine, text

    name = f"tbtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'db' / 'tbdesktop.sqlite3').as_posix()}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs a test on both databases."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


# -- application context ------------------------------------------------------------------------------------


@pytest.fixture
def make_settings(tmp_path: Path) -> Any:
    from tbdesktop.config import Settings

    def factory(database_url: str = "", **overrides: Any) -> Settings:
        return Settings(
            data_dir=overrides.pop("data_dir", tmp_path / "data"),
            secrets_dir=overrides.pop("secrets_dir", tmp_path / "secrets"),
            model_dir=overrides.pop("model_dir", tmp_path / "model-packs"),
            cache_dir=MODEL_CACHE,
            database_url=database_url,
            **overrides,
        )

    return factory


@pytest.fixture
def ctx(make_settings: Any) -> Iterator[Any]:
    """An opened (migrated) app context on a fresh SQLite database."""
    from tbdesktop.services.context import AppContext

    context = AppContext.open(make_settings())
    yield context
    context.close()


@pytest.fixture
def therapist(ctx: Any) -> Any:
    from tbdesktop.services.profiles import ProfileService

    return ProfileService(ctx).create_profile_sync("Dana Reyes", "dana@example.org")


# -- audio ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pulse_null_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio server with a null sink "virt" (no sound card needed): what ``paplay --device=virt`` plays
    is recorded from its monitor through the ALSA ``pulse`` device. Yields the client environment to set."""
    import shutil

    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "system-deps.sh"), "test"], check=False)
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        pytest.fail(
            "PulseAudio (pulseaudio, paplay) is not installed and could not be: run `make test-deps` "
            "(scripts/system-deps.sh test installs the pulseaudio and pulseaudio-utils packages)."
        )
    home = tmp_path_factory.mktemp("pulse")
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    socket = runtime / "native"
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    server_env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    started = subprocess.run(
        [
            "pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "--load=module-null-sink sink_name=virt",
            "--load=module-always-sink",
        ],
        env=server_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    client = {"PULSE_SERVER": f"unix:{socket}", "PULSE_SOURCE": "virt.monitor", "PULSE_SINK": "virt"}
    client_env = dict(os.environ, **client)
    until(
        lambda: subprocess.run(["pactl", "info"], env=client_env, capture_output=True).returncode == 0,
        20,
        "PulseAudio to start",
        interval=0.2,
    )
    try:
        yield client
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=server_env, capture_output=True, timeout=60)
