"""The local SQLite database encrypted at rest with SQLCipher (ADR 0016).

Every connection is keyed (``PRAGMA key`` with the raw 256-bit key, so no passphrase derivation runs per
connection) before anything else touches the file. A database written by an earlier release in plain SQLite is
encrypted in place once: exported into a new encrypted file, checked, swapped in atomically, and the plaintext is
then overwritten and removed.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.paths import sync_folder

log = logging.getLogger(__name__)

KEY_BYTES = 32
PLAIN_HEADER = b"SQLite format 3\x00"
ENCRYPTING_SUFFIX = ".encrypting"
BACKUP_SUFFIX = ".plaintext-backup"
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


class DatabaseKeyError(TBError):
    """The database file does not open with the key that was given."""


def dbapi() -> Any:
    import sqlcipher3.dbapi2

    return sqlcipher3.dbapi2


def _key_pragma(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise ValueError("a database key is 32 bytes")
    return f"PRAGMA key = \"x'{key.hex()}'\""


def file_state(path: Path) -> str:
    """``absent`` (no file, or an empty one), ``plaintext`` (plain SQLite) or ``encrypted``."""
    try:
        with path.open("rb") as f:
            head = f.read(len(PLAIN_HEADER))
    except (FileNotFoundError, NotADirectoryError):
        return "absent"
    if not head:
        return "absent"
    return "plaintext" if head == PLAIN_HEADER else "encrypted"


def make_private(path: Path) -> None:
    """Readable by this account only (the database, its write-ahead log and shared-memory files)."""
    if os.name != "posix":
        return
    for candidate in (path, *(Path(f"{path}{s}") for s in SIDE_SUFFIXES)):
        try:
            if candidate.exists() and (candidate.stat().st_mode & 0o777) != 0o600:
                candidate.chmod(0o600)
        except OSError:
            pass


def create_private(path: Path) -> None:
    """An empty file, mode 0600, before SQLite first opens it: SQLite gives the -wal and -shm files it creates
    the database file's mode, so they are private from the start too."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def connect(path: Path | str, key: bytes | None, *, timeout: float = 10.0) -> Any:
    """A DB-API connection; with ``key`` the file is opened (or created) encrypted, and the key is checked."""
    conn = dbapi().connect(str(path), timeout=timeout, check_same_thread=False)
    if key is None:
        return conn
    try:
        conn.execute(_key_pragma(key))
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except dbapi().DatabaseError as exc:
        conn.close()
        raise DatabaseKeyError(
            "The database on this computer does not open with this key: it was encrypted with another one."
        ) from exc
    return conn


def creator(path: Path, key: bytes, timeout: float = 10.0) -> Callable[[], Any]:
    """For ``create_engine(..., creator=...)``: every pooled connection is keyed before SQLAlchemy sees it."""

    def open_connection() -> Any:
        return connect(path, key, timeout=timeout)

    return open_connection


# -- secure removal ---------------------------------------------------------------------------------------


def secure_remove(path: Path) -> None:
    """Overwrite the file's bytes with zeros (flushed to disk), then unlink it.

    On copy-on-write file systems and SSDs the old blocks may survive an overwrite; full-disk encryption covers
    that (ADR 0016)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    try:
        with path.open("r+b", buffering=0) as f:
            block = b"\0" * (1 << 20)
            left = size
            while left > 0:
                left -= f.write(block[: min(left, len(block))])
            os.fsync(f.fileno())
    finally:
        path.unlink(missing_ok=True)


# -- encrypting a plaintext database in place ----------------------------------------------------------------


def _tables(conn: Any, schema: str = "main") -> list[str]:
    rows = conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _counts(conn: Any, schema: str = "main") -> dict[str, int]:
    return {t: int(conn.execute(f'SELECT count(*) FROM {schema}."{t}"').fetchone()[0]) for t in _tables(conn, schema)}


def recover_interrupted(path: Path) -> None:
    """Tidy up after an encryption that was cut short (a crash, a power cut) before anything else opens the file."""
    encrypting = Path(f"{path}{ENCRYPTING_SUFFIX}")
    backup = Path(f"{path}{BACKUP_SUFFIX}")
    for leftover in (encrypting, *(Path(f"{encrypting}{s}") for s in SIDE_SUFFIXES)):
        leftover.unlink(missing_ok=True)  # an unfinished encrypted copy: ciphertext, and incomplete
    if not backup.exists():
        return
    if file_state(path) == "absent":
        os.replace(backup, path)  # the swap never happened: the original goes back
        log.warning("database encryption interrupted; original restored")
    elif path.exists() and os.path.samefile(backup, path):
        backup.unlink()  # a second name of the live file, never overwritten
    else:
        secure_remove(backup)  # the encrypted file is in place; the plaintext copy goes


def encrypt_in_place(path: Path, key: bytes, *, before_swap: Callable[[], None] | None = None) -> None:
    """Encrypt the plain SQLite database at ``path`` with ``key``.

    The original stays untouched and in use until the encrypted copy is complete and has every row; then the
    encrypted file replaces it in one rename, and the plaintext is overwritten and removed. On any failure the
    original is left as it was and a ``TBError`` says why. ``before_swap`` runs just before the rename (the key
    slots are saved there, so the new file is never on disk without a way to open it)."""
    encrypting = Path(f"{path}{ENCRYPTING_SUFFIX}")
    backup = Path(f"{path}{BACKUP_SUFFIX}")
    recover_interrupted(path)
    size = path.stat().st_size + sum(
        Path(f"{path}{s}").stat().st_size for s in SIDE_SUFFIXES if Path(f"{path}{s}").exists()
    )
    free = shutil.disk_usage(path.parent).free
    if free < size * 2 + (16 << 20):
        raise TBError(
            "The database could not be encrypted: the disk holding the data folder needs about "
            f"{(size * 2) >> 20} MB free. It is unchanged and still works; encryption is tried again at the next "
            "start."
        )
    swapped = False
    try:
        plain = connect(path, None)
        try:
            plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            user_version = int(plain.execute("PRAGMA user_version").fetchone()[0])
            before = _counts(plain)
            create_private(encrypting)
            plain.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", (str(encrypting),))
            plain.execute("SELECT sqlcipher_export('encrypted')")
            plain.execute(f"PRAGMA encrypted.user_version = {user_version}")
            plain.commit()
            plain.execute("DETACH DATABASE encrypted")
        finally:
            plain.close()
        check = connect(encrypting, key)
        try:
            after = _counts(check)
            verdict = str(check.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            check.close()
        if after != before or verdict != "ok":
            raise TBError("The database could not be encrypted: the encrypted copy did not match the original.")
        with encrypting.open("rb+") as f:
            os.fsync(f.fileno())
        # The backup is a second name of the original (no extra plaintext copy on disk) where links work.
        try:
            os.link(path, backup)
        except OSError:
            shutil.copy2(path, backup)
            make_private(backup)
        if before_swap is not None:
            before_swap()
        os.replace(encrypting, path)
        swapped = True
        sync_folder(path.parent)
    except TBError:
        _discard(encrypting, backup, path, swapped)
        raise
    except Exception as exc:
        _discard(encrypting, backup, path, swapped)
        log.warning("database encryption failed", extra={"error_type": type(exc).__name__})
        raise TBError(
            f"The database could not be encrypted ({type(exc).__name__}). It is unchanged and still works; "
            "encryption is tried again at the next start."
        ) from exc
    # The old plaintext write-ahead files were emptied by the checkpoint; remove what is left of them, then the
    # plaintext itself (the backup name is now its only name).
    for side in SIDE_SUFFIXES:
        secure_remove(Path(f"{path}{side}"))
    secure_remove(backup)
    make_private(path)
    log.info("database encrypted", extra={"bytes": size})


def _discard(encrypting: Path, backup: Path, path: Path, swapped: bool) -> None:
    for leftover in (encrypting, *(Path(f"{encrypting}{s}") for s in SIDE_SUFFIXES)):
        leftover.unlink(missing_ok=True)
    if swapped or not backup.exists():
        return
    if path.exists() and os.path.samefile(backup, path):
        backup.unlink()
    else:
        secure_remove(backup)
