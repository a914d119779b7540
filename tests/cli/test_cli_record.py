"""`tbdesktop record` as a user runs it: a real process recording from PulseAudio's null sink through the ALSA
`pulse` device, Ctrl+C, a kill and its recovery, and the real pipeline with --wait."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from polling import poll

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSCODE = "cli-passcode-1"


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path, pulse_null_sink: dict[str, str]) -> Any:
    """``tbdesktop`` run headless (passcode-encrypted keys, TB_PASSCODE), its audio from the null sink's monitor.
    ``run(...)`` waits for the command; ``run.start(...)`` returns the running process."""
    data_dir = tmp_path / "data"
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"
    env = dict(
        os.environ,
        TB_CACHE_DIR=str(model_cache),
        TB_SECRETS_DIR=str(tmp_path / "secrets"),
        TB_PASSCODE=PASSCODE,
        **pulse_null_sink,
    )

    def start(*args: str, extra: dict[str, str] | None = None, sigint_ignored: bool = False) -> subprocess.Popen[str]:
        """``sigint_ignored``: started as a shell starts a background job (SIGINT ignored from the outset)."""
        return subprocess.Popen(
            [script, "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**env, **(extra or {})},
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,  # noqa: PLW1509
        )

    def run(*args: str, check: bool = True, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = start(*args, extra=extra)
        out, err = proc.communicate(timeout=300)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check:
            assert result.returncode == 0, err + out
        return result

    run.start = start  # type: ignore[attr-defined]
    run.data_dir = data_dir  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run


def _journals(data_dir: Path) -> list[Path]:
    folder = data_dir / "recordings" / "in-progress"
    return sorted(folder.glob("*.tbj")) if folder.is_dir() else []


def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
    assert poll(check, timeout), "timed out"


def _journal_audio_s(path: Path) -> float:
    """Seconds of audio in the journal's whole records on disk, read from their lengths (nothing is decrypted)."""
    from tbdesktop.services.recording.journal import RECORD_HEAD, TAG, JournalHeader, Kind

    header = JournalHeader.read(path)
    data = path.read_bytes()
    offset, frames = header.size, 0
    while offset + RECORD_HEAD.size <= len(data):
        length, kind = RECORD_HEAD.unpack_from(data, offset)
        offset += RECORD_HEAD.size + length
        if offset > len(data):
            break  # being written
        if kind == Kind.AUDIO:
            frames += (length - TAG) // header.frame_bytes
    return frames / header.sample_rate


def _recorded(cli: Any, proc: subprocess.Popen[str], seconds: float) -> float:
    """Waits until the running recording's journal holds ``seconds`` of audio; returns how much it holds."""
    held = [0.0]

    def enough() -> bool:
        journals = _journals(cli.data_dir)
        held[0] = max((_journal_audio_s(j) for j in journals), default=0.0)
        return held[0] >= seconds or proc.poll() is not None

    _wait(enough)
    assert proc.poll() is None, proc.communicate()
    return held[0]


def _recording_started(cli: Any, proc: subprocess.Popen[str]) -> None:
    """Audio is flowing: the journal holds its first records (PulseAudio takes a moment to start a stream)."""

    def flowing() -> bool:
        return any(j.stat().st_size > 16384 for j in _journals(cli.data_dir))

    _wait(lambda: flowing() or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()


def test_record_devices_and_a_missing_device(cli: Any) -> None:
    listed = json.loads(cli("record", "devices", "--json").stdout)
    pulse = next(d for d in listed if d["name"] == "pulse")
    assert pulse["channels"] >= 1 and pulse["default_samplerate"] > 0 and {"index", "is_default"} <= set(pulse)
    assert "pulse" in cli("record", "devices").stdout

    cli("user", "add", "Dana Reyes")
    missing = cli("record", "--device", "Headset 3000", "--seconds", "1", check=False)
    assert missing.returncode == 1
    assert "error: The input device 'Headset 3000' is not connected. Input devices found:" in missing.stderr
    assert "'pulse'" in missing.stderr and _journals(cli.data_dir) == []

    waiting = cli("record", "--device", "pulse", "--seconds", "0.5", "--wait", check=False)
    assert waiting.returncode == 1 and "waits for the client's consent" in waiting.stderr
    assert "saved as session" in waiting.stdout, "the recording is kept as a session all the same"

    nothing = cli("record", "devices", extra={"PULSE_SERVER": "unix:/nonexistent/native"})
    assert "No input device found." in nothing.stdout
    none = cli(
        "record", "--seconds", "1", check=False,
        extra={"PULSE_SERVER": "unix:/nonexistent/native"},
    )  # fmt: skip
    assert none.returncode == 1 and "No microphone or other input device was found" in none.stderr


@pytest.mark.slow
def test_record_wait_json_transcribes_what_was_played(cli: Any, two_speaker: Any) -> None:
    wav, _, keywords = two_speaker
    with wave.open(str(wav), "rb") as w:
        length = w.getnframes() / w.getframerate()
    seconds = round(length + 2.0, 1)
    cli("user", "add", "Dana Reyes")
    proc = cli.start(
        "record", "--device", "pulse", "--seconds", str(seconds), "--client", "Alex Kim",
        "--consent", "verbal", "--wait", "--json",
    )  # fmt: skip
    _recording_started(cli, proc)
    played = subprocess.run(["paplay", "--device=virt", str(wav)], env=cli.env, capture_output=True, timeout=120)
    assert played.returncode == 0, played.stderr
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err + out
    data = json.loads(out)
    assert data["status"] == "completed" and data["client_name"] == "Alex Kim" and data["consent_method"] == "verbal"
    assert data["recording"]["duration_s"] == pytest.approx(seconds, abs=0.01)
    assert data["recording"]["device"] == "pulse" and data["recording"]["interrupted"] is False
    assert "level" not in err, "--json prints no progress"

    segments = json.loads(cli("session", "transcript", data["id"], "--json").stdout)
    said = " ".join(s["text"] for s in segments).lower()
    found = [k for k in keywords if k in said]
    assert len(found) >= len(keywords) * 0.7, (found, said)
    assert _journals(cli.data_dir) == []


def test_ctrl_c_keeps_the_audio_and_a_killed_recording_is_recovered(cli: Any) -> None:
    cli("user", "add", "Dana Reyes")

    started = time.monotonic()
    # started as a background job of a shell is (SIGINT ignored from the outset): its signal still stops it
    proc = cli.start(
        "record", "--device", "pulse", "--client", "Jordan Example", "--consent", "written", sigint_ignored=True
    )
    _recording_started(cli, proc)
    _recorded(cli, proc, 2.5)  # 2.5 s on disk: more than 2 s even kept to the hundredth of a minute
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    ran_s = time.monotonic() - started
    assert proc.returncode == 0, err + out
    assert "Recording from 'pulse'" in err and "level" in err and "dBFS" in err, "progress on stderr"
    assert "saved as session" in out
    sessions = json.loads(cli("session", "list", "--json").stdout)
    assert len(sessions) == 1 and sessions[0]["client_name"] == "Jordan Example"
    assert 2.0 / 60 <= sessions[0]["duration_mins"], "the audio up to Ctrl+C is kept"
    assert sessions[0]["duration_mins"] <= (ran_s + 0.3) / 60, "and nothing after it: no more than the process ran"

    killed = cli.start("record", "--device", "pulse", "--client", "Sam Lee")
    _recording_started(cli, killed)
    on_disk = _recorded(cli, killed, 2.0)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    listed = json.loads(cli("record", "recover", "--list", "--json").stdout)
    assert len(listed) == 1 and listed[0]["client_name"] == "Sam Lee"
    assert listed[0]["duration_s"] >= on_disk >= 2.0, "every record written before the kill is recovered"
    assert "Sam Lee" in cli("record", "recover", "--list").stdout
    recovered = json.loads(cli("record", "recover", "--consent", "verbal", "--json").stdout)
    assert [r["recording"]["id"] for r in recovered] == [listed[0]["id"]]
    session = recovered[0]["session"]
    assert session["client_name"] == "Sam Lee" and session["consent_method"] == "verbal"
    assert session["status"] == "queued"
    assert session["duration_mins"] == pytest.approx(listed[0]["duration_s"] / 60, abs=0.006)  # kept in 1/100 min
    assert json.loads(cli("record", "recover", "--list", "--json").stdout) == []

    again = cli.start("record", "--device", "pulse")
    _recording_started(cli, again)
    _recorded(cli, again, 1.0)
    again.send_signal(signal.SIGKILL)
    again.communicate(timeout=60)
    (left,) = json.loads(cli("record", "recover", "--list", "--json").stdout)
    refused = cli("record", "recover", "--discard", left["id"], check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    cli("record", "recover", "--discard", left["id"], "--yes")
    assert json.loads(cli("record", "recover", "--list", "--json").stdout) == []
    assert len(json.loads(cli("session", "list", "--json").stdout)) == 2
