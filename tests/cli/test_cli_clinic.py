"""Clinic mode as IT and clinicians run it: `tbdesktop clinic …` and `tbdesktop sync` in real processes, two
workstations (two data folders), one private PostgreSQL server, the real model processing a real recording."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from polling import poll
from sqlalchemy import text

from tbdesktop.services.sync.connect import clinic_engine

pytestmark = pytest.mark.postgres

PASSCODE = "clinic-passcode-1"
T1 = "dana@clinic.example"
T1_PASSWORD = "dana-clinic-password"


def _script() -> str:
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"
    return script


@pytest.fixture
def server(clinic_cluster: Any) -> dict[str, str]:
    admin = clinic_cluster.new_database()
    name = admin.rsplit("/", 1)[1]
    return {
        "admin": admin,
        # IT's connection as documented: no password on the command line, PGPASSWORD instead
        "admin_no_password": f"postgresql://postgres@127.0.0.1:{clinic_cluster.port}/{name}",
        "pgpassword": clinic_cluster.password,
        "url": clinic_cluster.server_url(name),
    }


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def workstation(tmp_path: Path, model_cache: Path) -> Callable[[str], Run]:
    def make(name: str) -> Run:
        root = tmp_path / name.replace(" ", "_")

        def run(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
            full = dict(
                os.environ,
                TB_CACHE_DIR=str(model_cache),
                TB_SECRETS_DIR=str(root / "secrets"),
                TB_PASSCODE=PASSCODE,
                TB_WORKSTATION_NAME=name,
                TB_CLINIC_PASSWORD=T1_PASSWORD,
            )
            full.update(env or {})
            result = subprocess.run(
                [_script(), "--data-dir", str(root / "data"), *args],
                capture_output=True,
                text=True,
                env=full,
                timeout=300,
                stdin=subprocess.DEVNULL,
            )
            if check:
                assert result.returncode == 0, result.stderr + result.stdout
            return result

        run.data_dir = root / "data"  # type: ignore[attr-defined]
        return run

    return make


def _it_sets_up(server: dict[str, str], ws: Run) -> None:
    it_env = {"PGPASSWORD": server["pgpassword"]}
    init = json.loads(ws("clinic", "init", server["admin_no_password"], "--json", env=it_env).stdout)
    assert init["alembic_revision"]
    added = ws("clinic", "add-user", server["admin_no_password"], T1, "--name", "Dana Reyes", env=it_env)
    assert T1 in added.stdout


def _add_sessions_bulk(ctx: Any, *, sessions: int, lines: int) -> Any:
    """Many processed sessions of the joined clinician, written straight into the workstation's database."""
    import uuid
    from datetime import date

    from sqlalchemy import insert, select

    from tbdesktop.store.models import Client, Note, TherapySession, TranscriptSegment, User

    with ctx.db.unit_of_work() as s:
        owner = s.scalars(select(User.id).where(User.email == T1)).one()
        for n in range(sessions):
            client_id, session_id = uuid.uuid4(), uuid.uuid4()
            s.execute(insert(Client), [{"id": client_id, "owner_id": owner, "name": f"Client {n}"}])
            s.execute(
                insert(TherapySession),
                [
                    {
                        "id": session_id,
                        "owner_id": owner,
                        "client_id": client_id,
                        "session_date": date(2026, 11, 1),
                        "processing_status": "completed",
                        "speakers": {},
                    }
                ],
            )
            s.execute(
                insert(TranscriptSegment),
                [
                    {
                        "session_id": session_id,
                        "idx": i,
                        "start_s": i * 4.0,
                        "end_s": i * 4.0 + 3.5,
                        "speaker": "SPEAKER_00",
                        "role": "client",
                        "text": f"Line {i} of session {n}: how the week went, sleep, and work.",
                        "words": [],
                    }
                    for i in range(lines)
                ],
            )
            s.execute(
                insert(Note),
                [
                    {
                        "session_id": session_id,
                        "version": 1,
                        "sections": {"plan": {"text": "Review."}},
                        "status": "draft",
                    }
                ],
            )
        return owner


@pytest.mark.slow
def test_import_on_one_workstation_then_read_edit_and_delete_across_two(
    server: dict[str, str], workstation: Callable[[str], Run], two_speaker: Any
) -> None:
    a, b = workstation("Room 2"), workstation("Room 4")
    _it_sets_up(server, a)

    joined = json.loads(a("clinic", "join", server["url"], "--email", T1, "--json").stdout)
    assert joined["synced"] and joined["joined"]["role"] == "therapist"
    imported = json.loads(
        a(
            "session", "import", str(two_speaker[0]), "--client", "Alex Kim", "--consent", "verbal", "--wait", "--json"
        ).stdout
    )
    sid = imported["id"]
    assert imported["status"] == "completed"
    pushed = json.loads(a("sync", "--json").stdout)
    assert pushed["pushed"] > 0 and pushed["pending"] == 0

    b("clinic", "join", server["url"], "--email", T1)
    assert [s["id"] for s in json.loads(b("session", "list", "--json").stdout)] == [sid]
    lines = json.loads(b("session", "transcript", sid, "--json").stdout)
    assert lines and "sleep" in " ".join(line["text"] for line in lines).lower()
    note = json.loads(b("session", "notes", sid, "--json").stdout)
    keys = [s["key"] for s in note["sections"]]
    assert keys

    # an edit on B reaches A
    b("session", "edit-note", sid, keys[-1], "Edited in room 4: review the sleep diary.")
    assert json.loads(b("sync", "status", "--json").stdout)["state"] == "pending"
    b("sync")
    a("sync")
    on_a = json.loads(a("session", "notes", sid, "--json").stdout)
    assert {s["key"]: s["text"] for s in on_a["sections"]}[keys[-1]] == "Edited in room 4: review the sleep diary."
    assert json.loads(a("sync", "status", "--json").stdout)["state"] == "synced"

    # a delete on A wins over an offline edit on B
    b("session", "edit-note", sid, keys[0], "Written on B while A deleted the session.")
    a("session", "delete", sid, "--yes")
    a("sync")
    b("sync")
    assert json.loads(b("session", "list", "--json").stdout) == []
    assert json.loads(b("sync", "status", "--json").stdout)["pending"] == 0
    engine = clinic_engine(server["admin"])
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM therapy_sessions")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM transcript_segments")).scalar_one() == 0
    finally:
        engine.dispose()


def test_sync_while_the_server_is_down_exits_1_and_keeps_the_changes(
    server: dict[str, str], workstation: Callable[[str], Run], clinic_cluster: Any, tmp_path: Path
) -> None:
    a = workstation("Room 2")
    _it_sets_up(server, a)
    a("clinic", "join", server["url"], "--email", T1)
    template = tmp_path / "Couples intake.json"
    template.write_text(json.dumps({"sections": [{"key": "goals", "title": "Goals", "instructions": "Goals."}]}))
    clinic_cluster.stop()
    try:
        # working here goes on while the server is down
        a("template", "add", str(template), "--name", "Couples intake")
        down = a("sync", check=False)
        assert down.returncode == 1
        assert "Could not reach the clinic server" in down.stderr and "1 change(s) kept here" in down.stderr
        status = json.loads(a("sync", "status", "--json").stdout)
        assert status["state"] == "offline" and status["pending"] == 1
    finally:
        clinic_cluster.start()
    assert a("sync").returncode == 0
    assert json.loads(a("sync", "status", "--json").stdout)["state"] == "synced"
    engine = clinic_engine(server["admin"])
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM note_templates WHERE NOT builtin")).scalars().all()
            assert names == ["Couples intake"]
    finally:
        engine.dispose()


def test_a_sync_killed_mid_push_loses_and_doubles_nothing(
    server: dict[str, str], workstation: Callable[[str], Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tbdesktop.config import load_settings
    from tbdesktop.services.context import AppContext

    a = workstation("Room 2")
    _it_sets_up(server, a)
    a("clinic", "join", server["url"], "--email", T1)
    data_dir: Path = a.data_dir  # type: ignore[attr-defined]
    monkeypatch.setenv("TB_WORKSTATION_NAME", "Room 2")
    ctx = AppContext.open(load_settings(data_dir=data_dir), credentials=lambda profiles: (profiles[0].id, PASSCODE))
    try:
        owner = _add_sessions_bulk(ctx, sessions=60, lines=60)
        with ctx.db.engine.connect() as conn:
            queued = conn.execute(text("SELECT count(*) FROM sync_outbox")).scalar_one()
        assert queued > 3000
        env = dict(
            os.environ,
            TB_CACHE_DIR=os.environ.get("TB_CACHE_DIR", ""),
            TB_SECRETS_DIR=str(data_dir.parent / "secrets"),
            TB_PASSCODE=PASSCODE,
            TB_WORKSTATION_NAME="Room 2",
            TB_SYNC_BATCH="200",
        )
        admin_before = clinic_engine(server["admin"])
        try:
            with admin_before.connect() as conn:
                baseline = conn.execute(text("SELECT COALESCE(MAX(last_seq), 0) FROM sync_push_marks")).scalar_one()
        finally:
            admin_before.dispose()
        proc = subprocess.Popen(
            [_script(), "--data-dir", str(data_dir), "sync"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        admin = clinic_engine(server["admin"])
        try:

            def between_batches_or_ended() -> bool:
                if proc.poll() is not None:
                    return True
                with admin.connect() as conn:
                    mark = conn.execute(text("SELECT COALESCE(MAX(last_seq), 0) FROM sync_push_marks")).scalar_one()
                    in_tx = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'TherapyBridge' "
                            "AND xact_start IS NOT NULL AND usename = :u"
                        ),
                        {"u": T1},
                    ).scalar_one()
                return bool(mark > baseline and in_tx)  # a batch has landed and the next one is open

            killed = poll(between_batches_or_ended, 120) and proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert killed, "the sync finished before it could be interrupted"
            with ctx.db.engine.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM sync_outbox")).scalar_one()
            assert left > 0  # the rest waits (the server holds what landed before the kill)

            again = a("sync", "--json")
            assert json.loads(again.stdout)["pending"] == 0
            with admin.connect() as conn:

                def count(table: str) -> int:
                    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

                local = ctx.db.engine.connect()
                try:

                    def local_count(table: str, where: str = "") -> int:
                        return int(local.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one())

                    for table in ("clients", "therapy_sessions", "transcript_segments", "notes"):
                        assert count(table) == local_count(table), table
                    # the append-only log: every event once, none twice
                    assert count("audit_events") == local_count("audit_events", f"WHERE user_id = '{owner.hex}'")
                finally:
                    local.close()
        finally:
            if proc.poll() is None:
                proc.kill()
            admin.dispose()
    finally:
        ctx.close()


def test_it_changes_a_password_and_disables_a_login(server: dict[str, str], workstation: Callable[[str], Run]) -> None:
    a = workstation("Room 2")
    _it_sets_up(server, a)
    a("clinic", "join", server["url"], "--email", T1)
    it_env = {"PGPASSWORD": server["pgpassword"], "TB_CLINIC_PASSWORD": "a-brand-new-password"}
    a("clinic", "set-password", server["admin_no_password"], T1, env=it_env)
    refused = a("sync", check=False)
    assert refused.returncode == 1 and "did not accept the password" in refused.stderr
    assert json.loads(a("sync", "status", "--json").stdout)["state"] == "signin"
    a("clinic", "disable-user", server["admin_no_password"], T1, env=it_env)
    again = a("clinic", "join", server["url"], "--email", "dana@clinic.example", check=False,
              env={"TB_CLINIC_PASSWORD": "a-brand-new-password"})  # fmt: skip
    assert again.returncode == 1 and "is disabled" in again.stderr
    a("clinic", "disable-user", server["admin_no_password"], T1, "--enable", env=it_env)
    selftest = json.loads(a("selftest", "--json", check=False).stdout)
    clinic_check = next(c for c in selftest["checks"] if c["check"] == "clinic sync")
    assert clinic_check["required"] is False and "Sign in" in clinic_check["detail"]


def test_joining_without_a_keyring_or_a_passcode_is_refused_before_anything_is_made(
    workstation: Callable[[str], Run],
) -> None:
    ws = workstation("Front Desk")
    refused = ws(
        "clinic", "join", "postgresql://127.0.0.1:1/clinic", "--email", "t1@clinic.example", check=False,
        env={"TB_PASSCODE": "", "TB_SECRET_STORE": "file"},
    )  # fmt: skip
    assert refused.returncode == 1 and "set TB_PASSCODE" in refused.stderr, refused.stderr
