"""The CLI as a user runs it: real processes, a real data folder, the real model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


PASSCODE = "cli-passcode-1"


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path) -> Any:
    """``tbdesktop`` as a headless user runs it. This machine has no OS keyring, so each profile's keys are in
    its passcode-encrypted store, opened with TB_PASSCODE (``env`` overrides it; None removes a variable)."""
    data_dir = tmp_path / "data"
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"

    def run(
        *args: str,
        use_main: bool = False,
        check: bool = True,
        env: dict[str, str | None] | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, str(REPO_ROOT / "main.py")] if use_main else [script]
        full = dict(
            os.environ, TB_CACHE_DIR=str(model_cache), TB_SECRETS_DIR=str(tmp_path / "secrets"), TB_PASSCODE=PASSCODE
        )
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        result = subprocess.run(
            [*cmd, "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=300,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    return run


def test_process_json_engine_only(cli: Any, two_speaker: Any, tmp_path: Path) -> None:
    wav, _, keywords = two_speaker
    out = cli("process", str(wav), "--json")
    data = json.loads(out.stdout)
    assert set(data) >= {"duration_s", "language", "segments", "timings"}
    assert data["language"] == "en"
    assert 20 < data["duration_s"] < 30
    seg = data["segments"][0]
    assert set(seg) >= {"start", "end", "speaker", "text", "words"}
    assert set(seg["words"][0]) >= {"start", "end", "word"}
    text = " ".join(s["text"] for s in data["segments"]).lower()
    assert sum(k in text for k in keywords) >= len(keywords) * 0.7
    assert not (tmp_path / "data" / "tbdesktop.sqlite3").exists()  # no database touched


def test_user_session_flow(cli: Any, two_speaker: Any) -> None:
    wav = two_speaker[0]
    refused = cli("session", "list", check=False)
    assert refused.returncode == 1 and "user add" in refused.stderr

    user = json.loads(cli("user", "add", "Dana Reyes", "--email", "dana@example.org", "--json").stdout)
    assert user["display_name"] == "Dana Reyes"
    assert "Dana Reyes" in cli("user", "list").stdout

    imported = json.loads(
        cli(
            "session", "import", str(wav), "--client", "Alex Kim", "--date", "2026-11-20",
            "--consent", "verbal", "--wait", "--json",
        ).stdout
    )  # fmt: skip
    sid = imported["id"]
    assert imported["status"] == "completed"
    assert imported["client_name"] == "Alex Kim"
    assert imported["session_date"] == "2026-11-20"

    listed = json.loads(cli("session", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [sid]
    assert sid in cli("session", "list").stdout

    shown = json.loads(cli("session", "show", sid, "--json").stdout)
    assert shown["client_display"] == "Alex Kim" and shown["duration_mins"] > 0
    assert "Alex Kim" in cli("session", "show", sid).stdout

    status = json.loads(cli("session", "status", sid, "--json").stdout)
    assert status["status"] == "completed" and status["progress"] == 100

    segments = json.loads(cli("session", "transcript", sid, "--json").stdout)
    assert segments and all({"start_s", "speaker", "text"} <= set(s) for s in segments)
    human = cli("session", "transcript", sid).stdout
    assert "[00:0" in human and "SPEAKER_00" in human and "sleep" in human.lower()

    # python main.py <command> is the same CLI
    assert sid in cli("session", "list", use_main=True).stdout


def test_import_without_wait_then_bad_input(cli: Any, two_speaker: Any, audio_files: dict[str, Path]) -> None:
    cli("user", "add", "T")
    out = cli("session", "import", str(two_speaker[0]))
    assert "Imported session" in out.stdout and "queued" in out.stdout
    # no consent recorded: kept, not processed, and the status says why
    sid = out.stdout.split()[2]
    status = json.loads(cli("session", "status", sid, "--json").stdout)
    assert status["status"] == "queued" and "consent" in status["stage_detail"]

    bad = cli("session", "import", str(audio_files["not_audio"]), check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr

    unknown = cli("session", "show", "not-a-session-id", check=False)
    assert unknown.returncode == 1 and "error:" in unknown.stderr

    bad_date = cli("session", "import", str(two_speaker[0]), "--date", "yesterday", check=False)
    assert bad_date.returncode == 1 and "YYYY-MM-DD" in bad_date.stderr


def test_migrate_and_selftest(cli: Any) -> None:
    assert json.loads(cli("migrate", "--json").stdout)["revision"]
    result = cli("selftest", "--json", check=False)
    data = json.loads(result.stdout)
    by_name = {c["check"]: c for c in data["checks"]}
    assert by_name["engine"]["ok"] and by_name["database"]["ok"] and by_name["model"]["ok"]
    assert "audio devices" in by_name
    cores = os.cpu_count() or 1
    expected = 1 if cores < 8 else min(cores // 4, 4)  # a CPU workstation without a GPU, as here
    assert by_name["processing"]["ok"] and by_name["processing"]["detail"].startswith(f"{expected} recording(s)")
    assert by_name["secret store"]["ok"] and "passcode-encrypted" in by_name["secret store"]["detail"]
    assert data["ok"] is True and result.returncode == 0


def test_selftest_fails_when_model_missing(cli: Any, tmp_path: Path) -> None:
    result = cli("selftest", check=False)
    assert result.returncode == 0
    env_fail = subprocess.run(
        [shutil.which("tbdesktop", path=str(Path(sys.executable).parent)) or "tbdesktop", "--data-dir",
         str(tmp_path / "d2"), "selftest", "--json"],
        capture_output=True, text=True, env=dict(os.environ, TB_ASR_MODEL="large-v3-not-installed"),
        timeout=120,
    )  # fmt: skip
    assert env_fail.returncode == 1
    checks = {c["check"]: c for c in json.loads(env_fail.stdout)["checks"]}
    assert checks["model"]["ok"] is False and "not installed" in checks["model"]["detail"]


def test_no_phi_in_logs_or_file_names(cli: Any, two_speaker: Any, tmp_path: Path) -> None:
    """An import processed end to end with every log line on: no client name or transcript word is logged."""
    import re

    cli("user", "add", "Dana Reyes")
    done = cli(
        "session", "import", str(two_speaker[0]), "--client", "Marisol Quintero", "--consent", "verbal", "--wait", "-v"
    )
    logged = done.stderr
    assert "job completed" in logged or "INFO" in logged, logged[-2000:]  # the log really was on
    session_id = done.stdout.split()[2]
    segments = json.loads(cli("session", "transcript", session_id, "--json", "-v").stdout)
    notes = cli("session", "notes", session_id, "-v")
    logged += notes.stderr
    spoken = {w.lower() for s in segments for w in re.findall(r"[A-Za-z]{6,}", s["text"])}
    assert spoken, "no transcript to check against"
    lowered = logged.lower()
    # Words the program itself writes (its messages and field names) are not leaks: "session", "seconds", … The
    # notes' word lists (risk cues, topics, clinical vocabulary) are never logged, so their words still count.
    vocabularies = {"risk_lexicon.py", "summary.py", "evidence.py", "concepts.py", "prompts.py", "openai_prompt.py"}
    source_words = {
        w.lower()
        for path in (REPO_ROOT / "tbdesktop").rglob("*.py")
        if not (path.parent.is_relative_to(REPO_ROOT / "tbdesktop" / "engine" / "notes") and path.name in vocabularies)
        for w in re.findall(r"[A-Za-z]+", path.read_text())
    }
    leaked = sorted(w for w in spoken - source_words if re.search(rf"\b{w}\b", lowered))
    assert len(spoken - source_words) >= 3, "too few transcript words left to check"
    assert leaked == [], leaked
    assert "marisol" not in lowered and "quintero" not in lowered
    names = [p.name.lower() for p in (tmp_path / "data").rglob("*")]
    assert not any("marisol" in n or "quintero" in n for n in names)
    assert not [n for n in names if n.endswith(".part") or n.endswith(".f32")]  # no temporary files left

    # The database is encrypted at rest: its files hold no transcript word and no client name (ADR 0016) …
    db_files = [p for p in (tmp_path / "data").iterdir() if p.name.startswith("tbdesktop.sqlite3")]
    assert {p.name for p in db_files} >= {"tbdesktop.sqlite3"}
    for path in db_files:
        data = path.read_bytes().lower()
        assert b"marisol" not in data and b"quintero" not in data, path.name
        assert not [w for w in spoken if w.encode() in data], path.name
    # … and a wrong or empty passcode prints none of it, with a clear message.
    for env in ({"TB_PASSCODE": "not-the-passcode"}, {"TB_PASSCODE": ""}, {"TB_PASSCODE": None}):
        refused = cli("session", "transcript", session_id, check=False, env=env)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "not right" in refused.stderr or "TB_PASSCODE" in refused.stderr, refused.stderr
        shown = (refused.stdout + refused.stderr).lower()
        assert not [w for w in spoken if w in shown] and "quintero" not in shown


def test_passcode_from_the_environment(cli: Any, tmp_path: Path) -> None:
    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.profiles import ProfileService

    no_passcode = {"TB_PASSCODE": None}
    refused = cli("user", "add", "Dana Reyes", check=False, env=no_passcode)
    assert refused.returncode == 1 and "TB_PASSCODE" in refused.stderr  # no OS keyring: a passcode is required
    cli("user", "add", "Dana Reyes", env={"TB_PASSCODE": "first-passcode"})
    refused = cli("user", "passcode", check=False, env=no_passcode)  # no terminal and no TB_PASSCODE
    assert refused.returncode == 1 and "TB_PASSCODE" in refused.stderr
    wrong = cli("user", "passcode", check=False, env={"TB_PASSCODE": "not-it", "TB_NEW_PASSCODE": "second-passcode"})
    assert wrong.returncode == 1 and "not right" in wrong.stderr
    cli("user", "passcode", env={"TB_PASSCODE": "first-passcode", "TB_NEW_PASSCODE": "second-passcode"})
    wrong = cli("user", "list", check=False, env={"TB_PASSCODE": "first-passcode"})  # the old one opens nothing
    assert wrong.returncode == 1 and "not right" in wrong.stderr and "Dana" not in wrong.stdout
    settings = Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets")
    ctx = AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, "second-passcode"))
    try:
        profiles = ProfileService(ctx)
        user = profiles.list_profiles_sync()[0]
        assert profiles.verify_passcode_sync(user.id, "second-passcode")
        assert not profiles.verify_passcode_sync(user.id, "first-passcode")
        with ctx.db.unit_of_work() as s:
            from tbdesktop.store.models import User

            stored = s.get(User, user.id)
            assert stored is not None and stored.password_hash and "passcode" not in stored.password_hash
    finally:
        ctx.close()


def test_keys_live_in_the_passcode_encrypted_store(cli: Any, tmp_path: Path, two_speaker: Any) -> None:
    """No OS keyring here: API keys and the recordings' master key are in the profile's encrypted store, which
    opens with TB_PASSCODE; recordings are ciphertext in the data folder."""
    cli("user", "add", "Dana Reyes")
    assert json.loads(cli("secret", "list", "--json").stdout) == {"store": "file", "set": []}
    saved = cli("secret", "set", "openai_api_key", stdin="sk-from-stdin-7781\n")
    assert "encrypted secret store" in saved.stdout and "sk-from-stdin-7781" not in saved.stdout
    assert json.loads(cli("secret", "list", "--json").stdout)["set"] == ["openai_api_key"]
    wrong = cli("secret", "list", check=False, env={"TB_PASSCODE": "not-the-passcode"})
    assert wrong.returncode == 1 and "not right" in wrong.stderr

    wav = str(two_speaker[0])
    locked = cli("session", "import", wav, "--consent", "verbal", check=False, env={"TB_PASSCODE": None})
    assert locked.returncode == 1 and "TB_PASSCODE" in locked.stderr
    assert not list((tmp_path / "data" / "recordings").glob("*"))
    cli("session", "import", wav, "--consent", "verbal")
    (stored,) = list((tmp_path / "data" / "recordings").iterdir())
    assert stored.read_bytes()[:5] == b"TBREC"

    for folder in (tmp_path / "secrets", tmp_path / "data"):
        for path in folder.rglob("*"):
            if path.is_file():
                assert b"sk-from-stdin-7781" not in path.read_bytes(), f"the key is readable in {path.name}"
    cli("secret", "delete", "openai_api_key")
    assert json.loads(cli("secret", "list", "--json").stdout)["set"] == []


def test_speaker_corrections(cli: Any, two_speaker: Any, tmp_path: Path) -> None:
    """split, merge, add and rediarize from the command line, with --json, clear errors and the regenerate offer."""
    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.store.models import ProcessingJob, ProcessingStatus, TherapySession, TranscriptSegment
    from tbdesktop.store.note_repositories import SystemNoteWriter

    wav, turns, _ = two_speaker
    cli("user", "add", "Dana Reyes")
    sid = json.loads(cli("session", "import", str(wav), "--consent", "verbal", "--json").stdout)["id"]
    settings = Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets")
    ctx = AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, PASSCODE))
    try:  # as if processing had run, every line given to one voice
        with ctx.db.unit_of_work() as s:
            import uuid

            session_id = uuid.UUID(sid)
            for job in s.query(ProcessingJob).filter(ProcessingJob.session_id == session_id):
                job.status = "completed"
            for idx, turn in enumerate(turns):
                s.add(
                    TranscriptSegment(
                        session_id=session_id, idx=idx, start_s=turn["start"], end_s=turn["end"],
                        speaker="SPEAKER_00", role="client", text=turn["text"], words=[],
                    )
                )  # fmt: skip
            row = s.get(TherapySession, session_id)
            assert row is not None
            row.processing_status = ProcessingStatus.COMPLETED
            row.speakers = {"SPEAKER_00": {"role": "client", "name": None}}
            SystemNoteWriter(s).add_version(session_id, None, {}, "local")
    finally:
        ctx.close()

    added = json.loads(cli("session", "speakers", "add", sid, "--role", "therapist", "--name", "Dana", "--json").stdout)
    assert added["speaker"] == "SPEAKER_01" and added["session"]["speakers"]["SPEAKER_01"]["name"] == "Dana"
    assert added["needs_regeneration"] is False

    split = json.loads(
        cli("session", "speakers", "split", sid, "--line", "0", "--word", "2", "--to", "SPEAKER_01", "--json").stdout
    )
    assert split["lines"] == [0, len(turns)] and split["speaker"] == "SPEAKER_01" and split["needs_regeneration"]
    transcript = {seg["idx"]: seg for seg in json.loads(cli("session", "transcript", sid, "--json").stdout)}
    first_word, *rest = turns[0]["text"].split()
    assert transcript[0]["text"] == first_word and transcript[len(turns)]["text"] == " ".join(rest)
    assert transcript[len(turns)]["split_from"] == 0 and transcript[len(turns)]["speaker"] == "SPEAKER_01"
    human = cli("session", "transcript", sid).stdout.splitlines()
    assert human[1].split()[0] == str(len(turns)) and human[1].endswith(" ".join(rest))  # in time order, by number

    out = cli("session", "speakers", "split", sid, "--line", "1", "--word", "3", "--to", "new", "--role", "partner")
    assert "SPEAKER_02" in out.stdout and f"regenerate-notes {sid}" in out.stdout
    out = cli("session", "speakers", "merge", sid, "--from", "SPEAKER_02", "--into", "SPEAKER_00")
    assert "1 line moved" in out.stdout
    assert json.loads(cli("session", "show", sid, "--json").stdout)["needs_regeneration"] is True

    for bad, says in (
        (("split", sid, "--line", "2", "--word", "1", "--to", "new"), "word 2 to"),
        (("split", sid, "--line", "99", "--word", "2", "--to", "new"), "no line 99"),
        (("split", sid, "--line", "1", "--word", "2", "--to", "SPEAKER_01", "--role", "client"), "--to new"),
        (("merge", sid, "--from", "SPEAKER_09", "--into", "SPEAKER_00"), "no speaker 'SPEAKER_09'"),
        (("rediarize", sid, "--voices", "9"), "1 to 6"),
        (("rediarize", sid, "--voices", "two"), "not a number"),
        (("split", "not-an-id", "--line", "0", "--word", "2", "--to", "new"), "session"),
    ):
        refused = cli("session", "speakers", *bad, check=False)
        assert refused.returncode == 1 and says in refused.stderr and "Traceback" not in refused.stderr, bad

    done = json.loads(cli("session", "speakers", "rediarize", sid, "--voices", "2", "--wait", "--json").stdout)
    assert done["session"]["status"] == "completed" and done["session"]["error"] is None
    assert done["needs_regeneration"] is True
    transcript = json.loads(cli("session", "transcript", sid, "--json").stdout)
    assert {seg["idx"] for seg in transcript} >= set(range(len(turns) + 1))
    assert len({seg["speaker"] for seg in transcript if not seg["manual"]}) >= 2


def test_importing_the_same_recording_again_is_refused_unless_asked(cli: Any, two_speaker: Any) -> None:
    cli("user", "add", "Dana Reyes")
    first = json.loads(cli("session", "import", str(two_speaker[0]), "--consent", "verbal", "--json").stdout)
    again = cli("session", "import", str(two_speaker[0]), "--consent", "verbal", check=False)
    assert again.returncode == 1 and "imported before" in again.stderr
    assert f"tbdesktop session show {first['id']}" in again.stderr and "--allow-duplicate" in again.stderr
    assert len(json.loads(cli("session", "list", "--json").stdout)) == 1
    cli("session", "import", str(two_speaker[0]), "--consent", "verbal", "--allow-duplicate")
    assert len(json.loads(cli("session", "list", "--json").stdout)) == 2


def test_a_second_profile_opens_the_encrypted_database_with_its_own_passcode(cli: Any) -> None:
    """No OS keyring: the first profile's passcode opens the database to add a second; each opens it with its own."""
    cli("user", "add", "Dana Reyes", env={"TB_PASSCODE": "dana-passcode"})
    refused = cli("user", "add", "Sam Okafor", check=False, env={"TB_PASSCODE": "sam-passcode"})
    assert refused.returncode == 1 and "not right" in refused.stderr  # Dana's passcode opens the database
    cli("user", "add", "Sam Okafor", env={"TB_PASSCODE": "dana-passcode", "TB_NEW_PASSCODE": "sam-passcode"})
    as_sam = {"TB_USER": "Sam Okafor", "TB_PASSCODE": "sam-passcode"}
    assert "Sam Okafor" in cli("user", "list", env=as_sam).stdout
    wrong = cli("session", "list", check=False, env={"TB_USER": "Sam Okafor", "TB_PASSCODE": "dana-passcode"})
    assert wrong.returncode == 1 and "not right" in wrong.stderr


def test_version_names_the_installed_release(cli: Any) -> None:
    import importlib.metadata

    assert cli("--version").stdout.strip() == f"TherapyBridge Desktop {importlib.metadata.version('tbdesktop')}"
