"""Moving the local database to this release's schema without ever losing it (the first start after an upgrade).

Before a local SQLite database at an older revision is migrated, the database file and its key file are copied
into ``<data>/backups/<database>-<revision>-<time>/`` (folder 0700, files 0600, with a manifest of their SHA-256).
The migration runs; once it succeeded the copy is removed. When it fails, the copy is put back over the database,
checked byte for byte against the manifest, and a plain message says so. A copy whose manifest still says
"migrating" at the next start is a migration that was cut short (a crash, a power cut): it is put back before
anything opens the database, and the migration runs again.

A database newer than this release (a revision it does not know) is never touched. PostgreSQL gets no file copy:
its migrations run in one transaction (transactional DDL), which a failure rolls back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets as _random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.paths import sync_folder
from tbdesktop.services.digest import sha256_of
from tbdesktop.services.secrets import file_lock
from tbdesktop.store import cipher, migrate
from tbdesktop.store.db import Database, sqlite_file

log = logging.getLogger(__name__)

BACKUPS = "backups"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "tbdesktop-database-backup"
MIGRATING = "migrating"  # the copy of a migration in progress: put back at the next start if still there
KEPT = "kept"  # a copy kept on purpose (before a downgrade): never put back on its own
LOCK_TIMEOUT_S = 30 * 60.0  # another process may be migrating a large database
CHUNK = 1 << 20

FAILED = (
    "TherapyBridge could not update its database to this version. The database was put back exactly as it was "
    "before, so nothing was lost. To keep working, install the previous version of TherapyBridge again, or ask your "
    "IT support for help (the log file has the details)."
)
NOT_RESTORED = (
    "TherapyBridge could not update its database to this version, and could not put it back as it was on its own. "
    "A copy of the database as it was before the update is kept in {backup}: do not delete it. Ask your IT support "
    "to put it back (the log file has the details)."
)
ROLLED_BACK = (
    "TherapyBridge could not update the clinic database to this version. The update was undone as a whole, so the "
    "database is as it was and nothing was lost. Ask your IT support for help; until then, the previous version of "
    "TherapyBridge keeps working with it (the log file has the details)."
)
UNCHANGED = "The database was left exactly as it was, so nothing was lost."
NEWER = (
    "This data was last used by a newer version of TherapyBridge (database revision {revision}), which this "
    "version cannot open. Nothing was changed: install that newer version again to open it."
)


class DatabaseUpgradeError(TBError):
    """The database could not be moved to this release's schema; ``backup`` is the copy kept, if one was."""

    def __init__(self, message: str, backup: Path | None = None) -> None:
        super().__init__(message)
        self.backup = backup


class NewerDatabaseError(TBError):
    """The database was migrated by a newer release: this one leaves it alone."""


@dataclass(frozen=True)
class Outcome:
    from_revision: str | None
    to_revision: str | None
    backup: Path | None = None  # the copy kept (a downgrade's), else None

    @property
    def migrated(self) -> bool:
        return self.from_revision != self.to_revision


def backups_dir(data_dir: Path) -> Path:
    return data_dir / BACKUPS


# -- the lock between processes (the window and a command starting at once) ----------------------------------


def _locked(database: Path) -> contextlib.AbstractContextManager[None]:
    return file_lock(
        database.with_name(f".{database.name}.upgradelock"),
        LOCK_TIMEOUT_S,
        busy=lambda: TBError("Another TherapyBridge window is updating the database. Try again when it is done."),
    )


# -- the copy -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    folder: Path
    database: Path  # the live database the copy was taken of
    files: dict[str, str]  # file name (beside the database) → SHA-256
    revision: str | None

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST


def _copy_private(source: Path, dest: Path) -> str:
    """Copy ``source`` to a new private file ``dest`` (flushed to disk); returns the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _write_manifest(backup: Backup, state: str) -> None:
    doc = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "state": state,
        "database": str(backup.database),
        "revision": backup.revision,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [{"name": name, "sha256": sha} for name, sha in backup.files.items()],
    }
    tmp = backup.folder / f".{MANIFEST}.{_random.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(json.dumps(doc, indent=1).encode("utf-8"))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, backup.manifest)
    sync_folder(backup.folder)


def _read_manifest(folder: Path) -> tuple[Backup, str] | None:
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if doc.get("format") != MANIFEST_FORMAT:
            return None
        files = {str(f["name"]): str(f["sha256"]) for f in doc["files"]}
        backup = Backup(folder, Path(doc["database"]), files, doc.get("revision"))
        return backup, str(doc.get("state"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        with contextlib.suppress(OSError):
            path.chmod(0o700)


def _quiesce(db: Database) -> None:
    """Everything in the write-ahead log into the file, and every connection closed, so the file alone is the
    database."""
    with contextlib.suppress(Exception), db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()


def _take_backup(db: Database, database: Path, companions: Sequence[Path], backups: Path, revision: str) -> Backup:
    _quiesce(db)
    # -shm is only an index of the -wal file, rebuilt by SQLite; a -wal left non-empty (another process still has
    # the database open) is part of the database and is copied with it.
    wal = Path(f"{database}-wal")
    sources = [database, *([wal] if wal.exists() and wal.stat().st_size else []), *companions]
    sources = [p for p in sources if p.exists()]
    for p in sources:
        if p.parent != database.parent:
            raise ValueError("a database's companion files sit beside it")
    size = sum(p.stat().st_size for p in sources)
    _make_private_dir(backups)
    free = shutil.disk_usage(backups).free
    if free < size * 2 + (16 << 20):
        raise DatabaseUpgradeError(
            "TherapyBridge must update its database for this version and keeps a copy of it first, but the disk "
            f"holding the data folder needs about {max(1, (size * 2) >> 20)} MB free. Nothing was changed: free "
            "some space and start TherapyBridge again."
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = backups / f"{database.stem}-{revision}-{stamp}"
    while folder.exists():
        folder = backups / f"{database.stem}-{revision}-{stamp}-{_random.token_hex(2)}"
    try:
        folder.mkdir(mode=0o700)
        files: dict[str, str] = {}
        for source in sources:
            files[source.name] = _copy_private(source, folder / source.name)
            if sha256_of(source) != files[source.name]:
                raise OSError("the file changed while it was copied")
        backup = Backup(folder, database, files, revision)
        _write_manifest(backup, MIGRATING)  # the copy counts from here on
        sync_folder(backups)
    except OSError as exc:
        _remove_folder(folder)
        log.warning("database backup failed", extra={"error_type": type(exc).__name__})
        raise DatabaseUpgradeError(
            "TherapyBridge must update its database for this version and keeps a copy of it first, but the copy "
            f"could not be made ({exc.strerror or exc}). Nothing was changed: check the data folder and start "
            "TherapyBridge again."
        ) from exc
    log.info("database backup taken", extra={"revision": revision, "bytes": size, "backup": folder.name})
    return backup


def _remove_folder(folder: Path) -> None:
    """The copy is as private as the database: its files are overwritten before they go."""
    if not folder.exists():
        return
    (folder / MANIFEST).unlink(missing_ok=True)  # first: a copy without a manifest is never put back
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            cipher.secure_remove(path) if path.is_file() else shutil.rmtree(path)
    with contextlib.suppress(OSError):
        folder.rmdir()


def remove_backup(backup: Backup) -> None:
    _remove_folder(backup.folder)
    log.info("database backup removed", extra={"backup": backup.folder.name})


def _restore(backup: Backup) -> bool:
    """Put the copy back over the database (every connection to it closed); True when every file is back byte for
    byte."""
    database = backup.database
    try:
        # what the failed run left beside the file belongs to the failed run
        for suffix in cipher.SIDE_SUFFIXES:
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        for name, sha in backup.files.items():
            dest = database.with_name(name)
            tmp = database.with_name(f".{name}.{_random.token_hex(4)}.restoring")
            try:
                if _copy_private(backup.folder / name, tmp) != sha:
                    return False
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        sync_folder(database.parent)
        return all(sha256_of(database.with_name(name)) == sha for name, sha in backup.files.items())
    except OSError as exc:
        log.warning("database restore failed", extra={"error_type": type(exc).__name__})
        return False


def _put_back(backup: Backup) -> None:
    """After a failed or interrupted migration: the copy goes back and is removed; if it cannot, it is kept and
    the error says where."""
    if _restore(backup):
        log.warning("database restored from its backup", extra={"revision": backup.revision})
        remove_backup(backup)
        return
    log.error("database could not be restored; backup kept", extra={"backup": backup.folder.name})
    raise DatabaseUpgradeError(NOT_RESTORED.format(backup=backup.folder), backup.folder)


def recover_interrupted(database: Path, backups: Path) -> bool:
    """A migration cut short (a crash, a power cut) left its copy: it is put back before anything opens the
    database. True when one was."""
    if not backups.is_dir() or not database.parent.is_dir():
        return False
    with _locked(database):
        found = False
        for folder in sorted(backups.iterdir(), reverse=True):
            read = _read_manifest(folder) if folder.is_dir() else None
            if read is None or read[1] != MIGRATING or read[0].database.resolve() != database.resolve():
                continue
            log.warning("database migration was interrupted; restoring its backup", extra={"backup": folder.name})
            _put_back(read[0])
            found = True
        return found


# -- the migration ----------------------------------------------------------------------------------------------


def check_known(db: Database) -> str | None:
    """The database's revision; a revision this release does not know (a newer release's) is refused."""
    current = migrate.current_revision(db.engine)
    if current is not None and not migrate.is_known(current):
        log.warning("database is newer than this release", extra={"revision": current})
        raise NewerDatabaseError(NEWER.format(revision=current))
    return current


def migrate_database(
    db: Database,
    backups: Path,
    *,
    companions: Sequence[Path] = (),
    target: str = migrate.HEAD,
    keep_backup: bool = False,
    then: Callable[[], Any] | None = None,
) -> Outcome:
    """Move the database to ``target`` (this release's head by default), a local database's copy taken first.

    ``companions`` are files beside the database that belong with it (the key file); ``then`` is what else the
    start-up changes in the database for this release (run inside the same guard: if it fails, the copy goes
    back too). ``keep_backup`` keeps the copy after a success (before a downgrade, which drops data)."""
    current = check_known(db)
    wanted = migrate.resolve(target)
    database = sqlite_file(db.url)
    if wanted == current or database is None or current is None:
        # up to date; PostgreSQL (one transaction, rolled back on failure); or a new database (nothing to lose)
        if wanted != current:
            try:
                migrate.migrate_to(db.engine, target)
            except Exception as exc:
                if database is not None or current is None:
                    raise
                log.warning(
                    "database migration failed and was rolled back",
                    extra={"from_revision": current, "to_revision": wanted, "error_type": type(exc).__name__},
                )
                if isinstance(exc, TBError):
                    raise DatabaseUpgradeError(f"{exc.message} {UNCHANGED}") from exc
                raise DatabaseUpgradeError(ROLLED_BACK) from exc
            log.info("database migrated", extra={"from_revision": current, "to_revision": wanted})
        if then is not None:
            then()
        return Outcome(current, wanted)
    with _locked(database):
        current = check_known(db)  # another process may have migrated it while this one waited
        if current == wanted or current is None:
            if current != wanted:
                migrate.migrate_to(db.engine, target)
            if then is not None:
                then()
            return Outcome(current, wanted)
        backup = _take_backup(db, database, companions, backups, current)
        try:
            migrate.migrate_to(db.engine, target)
            if then is not None:
                then()
        except Exception as exc:
            reached: str | None = None
            with contextlib.suppress(Exception):
                reached = migrate.current_revision(db.engine)  # the last revision that was applied
            db.dispose()
            log.warning(
                "database migration failed",
                extra={
                    "from_revision": current,
                    "to_revision": wanted,
                    "reached_revision": reached,
                    "error_type": type(exc).__name__,
                },
            )
            _put_back(backup)
            if isinstance(exc, TBError):  # a migration that refused, saying why
                raise DatabaseUpgradeError(f"{exc.message} {UNCHANGED}") from exc
            raise DatabaseUpgradeError(FAILED) from exc
        log.info("database migrated", extra={"from_revision": current, "to_revision": wanted})
        if keep_backup:
            _write_manifest(backup, KEPT)
            return Outcome(current, wanted, backup.folder)
        remove_backup(backup)
        return Outcome(current, wanted)
