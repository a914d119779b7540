"""Upgrades that keep data safe: real encrypted SQLite files made by the app, the real migrations, the previous
release's schema made by a downgrade to the first revision; a copy taken before migrating, removed after a success,
put back byte for byte after a failure or a crash; a newer release's database left alone."""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import signal
import subprocess
import sys
import uuid
import wave
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from polling import until
from sqlalchemy import func, insert, inspect, select
from test_recording import FakeBackend, FakeDevice, recorded_audio
from tests_support import run_queue_once

from tbdesktop.config import Settings
from tbdesktop.services import upgrade
from tbdesktop.services.context import AppContext
from tbdesktop.services.database_keys import DatabaseKeys
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording import RecorderState, RecordingParams, RecordingService
from tbdesktop.services.search import SearchService
from tbdesktop.services.secrets import SecretVault
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import Client, Note, ProcessingJob, TherapySession, TranscriptSegment
from tbdesktop.store.repositories import SystemJobRepository

PASSCODE = "upgrade-passcode-3"
FIRST = "0001_initial"
RATE = 16000
LINES = [("therapist", "What brought the marshwiggle worry back?"), ("client", "The lanternfish dream again.")]
NOTE = {"assessment": {"title": "Assessment", "position": 0, "text": "Recurring lanternfish dream.", "evidence": []}}
REPO_ROOT = Path(__file__).resolve().parents[2]

# A later release's migration: changes the file, then fails part-way.
LATER_REVISION = '''"""A later release's migration."""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("therapy_sessions", sa.Column("later_field", sa.Integer(), nullable=True))
    op.execute("UPDATE therapy_sessions SET later_field = 7")
    op.create_table("later_things", sa.Column("id", sa.Integer(), primary_key=True))
{tail}


def downgrade() -> None:
    op.drop_table("later_things")
    op.drop_column("therapy_sessions", "later_field")
'''
FAILS = '    raise RuntimeError("a migration that fails part-way")'
SUCCEEDS = "    pass"
HANGS = """    from pathlib import Path
    import time
    Path({marker!r}).write_text("migrating")
    time.sleep(120)"""


def later_release(tmp_path: Path, tail: str, revision: str = "0099_later") -> Path:
    """The alembic folder of a later release: this one's migrations and one more."""
    root = tmp_path / f"alembic-{revision}"
    shutil.copytree(REPO_ROOT / "alembic", root, ignore=shutil.ignore_patterns("__pycache__"))
    script = LATER_REVISION.format(revision=revision, down=migrate.head_revision(), tail=tail)
    (root / "versions" / f"2099_01_01_0000_{revision}.py").write_text(script)
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tone(seconds: float) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * RATE))
    wave_ = 6000 * np.sin(2 * math.pi * 220 * t / RATE) + 500 * np.sin(2 * math.pi * 1234 * t / RATE)
    return wave_.astype(np.int16).reshape(-1, 1)


def write_wav(path: Path, audio: np.ndarray[Any, Any]) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(audio.tobytes())
    return path


@dataclass
class Previous:
    """What a user had before the upgrade."""

    settings: Settings
    user_id: uuid.UUID
    processed: uuid.UUID  # a session with a transcript and a note
    queued: uuid.UUID  # an imported session waiting for processing
    job: uuid.UUID
    audio: np.ndarray[Any, Any]  # what the interrupted recording captured
    counts: dict[str, int]  # rows of every table the first revision has

    @property
    def database(self) -> Path:
        return self.settings.data_dir / "tbdesktop.sqlite3"

    @property
    def keyfile(self) -> Path:
        return self.settings.data_dir / "tbdesktop.keys"

    @property
    def backups(self) -> Path:
        return self.settings.data_dir / "backups"

    def credentials(self, _profiles: Any = None) -> tuple[uuid.UUID, str]:
        return self.user_id, PASSCODE

    def open(self) -> AppContext:
        ctx = AppContext.open(self.settings, credentials=self.credentials)
        ctx.secrets.unlock(self.user_id, PASSCODE)
        return ctx

    def raw(self) -> Database:
        """The database opened with its key and nothing else (no migration, no start-up steps)."""
        keys = DatabaseKeys(self.database, SecretVault(self.settings.secrets_dir, "file"))
        return Database(self.settings.effective_database_url, keys.resolve(self.credentials))


def table_counts(db: Database, tables: set[str] | None = None) -> dict[str, int]:
    with db.engine.connect() as conn:
        names = tables or {t for t in inspect(conn).get_table_names() if t != "alembic_version"}
        return {t: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar() or 0) for t in sorted(names)}


RECORDING_KEYS = "0005_recording_keys"  # recordings are encrypted at rest from this revision on


def as_unencrypted_recording(ctx: AppContext, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """A recording as releases before encryption at rest kept it: a plain file and no key on its row."""
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None and row.recording_path and row.recording_key
        name, key = row.recording_path, row.recording_key
    plain_name = f"{uuid.uuid4().hex}{Path(name).suffix}"
    with ctx.recordings.plaintext(name, key, user_id) as plain:
        shutil.copyfile(plain, ctx.recordings.path(plain_name))
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        row.recording_path, row.recording_key = plain_name, None
    ctx.recordings.destroy(name)


def make_previous(make_settings: Any, tmp_path: Path, revision: str = FIRST, speech: Path | None = None) -> Previous:
    """The app's own data at this release's head — a processed session, a queued import, an interrupted
    recording — then the schema taken back to ``revision`` (the previous release's; before encryption at rest,
    the queued recording as those releases kept it)."""
    settings = make_settings(secret_store="file")
    ctx = AppContext.open(settings)
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode=PASSCODE)
        ctx.secrets.unlock(user.id, PASSCODE)
        processed = uuid.uuid4()
        with ctx.db.unit_of_work() as s:
            client = Client(owner_id=user.id, name="Jordan Example")
            s.add(client)
            s.flush()
            s.execute(
                insert(TherapySession).values(
                    id=processed, owner_id=user.id, client_id=client.id, session_date=date(2026, 11, 20),
                    processing_status="completed", processing_progress=100, speakers={},
                )
            )  # fmt: skip
            for idx, (role, text) in enumerate(LINES):
                s.execute(
                    insert(TranscriptSegment).values(
                        session_id=processed, idx=idx, start_s=idx * 5.0, end_s=idx * 5.0 + 4.0,
                        speaker=f"SPEAKER_0{idx}", role=role, text=text, words=[],
                    )
                )  # fmt: skip
            s.add(Note(session_id=processed, version=1, status="draft", sections=NOTE, created_at=datetime.now(UTC)))
        wav = speech or write_wav(tmp_path / "imported.wav", tone(2.0))
        info = SessionService(ctx, user).import_recording_sync(
            ImportRequest(source=wav, client_name="Jordan Example", consent_method="verbal")
        )
        with ctx.db.unit_of_work() as s:
            job = s.scalars(select(ProcessingJob.id).where(ProcessingJob.session_id == info.id)).one()

        audio = tone(5.0)
        service = RecordingService(ctx, user, FakeBackend([FakeDevice("Room mic", audio)]))
        recorder = service.recorder(RecordingParams(client_name="Jordan Example", stop_after_s=3.0))
        recorder.start()
        until(lambda: recorder.state is RecorderState.STOPPED, 20, "the recorder to stop")
        recorder.close()  # as if the window had been closed mid-recording: the journal stays, unclaimed
        assert len(service.find_interrupted_sync()) == 1

        if migrate.is_below(revision, RECORDING_KEYS):
            as_unencrypted_recording(ctx, user.id, info.id)
        migrate.downgrade(ctx.db.engine, revision)
        assert migrate.current_revision(ctx.db.engine) == revision
        counts = table_counts(ctx.db)
    finally:
        ctx.close()
    return Previous(settings, user.id, processed, info.id, job, audio, counts)


@pytest.fixture
def previous(make_settings: Any, tmp_path: Path, two_speaker: Any) -> Previous:
    return make_previous(make_settings, tmp_path, speech=two_speaker[0])


def backup_folders(prev: Previous) -> list[Path]:
    return sorted(p for p in prev.backups.iterdir()) if prev.backups.exists() else []


# -- the first start after an upgrade ---------------------------------------------------------------------------


def test_every_downgrade_keeps_the_first_revisions_data(previous: Previous) -> None:
    """The downgrades to the first revision keep every row the first revision can hold (none rebuilds a table
    whose deletion would cascade)."""
    assert previous.counts["therapy_sessions"] == 2
    assert previous.counts["transcript_segments"] == len(LINES)
    assert previous.counts["notes"] == 1
    assert previous.counts["processing_jobs"] == 1
    assert previous.counts["clients"] == 1 and previous.counts["users"] == 1
    db = previous.raw()
    try:
        assert set(previous.counts) == {
            "users", "clients", "therapy_sessions", "transcript_segments", "notes", "note_templates",
            "risk_flags", "processing_jobs", "audit_events",
        }  # fmt: skip
        cols = {c["name"] for c in inspect(db.engine).get_columns("therapy_sessions")}
        assert "session_type" not in cols and "recording_key" not in cols
    finally:
        db.dispose()


def test_first_start_after_upgrade_backs_up_migrates_and_removes_the_backup(
    previous: Previous, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    before = {previous.database.name: sha256(previous.database), previous.keyfile.name: sha256(previous.keyfile)}
    seen: list[dict[str, Any]] = []
    real_migrate_to = migrate.migrate_to

    def migrate_to(engine: Any, target: str = "head") -> None:
        # while the migration runs, the copy is there: the database and its key file, byte for byte
        (folder,) = backup_folders(previous)
        seen.append({p.name: sha256(p) for p in folder.iterdir() if p.name != upgrade.MANIFEST})
        seen.append(
            {"mode": folder.stat().st_mode & 0o777, "files": {p.stat().st_mode & 0o777 for p in folder.iterdir()}}
        )
        assert folder.name.startswith(f"tbdesktop-{FIRST}-")
        real_migrate_to(engine, target)

    monkeypatch.setattr(migrate, "migrate_to", migrate_to)
    with caplog.at_level(logging.INFO, logger="tbdesktop.services.upgrade"):
        ctx = previous.open()
    try:
        assert seen[0] == before
        assert seen[1] == {"mode": 0o700, "files": {0o600}}
        assert migrate.current_revision(ctx.db.engine) == migrate.head_revision()
        assert backup_folders(previous) == [], "the copy is removed once the migration succeeded"
        assert previous.backups.stat().st_mode & 0o777 == 0o700
        messages = [r.getMessage() for r in caplog.records]
        assert "database backup taken" in messages and "database backup removed" in messages
        migrated = next(r for r in caplog.records if r.getMessage() == "database migrated")
        assert (migrated.from_revision, migrated.to_revision) == (FIRST, migrate.head_revision())  # type: ignore[attr-defined]

        # everything the first revision's schema held is there
        after = table_counts(ctx.db, set(previous.counts))
        for table, count in previous.counts.items():
            assert after[table] >= count, table
        user = ProfileService(ctx).get_sync(str(previous.user_id))
        with ctx.db.unit_of_work() as s:
            lines = s.scalars(
                select(TranscriptSegment.text)
                .where(TranscriptSegment.session_id == previous.processed)
                .order_by(TranscriptSegment.idx)
            ).all()
            assert lines == [text for _, text in LINES]
            note = s.scalars(select(Note).where(Note.session_id == previous.processed)).one()
            assert note.sections == NOTE
            assert s.scalar(select(func.count()).select_from(Client)) == 1
        # and the later revisions work on it: the search index was built from the rows that were there
        assert {hit.kind for hit in SearchService(ctx, user).search_sync("lanternfish")} >= {"transcript", "note"}
    finally:
        ctx.close()


def test_an_interrupted_recording_survives_the_upgrade(previous: Previous) -> None:
    ctx = previous.open()
    try:
        assert migrate.current_revision(ctx.db.engine) == migrate.head_revision()
        user = ProfileService(ctx).get_sync(str(previous.user_id))
        service = RecordingService(ctx, user, FakeBackend([]))
        (found,) = service.find_interrupted_sync()
        assert found.client_name == "Jordan Example" and found.duration_s == 3.0
        info = service.recover_sync(found.id, consent_method="verbal")
        assert info.status == "queued" and info.client_name == "Jordan Example"
        audio, rate = recorded_audio(ctx, user, info.id)
        assert rate == RATE and np.array_equal(audio, previous.audio[: 3 * RATE])
        assert service.find_interrupted_sync() == []
    finally:
        ctx.close()


def test_a_queued_job_survives_the_upgrade_and_is_processed(previous: Previous) -> None:
    """The previous release's queued import: still queued after the upgrade, processed by the real queue and
    worker, then its unencrypted recording sealed as the window does at every start."""
    ctx = previous.open()
    try:
        with ctx.db.unit_of_work() as s:
            row = s.get(TherapySession, previous.queued)
            assert row is not None and row.processing_status.value == "queued" and row.recording_key is None
            job = SystemJobRepository(s).next_queued([previous.user_id])
            assert job is not None and job.id == previous.job and job.kind == "process"
        user = ProfileService(ctx).get_sync(str(previous.user_id))
        run_queue_once(ctx, user)
        with ctx.db.unit_of_work() as s:
            done = s.get(ProcessingJob, previous.job)
            row = s.get(TherapySession, previous.queued)
            assert done is not None and done.status == "completed", (done.status if done else None, done and done.error)
            assert row is not None and row.processing_status.value == "completed"
            lines = s.scalar(select(func.count()).where(TranscriptSegment.session_id == previous.queued))
            assert lines and lines > 0
        # processed, its recording is encrypted as the window does at every start
        assert SessionService(ctx, user).seal_plain_recordings_sync() == 1
        with ctx.db.unit_of_work() as s:
            row = s.get(TherapySession, previous.queued)
            assert row is not None and row.recording_key
    finally:
        ctx.close()


def test_going_back_before_encrypted_recordings_is_refused_and_changes_nothing(
    make_settings: Any, tmp_path: Path
) -> None:
    """A rollback past encryption at rest would make recordings unreadable: refused, the database as it was."""
    prev = make_previous(make_settings, tmp_path, migrate.head_revision() or "")
    before = (sha256(prev.database), sha256(prev.keyfile))
    db = prev.raw()
    try:
        with pytest.raises(upgrade.DatabaseUpgradeError, match=r"1 encrypted recording\(s\) unreadable") as refused:
            upgrade.migrate_database(db, prev.backups, companions=[prev.keyfile], target=FIRST, keep_backup=True)
        assert "nothing was lost" in refused.value.message
    finally:
        db.dispose()
    assert (sha256(prev.database), sha256(prev.keyfile)) == before
    db = prev.raw()
    try:
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.dispose()


# -- a migration that fails ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [FIRST, "head"])
def test_a_failed_migration_puts_the_database_back_byte_for_byte(
    make_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, start: str
) -> None:
    head = migrate.head_revision()
    assert head is not None
    prev = make_previous(make_settings, tmp_path, FIRST if start == FIRST else head)
    before = {prev.database: sha256(prev.database), prev.keyfile: sha256(prev.keyfile)}
    changed: list[bool] = []
    real_restore = upgrade._restore

    def restore(backup: Any) -> bool:
        changed.append(sha256(prev.database) != before[prev.database])
        return real_restore(backup)

    monkeypatch.setattr(upgrade, "_restore", restore)
    failing = later_release(tmp_path, FAILS)
    monkeypatch.setattr(migrate, "alembic_dir", lambda: failing)
    with (
        caplog.at_level(logging.INFO, logger="tbdesktop.services.upgrade"),
        pytest.raises(upgrade.DatabaseUpgradeError) as failed,
    ):
        prev.open()
    assert failed.value.message == upgrade.FAILED
    assert "put back exactly as it was" in failed.value.message and "nothing was lost" in failed.value.message
    assert failed.value.backup is None
    assert changed == [True], "the failed migration had changed the file"
    assert {p: sha256(p) for p in before} == before, "the database and its key file are back byte for byte"
    assert not any(Path(f"{prev.database}{s}").exists() for s in ("-wal", "-shm", "-journal"))
    assert backup_folders(prev) == [], "nothing half-done is left behind"
    assert not list(prev.database.parent.glob("*.restoring"))
    messages = [r.getMessage() for r in caplog.records]
    assert "database migration failed" in messages and "database restored from its backup" in messages

    # the release that was there before opens it as it was
    monkeypatch.undo()
    db = prev.raw()
    try:
        assert migrate.current_revision(db.engine) == (FIRST if start == FIRST else head)
        assert table_counts(db, set(prev.counts)) == prev.counts
        assert "later_things" not in inspect(db.engine).get_table_names()
    finally:
        db.dispose()
    ctx = prev.open()
    try:
        assert migrate.current_revision(ctx.db.engine) == head
        with ctx.db.unit_of_work() as s:
            assert s.scalar(select(func.count()).select_from(TranscriptSegment)) == len(LINES)
    finally:
        ctx.close()
    assert backup_folders(prev) == []


def test_when_the_copy_cannot_be_put_back_it_is_kept_and_the_next_start_restores_it(
    previous: Previous, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sha256(previous.database)
    monkeypatch.setattr(upgrade, "_restore", lambda backup: False)
    failing = later_release(tmp_path, FAILS)
    monkeypatch.setattr(migrate, "alembic_dir", lambda: failing)
    with pytest.raises(upgrade.DatabaseUpgradeError) as failed:
        previous.open()
    (kept,) = backup_folders(previous)
    assert failed.value.backup == kept and str(kept) in failed.value.message
    assert "could not put it back" in failed.value.message and "do not delete it" in failed.value.message
    assert sha256(previous.database) != before

    monkeypatch.undo()
    ctx = previous.open()  # the copy goes back first, then the migration runs again
    try:
        assert migrate.current_revision(ctx.db.engine) == migrate.head_revision()
        assert table_counts(ctx.db, {"transcript_segments"}) == {"transcript_segments": len(LINES)}
    finally:
        ctx.close()
    assert backup_folders(previous) == []


CRASH_IN_CHILD = """
import sys, uuid
from pathlib import Path
from tbdesktop.store import migrate
migrate.alembic_dir = lambda: Path({alembic!r})
from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
AppContext.open(
    Settings(data_dir=Path({data!r}), secrets_dir=Path({secrets!r}), cache_dir=Path({cache!r}), secret_store="file"),
    credentials=lambda profiles: (uuid.UUID({user!r}), {passcode!r}),
)
"""


def test_a_migration_killed_part_way_is_put_back_at_the_next_start(previous: Previous, tmp_path: Path) -> None:
    before = {previous.database: sha256(previous.database), previous.keyfile: sha256(previous.keyfile)}
    marker = tmp_path / "migrating"
    script = CRASH_IN_CHILD.format(
        alembic=str(later_release(tmp_path, HANGS.format(marker=str(marker)))), data=str(previous.settings.data_dir),
        secrets=str(previous.settings.secrets_dir), cache=str(previous.settings.cache_dir),
        user=str(previous.user_id), passcode=PASSCODE,
    )  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        until(lambda: marker.exists() or child.poll() is not None, 120, "the migration to reach the later revision")
        assert marker.exists(), child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stderr:
            child.stderr.close()
    (left,) = backup_folders(previous)  # the copy of a migration that never finished
    assert '"state": "migrating"' in (left / upgrade.MANIFEST).read_text()
    wal = Path(f"{previous.database}-wal")
    assert sha256(previous.database) != before[previous.database] or (wal.exists() and wal.stat().st_size > 0), (
        "the killed migration had changed the database (its file, or the write-ahead log beside it)"
    )

    # the previous release's code path would see its own revision again: the copy goes back before anything else
    assert upgrade.recover_interrupted(previous.database, previous.backups)
    assert {p: sha256(p) for p in before} == before
    assert not wal.exists(), "the killed run's write-ahead log went with it"
    assert backup_folders(previous) == []
    db = previous.raw()
    try:
        assert migrate.current_revision(db.engine) == FIRST
    finally:
        db.dispose()
    ctx = previous.open()
    try:
        assert migrate.current_revision(ctx.db.engine) == migrate.head_revision()
        assert table_counts(ctx.db, {"transcript_segments"}) == {"transcript_segments": len(LINES)}
    finally:
        ctx.close()


# -- a database from a newer release ----------------------------------------------------------------------------


def test_a_database_from_a_newer_release_is_refused_untouched(
    make_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prev = make_previous(make_settings, tmp_path, migrate.head_revision() or "")
    newer = later_release(tmp_path, SUCCEEDS, "0099_newer")
    with monkeypatch.context() as m:
        m.setattr(migrate, "alembic_dir", lambda: newer)
        prev.open().close()  # the newer release migrated it
    assert backup_folders(prev) == []
    before = {prev.database: sha256(prev.database), prev.keyfile: sha256(prev.keyfile)}
    listing = sorted(p.name for p in prev.database.parent.iterdir())

    with pytest.raises(upgrade.NewerDatabaseError) as refused:
        prev.open()  # the older release again (a rollback of the package)
    assert "newer version of TherapyBridge" in refused.value.message and "0099_newer" in refused.value.message
    assert (
        "Nothing was changed" in refused.value.message and "install that newer version again" in refused.value.message
    )
    assert {p: sha256(p) for p in before} == before
    assert sorted(p.name for p in prev.database.parent.iterdir()) == listing


# -- PostgreSQL: no file copy; one transaction ------------------------------------------------------------------


@pytest.mark.parametrize("start", ["0008_clinic_sync", "head"])
def test_a_failed_migration_on_postgresql_is_rolled_back_as_a_whole(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    db = Database(pg_url)
    try:
        migrate.upgrade(db.engine, start)
        revision = migrate.current_revision(db.engine)
        failing = later_release(tmp_path, FAILS)
        monkeypatch.setattr(migrate, "alembic_dir", lambda: failing)
        with pytest.raises(upgrade.DatabaseUpgradeError) as failed:
            upgrade.migrate_database(db, tmp_path / "backups")
        assert failed.value.message == upgrade.ROLLED_BACK and failed.value.backup is None
        assert migrate.current_revision(db.engine) == revision, "every revision of the run was rolled back"
        names = set(inspect(db.engine).get_table_names())
        assert "later_things" not in names
        assert ("risk_flag_reviews" in names) == (start == "head")
        assert "later_field" not in {c["name"] for c in inspect(db.engine).get_columns("therapy_sessions")}
        assert not (tmp_path / "backups").exists(), "a server database is never copied to a file"
    finally:
        db.dispose()


# -- no copy where none is needed, none where it cannot be made ---------------------------------------------------


def test_a_new_database_and_one_at_head_need_no_copy(make_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    with caplog.at_level(logging.INFO, logger="tbdesktop.services.upgrade"):
        AppContext.open(settings).close()  # brand new: no revision yet
        ctx = AppContext.open(settings)  # this release's head already
    try:
        assert migrate.current_revision(ctx.db.engine) == migrate.head_revision()
    finally:
        ctx.close()
    assert not (settings.data_dir / "backups").exists()
    assert "database backup taken" not in [r.getMessage() for r in caplog.records]


def test_without_room_for_the_copy_nothing_is_migrated(previous: Previous, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {previous.database: sha256(previous.database), previous.keyfile: sha256(previous.keyfile)}
    monkeypatch.setattr(upgrade.shutil, "disk_usage", lambda _path: SimpleNamespace(total=1 << 40, free=1024))
    with pytest.raises(upgrade.DatabaseUpgradeError) as refused:
        previous.open()
    assert "MB free" in refused.value.message and "Nothing was changed" in refused.value.message
    assert {p: sha256(p) for p in before} == before
    assert backup_folders(previous) == []
    monkeypatch.undo()
    db = previous.raw()
    try:
        assert migrate.current_revision(db.engine) == FIRST
    finally:
        db.dispose()
