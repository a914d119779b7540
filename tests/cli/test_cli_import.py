"""`tbdesktop session import A B C …` and `--folder DIR`: one line per file (its session id, or why not), a JSON
list, every file tried, exit code 1 when any failed; a single file reads as before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from import_audio import write_m4a, write_not_audio, write_tone

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSCODE = "cli-passcode-1"


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """``tbdesktop`` as a headless user runs it, with its own data folder and passcode-encrypted secrets."""
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, TB_SECRETS_DIR=str(tmp_path / "secrets"), TB_PASSCODE=PASSCODE)
        result = subprocess.run(
            [script, "--data-dir", str(tmp_path / "data"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    run("user", "add", "Dr. Sam Rivera")
    return run


def _set_mtime(path: Path, day: date) -> None:
    moment = datetime(day.year, day.month, day.day, 12, 0).timestamp()
    os.utime(path, (moment, moment))


def test_several_files_one_line_each_and_exit_code(cli: Any, tmp_path: Path) -> None:
    good = write_tone(tmp_path / "in" / "2026-11-03_14-30 first.wav", 440)
    bad = write_not_audio(tmp_path / "in" / "broken.mp3")
    other = write_m4a(tmp_path / "in" / "phone.m4a", 520, "2026-10-21T09:00:00Z")
    plain = write_tone(tmp_path / "in" / "plain.wav", 610)
    _set_mtime(plain, date(2026, 9, 30))

    out = cli("session", "import", str(good), str(bad), str(other), str(plain), "--client", "Alex Kim",
              "--consent", "verbal", check=False)  # fmt: skip
    assert out.returncode == 1, out.stderr  # one file failed
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("2026-11-03_14-30 first.wav  queued")
    assert lines[1].startswith("failed  broken.mp3: ") and "Traceback" not in out.stderr
    assert lines[2].endswith("phone.m4a  queued") and lines[3].endswith("plain.wav  queued")
    assert "3 imported, 1 failed, 0 skipped" in out.stderr

    sessions = json.loads(cli("session", "list", "--json").stdout)
    by_id = {s["id"]: s for s in sessions}
    assert set(by_id) == {lines[i].split()[0] for i in (0, 2, 3)}
    dates = {by_id[lines[i].split()[0]]["session_date"] for i in (0, 2, 3)}
    assert dates == {"2026-11-03", "2026-10-21", "2026-09-30"}  # file name, metadata, modification day
    assert {s["client_name"] for s in sessions} == {"Alex Kim"}
    assert {s["consent_method"] for s in sessions} == {"verbal"}


def test_folder_json_duplicates_and_date_option(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "week"
    write_tone(folder / "a.wav", 300)
    write_tone(folder / "b.flac.wav", 310)
    (folder / "notes.txt").write_text("not a recording")
    write_tone(folder / "later" / "c.wav", 320)

    first = cli("session", "import", "--folder", str(folder), "--json", "--date", "2026-11-30")
    listed = json.loads(first.stdout)
    assert [(Path(r["file"]).name, r["status"]) for r in listed] == [("a.wav", "imported"), ("b.flac.wav", "imported")]
    assert all(r["session"]["session_date"] == "2026-11-30" for r in listed)
    assert all(r["id"] == r["session"]["id"] for r in listed)

    # Again, with the subfolder: the two imported before are skipped (not failures), the new one is imported.
    again = cli("session", "import", "--folder", str(folder), "--recursive", "--json")
    rows = json.loads(again.stdout)
    assert [(Path(r["file"]).name, r["status"]) for r in rows] == [
        ("a.wav", "skipped"),
        ("b.flac.wav", "skipped"),
        ("c.wav", "imported"),
    ]
    assert rows[0]["existing_id"] == listed[0]["id"] and "imported before" in rows[0]["error"]
    assert len(json.loads(cli("session", "list", "--json").stdout)) == 3

    forced = cli("session", "import", str(folder / "a.wav"), str(folder / "later" / "c.wav"), "--allow-duplicate")
    assert [line.split()[-1] for line in forced.stdout.splitlines()] == ["queued", "queued"]
    assert len(json.loads(cli("session", "list", "--json").stdout)) == 5


def test_single_file_and_bad_input(cli: Any, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "one.wav", 700)
    single = cli("session", "import", str(wav))
    assert single.stdout.startswith("Imported session ") and len(single.stdout.splitlines()) == 2
    again = cli("session", "import", str(wav), check=False)  # one file: a duplicate is an error, as before
    assert again.returncode == 1 and "imported before" in again.stderr and "--allow-duplicate" in again.stderr

    nothing = cli("session", "import", check=False)
    assert nothing.returncode == 1 and "--folder" in nothing.stderr and "Traceback" not in nothing.stderr
    lonely = cli("session", "import", str(wav), "--recursive", check=False)
    assert lonely.returncode == 1 and "--recursive goes with --folder" in lonely.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = cli("session", "import", "--folder", str(empty), check=False)
    assert none.returncode == 1 and "holds no audio or video files" in none.stderr
    missing = cli("session", "import", "--folder", str(tmp_path / "missing"), check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    gone = cli("session", "import", str(tmp_path / "gone.wav"), str(wav), "--allow-duplicate", "--json", check=False)
    assert gone.returncode == 1
    assert [r["status"] for r in json.loads(gone.stdout)] == ["failed", "imported"]


def test_waiting_skips_sessions_that_wait_for_consent(cli: Any, tmp_path: Path) -> None:
    one = write_tone(tmp_path / "one.wav", 450)
    two = write_tone(tmp_path / "two.wav", 460)
    out = cli("session", "import", str(one), str(two), "--wait")  # no consent: nothing to process, no hang
    ids = [line.split()[0] for line in out.stdout.splitlines()]
    assert len(ids) == 2 and all(line.endswith("queued") for line in out.stdout.splitlines())
    assert all(f"{sid} waits for the client's consent" in out.stderr for sid in ids)


@pytest.mark.slow
def test_several_files_processed_with_wait(cli: Any, model_cache: Path, two_speaker: Any, tmp_path: Path) -> None:
    speech = two_speaker[0]
    bad = write_not_audio(tmp_path / "broken.wav")
    out = cli("session", "import", str(speech), str(bad), "--consent", "verbal", "--wait", "--json", check=False)
    assert out.returncode == 1, out.stderr  # the broken file failed; the recording was processed all the same
    rows = json.loads(out.stdout)
    assert [r["status"] for r in rows] == ["imported", "failed"]
    assert rows[0]["session"]["status"] == "completed" and rows[0]["session"]["duration_mins"] > 0
    transcript = cli("session", "transcript", rows[0]["id"]).stdout
    assert "No transcript" not in transcript and transcript.strip()
