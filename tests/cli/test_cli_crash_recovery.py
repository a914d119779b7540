"""The command line killed at each stage of an import (copy, decoding, transcription, notes), then started again:
nothing of the recording is left in plain form anywhere, no orphan file stays, no listing shows work that nothing
does, and the resumed job completes once with its worker's retry intact. Real processes, real model, real audio."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from polling import poll

from tbdesktop.config import Settings
from tbdesktop.engine.scratch import SHM
from tbdesktop.services.context import AppContext
from tbdesktop.store.models import ProcessingJob

pytestmark = pytest.mark.slow

PASSCODE = "crash-passcode-1"
PROGRESSING = {"preprocessing", "transcribing", "diarizing", "generating_notes"}


def _repeat(src: Path, dest: Path, times: int, *, rate: int | None = None, channels: int | None = None) -> Path:
    with wave.open(str(src), "rb") as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(channels or params.nchannels)
        out.setsampwidth(params.sampwidth)
        out.setframerate(rate or params.framerate)
        if channels and channels != params.nchannels:  # the same voices on every channel
            width = params.sampwidth
            frames = b"".join(frames[i : i + width] * channels for i in range(0, len(frames), width))
        for _ in range(times):
            out.writeframes(frames)
    return dest


class Cli:
    def __init__(self, tmp: Path, model_cache: Path) -> None:
        self.data_dir = tmp / "data"
        self.secrets_dir = tmp / "secrets"
        script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
        assert script, "the console script `tbdesktop` is not installed in the venv"
        self.script = script
        self.env = dict(
            os.environ,
            TB_CACHE_DIR=str(model_cache),
            TB_SECRETS_DIR=str(self.secrets_dir),
            TB_PASSCODE=PASSCODE,
            TB_SECRET_STORE="file",
        )

    def run(self, *args: str) -> Any:
        result = subprocess.run(
            [self.script, "--data-dir", str(self.data_dir), *args, "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.script, "--data-dir", str(self.data_dir), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir, cache_dir=Path(self.env["TB_CACHE_DIR"]), secrets_dir=self.secrets_dir,
            secret_store="file",
        )  # fmt: skip


def percent(line: str) -> int:
    """The overall figure of a progress line ("Transcribing and identifying speakers… 35% (about 7 s left)")."""
    return int(next(word for word in line.split() if word.endswith("%")).rstrip("%"))


def kill_when(proc: subprocess.Popen[str], seen: Callable[[str], bool], what: str, timeout: float = 300) -> None:
    """Read the command's progress lines (stderr) and SIGKILL it — the command alone, as a crash would — at the
    first line ``seen`` accepts."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if not ready:
            assert proc.poll() is None, f"the command ended before {what}: {lines[-5:]}"
            continue
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"the command ended before {what}: {lines[-5:]}")
        lines.append(line.strip())
        if seen(line):
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return
    raise AssertionError(f"no {what} within {timeout:g} s: {lines[-5:]}")


def plaintext_left(data_dir: Path, sources: list[Path], pids: list[int]) -> list[str]:
    """Files that hold a piece of a source recording in plain form: in the killed commands' folders on the
    memory-backed and temporary storage, any decoded audio shared with engine workers, the data folder. (Other
    processes on this machine may hold copies of their own meanwhile: only ours are looked at.)"""
    pieces = []
    for src in sources:
        with wave.open(str(src), "rb") as w:
            w.setpos(w.getnframes() // 3)
            pieces.append(w.readframes(2048))
    uid = os.getuid()
    folders = [root / f"tbdesktop-{uid}" / f"p{pid}" for root in (SHM, Path(tempfile.gettempdir())) for pid in pids]
    shared = [p for p in SHM.glob("tb-audio-*") if not os.path.exists(f"/proc/{p.name.split('-')[2]}")]  # dead's
    candidates = [*(p for f in folders for p in f.rglob("*")), *shared, *data_dir.rglob("*")]
    found = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            content = path.read_bytes()
        except OSError:
            continue
        if path.name.endswith(".f32") or any(piece in content for piece in pieces):
            found.append(str(path))
    return found


def assert_nothing_left(cli: Cli, sources: list[Path], killed: list[int]) -> list[dict[str, Any]]:
    """A new command starts: what the dead one left is gone and the list shows no work in progress."""
    listed = cli.run("session", "list")
    assert not [s for s in listed if s["status"] in PROGRESSING], "a list shows work that no process does"
    assert plaintext_left(cli.data_dir, sources, killed) == []
    recordings = cli.data_dir / "recordings"
    assert sorted(p.name for p in recordings.glob("*.part")) == []
    assert len([p for p in recordings.iterdir() if p.is_file()]) == len(listed)  # no orphan recording
    uid = os.getuid()
    for root in (SHM, Path(tempfile.gettempdir())):
        assert not any((root / f"tbdesktop-{uid}" / f"p{pid}").exists() for pid in killed)
    return list(listed)


def job_of(cli: Cli, session_id: str) -> ProcessingJob:
    from sqlalchemy import select as sql_select

    ctx = AppContext.open(cli.settings(), credentials=lambda profiles: (profiles[0].id, PASSCODE))
    try:
        with ctx.db.unit_of_work() as s:
            query = sql_select(ProcessingJob).where(ProcessingJob.session_id == uuid.UUID(session_id))
            job = s.scalars(query).one()
            s.expunge(job)
            return job
    finally:
        ctx.close()


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path) -> Cli:
    runner = Cli(tmp_path, model_cache)
    runner.run("user", "add", "Robin Vale")
    return runner


def test_killed_at_each_stage_then_started_again(cli: Cli, two_speaker: Any, tmp_path: Path) -> None:
    sources = [two_speaker[0]]

    # 1. During the encrypted copy into the data folder: a large recording, killed once its partial copy appears.
    big = _repeat(two_speaker[0], tmp_path / "long.wav", 150, rate=48_000, channels=2)  # 250 MB to copy
    proc = cli.start("session", "import", str(big), "--consent", "verbal", "--wait")
    recordings = cli.data_dir / "recordings"

    def copying_or_ended() -> bool:
        return proc.poll() is not None or (recordings.is_dir() and any(recordings.glob("*.part")))

    assert poll(copying_or_ended, 120), "no partial copy appeared"
    if proc.poll() is None:  # still running: its partial copy is there
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the copy ended before it could be interrupted"
    assert any(recordings.glob("*.part")), "the interrupted copy is there until the next start"
    killed = [proc.pid]
    assert assert_nothing_left(cli, sources, killed) == []  # the next start removed it, and no session was made

    # 2–4. During decoding, transcription and note writing: each killed, then resumed by the next command.
    stages: list[tuple[str, Callable[[str], bool]]] = [
        ("decoding", lambda line: line.startswith("Preparing audio")),
        ("transcription", lambda line: line.startswith("Transcribing") and percent(line) >= 30),
        ("note writing", lambda line: line.startswith("Writing notes")),
    ]
    done: list[str] = []
    for n, (what, seen) in enumerate(stages):
        audio = _repeat(two_speaker[0], tmp_path / f"session-{n}.wav", 5 + n)  # about two minutes, each its own
        proc = cli.start("session", "import", str(audio), "--consent", "verbal", "--wait")
        kill_when(proc, seen, what)
        killed.append(proc.pid)
        listed = assert_nothing_left(cli, sources, killed)
        waiting = [s for s in listed if s["id"] not in done]
        assert len(waiting) == 1 and waiting[0]["status"] == "queued", (what, waiting)
        session_id = waiting[0]["id"]

        final = cli.run("session", "status", session_id, "--wait")
        assert final["status"] == "completed", (what, final)
        job = job_of(cli, session_id)
        # the command dying is not the job failing: the worker's one retry is still there
        assert job.status == "completed" and job.attempts == 1 and job.params.get("interrupted") == 1, what
        done.append(session_id)
        assert assert_nothing_left(cli, sources, killed) and plaintext_left(cli.data_dir, [audio], killed) == []

    listed = cli.run("session", "list")
    assert sorted(s["id"] for s in listed) == sorted(done)
    assert all(s["status"] == "completed" for s in listed)
    for session_id in done:
        assert cli.run("session", "transcript", session_id), "one transcript each"
