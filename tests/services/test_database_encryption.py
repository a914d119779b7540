"""The local database encrypted at rest (ADR 0016): real SQLCipher files, the real secret stores (the in-memory
keyring, and the passcode-encrypted file store), the files' bytes searched for the fixture's words."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from tbdesktop.errors import TBError
from tbdesktop.services.context import AppContext
from tbdesktop.services.database_keys import DatabaseLockedError
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording_vault import RecordingVault
from tbdesktop.services.search import SearchService
from tbdesktop.services.secrets import SecretVault, WrongPasscodeError
from tbdesktop.services.sessions import SessionService
from tbdesktop.store import builtin_templates, cipher, migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import Client, Note, ProcessingStatus, TherapySession, TranscriptSegment

PASSCODE = "vault-passcode-7"
CLIENT = "Marisol Quintero"
# Words no schema, template or migration contains: if any is in a file's bytes, the file holds PHI in the clear.
WORDS = ("zanzibarite", "quokkaflute", "thimbleberry", "glockenspire")
LINES = [
    ("therapist", "How did the zanzibarite dream feel this week?"),
    ("client", "Like a quokkaflute playing under the thimbleberry bushes."),
]
NOTE_TEXT = "Client described the glockenspire recurring at night."


def db_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("tbdesktop.sqlite3"))


def assert_no_plaintext(folder: Path) -> None:
    files = db_files(folder)
    assert files, "no database file"
    for path in files:
        data = path.read_bytes()
        for needle in (*WORDS, CLIENT, CLIENT.split()[1]):
            for form in (needle.encode("utf-8"), needle.encode("utf-16-le")):
                assert form not in data, f"{needle!r} is readable in {path.name}"


def seed(db: Database, owner: uuid.UUID) -> uuid.UUID:
    """A processed session: the client, transcript lines and a note (as processing would have written them)."""
    with db.unit_of_work() as s:
        client = Client(owner_id=owner, name=CLIENT)
        s.add(client)
        s.flush()
        session_id = uuid.uuid4()
        s.execute(
            insert(TherapySession).values(
                id=session_id, owner_id=owner, client_id=client.id, session_date=date(2026, 11, 20),
                processing_status=ProcessingStatus.COMPLETED, processing_progress=100, speakers={},
            )
        )  # fmt: skip
        for idx, (role, text) in enumerate(LINES):
            s.execute(
                insert(TranscriptSegment).values(
                    session_id=session_id, idx=idx, start_s=idx * 5.0, end_s=idx * 5.0 + 4.0,
                    speaker=f"SPEAKER_0{idx}", role=role, text=text, words=[],
                )
            )  # fmt: skip
        s.add(
            Note(
                session_id=session_id, version=1, status="draft", generator="local", created_at=datetime.now(UTC),
                sections={"assessment": {"title": "Assessment", "position": 0, "text": NOTE_TEXT, "evidence": []}},
            )
        )  # fmt: skip
    return session_id


def counts(db: Database) -> dict[str, int]:
    with db.unit_of_work() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Client, TherapySession, TranscriptSegment, Note)
        }


def found(ctx: AppContext, user: Any, word: str) -> set[str]:
    return {hit.kind for hit in SearchService(ctx, user).search_sync(word)}


@pytest.fixture(params=["keyring", "file"])
def store_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_ctx(make_settings: Any, mode: str, passcode: str | None = PASSCODE, **kw: Any) -> AppContext:
    settings = make_settings(secret_store=mode)
    if mode == "keyring":
        return AppContext.open(settings, **kw)
    return AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, passcode), **kw)


@pytest.fixture
def seeded(make_settings: Any, store_mode: str) -> Iterator[tuple[AppContext, Any, uuid.UUID]]:
    ctx = AppContext.open(make_settings(secret_store=store_mode))
    user = ProfileService(ctx).create_profile_sync("Dana Reyes", "dana@example.org", passcode=PASSCODE)
    session_id = seed(ctx.db, user.id)
    yield ctx, user, session_id
    ctx.close()


def test_database_files_hold_no_plaintext(seeded: Any, tmp_path: Path, store_mode: str) -> None:
    ctx, user, session_id = seeded
    data = tmp_path / "data"
    assert ctx.db.encrypted and cipher.file_state(data / "tbdesktop.sqlite3") == "encrypted"
    # Full-text search works on the encrypted database (SQLCipher's FTS5), over transcript, note and client.
    assert found(ctx, user, "quokkaflute") == {"transcript"}
    assert found(ctx, user, "glockenspire") == {"note"}
    assert "client" in found(ctx, user, "Quintero")
    shown = SessionService(ctx, user).get_sync(session_id)
    assert shown.client_name == CLIENT
    # While open (the write-ahead log holds the latest pages) and after closing.
    assert (data / "tbdesktop.sqlite3-wal").exists()
    assert_no_plaintext(data)
    ctx.close()
    assert_no_plaintext(data)
    keyfile = (data / "tbdesktop.keys").read_bytes()
    for needle in (*WORDS, CLIENT, PASSCODE):
        assert needle.encode() not in keyfile
    # Without the key, SQLCipher (or plain SQLite) reads nothing from it.
    raw = cipher.connect(data / "tbdesktop.sqlite3", None)
    with pytest.raises(cipher.dbapi().DatabaseError):
        raw.execute("SELECT count(*) FROM sqlite_master").fetchone()
    raw.close()
    with pytest.raises(cipher.DatabaseKeyError):
        cipher.connect(data / "tbdesktop.sqlite3", os.urandom(32))
    # The same secret store opens it again, and everything is there.
    again = open_ctx(lambda **kw: ctx.settings, store_mode)
    try:
        assert counts(again.db) == {"clients": 1, "therapy_sessions": 1, "transcript_segments": 2, "notes": 1}
        assert found(again, user, "thimbleberry") == {"transcript"}
    finally:
        again.close()


def test_a_wrong_or_empty_passcode_opens_nothing(make_settings: Any) -> None:
    ctx = AppContext.open(make_settings(secret_store="file"))
    user = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode=PASSCODE)
    seed(ctx.db, user.id)
    ctx.close()
    settings = make_settings(secret_store="file")
    with pytest.raises(WrongPasscodeError, match="not right"):
        AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, "not-the-passcode"))
    for empty in ("", None):
        with pytest.raises(DatabaseLockedError, match="encrypted: enter your passcode"):
            AppContext.open(settings, credentials=lambda profiles, p=empty: (profiles[0].id, p))  # type: ignore[misc]
    with pytest.raises(DatabaseLockedError, match="encrypted"):
        AppContext.open(settings)
    # Before the database is open, the key file lists the profiles to sign in to (no client data).
    keys = AppContext.database_keys_for(settings, SecretVault(settings.secrets_dir, "file"))
    assert keys is not None and keys.needs_passcode()
    assert [p.display_name for p in keys.profiles()] == ["Dana Reyes"]
    keys.unlock(user.id, PASSCODE)
    reopened = AppContext.open(settings, keys=keys)
    try:
        assert found(reopened, user, "zanzibarite") == {"transcript"}
    finally:
        reopened.close()


def test_each_profile_opens_the_database_with_its_own_passcode(make_settings: Any) -> None:
    ctx = AppContext.open(make_settings(secret_store="file"))
    profiles = ProfileService(ctx)
    dana = profiles.create_profile_sync("Dana Reyes", passcode="dana-passcode")
    sam = profiles.create_profile_sync("Sam Okafor", passcode="sam-passcode")
    profiles.set_passcode_sync(sam.id, "sam-new-passcode", current="sam-passcode")
    ctx.close()
    settings = make_settings(secret_store="file")
    for user, passcode in ((dana, "dana-passcode"), (sam, "sam-new-passcode")):
        opened = AppContext.open(settings, credentials=lambda _, u=user, p=passcode: (u.id, p))  # type: ignore[misc]
        opened.close()
    with pytest.raises(WrongPasscodeError):  # the old passcode's slot is gone
        AppContext.open(settings, credentials=lambda _: (sam.id, "sam-passcode"))
    with pytest.raises(WrongPasscodeError):  # one profile's passcode does not open another's slot
        AppContext.open(settings, credentials=lambda _: (sam.id, "dana-passcode"))


def make_plaintext_database(make_settings: Any, mode: str) -> tuple[Any, Any, dict[str, int]]:
    """A database as an earlier release left it: plain SQLite, a profile with a passcode, a processed session."""
    settings = make_settings(secret_store=mode)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.effective_database_url)
    migrate.upgrade(db.engine)
    with db.unit_of_work() as s:
        builtin_templates.sync(s)
    vault = SecretVault(settings.secrets_dir, mode)
    old = AppContext(settings, db, "ws", vault, RecordingVault(settings.recordings_dir, vault))
    user = ProfileService(old).create_profile_sync("Dana Reyes", "dana@example.org", passcode=PASSCODE)
    seed(db, user.id)
    db.dispose()
    raw = cipher.connect(settings.data_dir / "tbdesktop.sqlite3", None)
    before = cipher._counts(raw)  # every table
    raw.close()
    path = settings.data_dir / "tbdesktop.sqlite3"
    assert cipher.file_state(path) == "plaintext" and CLIENT.encode() in path.read_bytes()
    return settings, user, before


def test_a_plaintext_database_is_encrypted_in_place(make_settings: Any, store_mode: str) -> None:
    settings, user, before = make_plaintext_database(make_settings, store_mode)
    ctx = open_ctx(make_settings, store_mode)  # the first start of this release
    try:
        data = settings.data_dir
        assert ctx.database_notice is None and ctx.db.encrypted
        assert cipher.file_state(data / "tbdesktop.sqlite3") == "encrypted"
        assert ctx.database_keys is not None and ctx.database_keys.key is not None
        raw = cipher.connect(data / "tbdesktop.sqlite3", ctx.database_keys.key)
        try:
            assert cipher._counts(raw) == before and before["transcript_segments"] == 2
        finally:
            raw.close()
        assert found(ctx, user, "quokkaflute") == {"transcript"}
        assert found(ctx, user, "glockenspire") == {"note"}
        assert migrate.is_up_to_date(ctx.db.engine)
        leftovers = [p.name for p in data.iterdir() if "backup" in p.name or "encrypting" in p.name]
        assert leftovers == []
        assert_no_plaintext(data)
    finally:
        ctx.close()
    if store_mode == "file":
        with pytest.raises(WrongPasscodeError):
            open_ctx(make_settings, store_mode, passcode="wrong-passcode")


def test_a_failed_encryption_leaves_the_original_working(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, user, before = make_plaintext_database(make_settings, "keyring")
    path = settings.data_dir / "tbdesktop.sqlite3"
    original = path.read_bytes()

    def no_swap(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cipher.os, "replace", no_swap)
    ctx = AppContext.open(settings)
    monkeypatch.undo()
    try:
        assert ctx.database_notice is not None and "unchanged and still works" in ctx.database_notice
        assert not ctx.db.encrypted and counts(ctx.db)["transcript_segments"] == before["transcript_segments"]
        assert found(ctx, user, "quokkaflute") == {"transcript"}
    finally:
        ctx.close()
    assert cipher.file_state(path) == "plaintext" and path.stat().st_size >= len(original) // 2
    assert sorted(p.name for p in settings.data_dir.iterdir() if "backup" in p.name or "encrypting" in p.name) == []
    retried = AppContext.open(settings)  # the next start tries again
    try:
        assert retried.db.encrypted and counts(retried.db)["notes"] == before["notes"] == 1
    finally:
        retried.close()


def test_an_interrupted_encryption_is_tidied_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "tbdesktop.sqlite3"
    backup = Path(f"{path}{cipher.BACKUP_SUFFIX}")
    conn = cipher.connect(path, None)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    os.replace(path, backup)  # cut off between the two renames: the original is under the backup name
    Path(f"{path}{cipher.ENCRYPTING_SUFFIX}").write_bytes(b"partial")
    cipher.recover_interrupted(path)
    assert cipher.file_state(path) == "plaintext" and not backup.exists()
    assert not Path(f"{path}{cipher.ENCRYPTING_SUFFIX}").exists()
    os.link(path, backup)  # cut off before the swap: the backup is a second name of the original
    cipher.recover_interrupted(path)
    assert not backup.exists() and cipher.file_state(path) == "plaintext"


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_database_files_are_private(seeded: Any, tmp_path: Path) -> None:
    ctx, _, _ = seeded
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [*db_files(data), data / "tbdesktop.keys"]
    assert {p.name for p in files} >= {"tbdesktop.sqlite3", "tbdesktop.sqlite3-wal", "tbdesktop.sqlite3-shm"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_log_files_are_private(tmp_path: Path) -> None:
    import logging

    from tbdesktop.logs import add_log_file

    log_path = add_log_file(tmp_path / "logs")
    assert log_path is not None
    try:
        logging.getLogger("tbdesktop.test").info("a line")
        assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "baseFilename", None) == str(log_path):
                logging.getLogger().removeHandler(handler)
                handler.close()


def test_clinic_database_is_not_touched(pg_url: str, make_settings: Any) -> None:
    ctx = AppContext.open(make_settings(pg_url))
    try:
        assert ctx.database_keys is None and not ctx.db.encrypted and ctx.db.dialect == "postgresql"
    finally:
        ctx.close()


def test_no_profile_yet_then_a_first_profile(make_settings: Any) -> None:
    """A run that ends before the first profile exists leaves a database nobody holds a key to; the next one
    starts afresh and its first profile opens the database."""
    settings = make_settings(secret_store="file")
    AppContext.open(settings).close()
    ctx = AppContext.open(settings)
    user = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode=PASSCODE)
    ctx.close()
    with pytest.raises(TBError):
        AppContext.open(settings)
    again = AppContext.open(settings, credentials=lambda _: (user.id, PASSCODE))
    again.close()


def test_without_a_keyring_a_profile_needs_a_passcode(make_settings: Any) -> None:
    from tbdesktop.errors import ValidationError

    ctx = AppContext.open(make_settings(secret_store="file"))
    try:
        with pytest.raises(ValidationError, match="passcode"):
            ProfileService(ctx).create_profile_sync("Dana Reyes")
        assert ProfileService(ctx).list_profiles_sync() == []
    finally:
        ctx.close()
