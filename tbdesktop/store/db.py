"""Database engines and units of work for SQLite (single workstation) and PostgreSQL (clinic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tbdesktop.store import cipher


def normalise_url(url: str) -> str:
    """Plain postgresql:// URLs use psycopg 3, the driver we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows (a transcript, a recording's key) are overwritten with zeros, not left in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, key: bytes | None = None) -> Engine:
    """An engine for the URL. With ``key`` (SQLite only), every connection goes through SQLCipher and is keyed
    before anything else runs on it (ADR 0016)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None:
            cipher.create_private(path)
        if key is not None:
            if path is None:
                raise ValueError("an encrypted database needs a file")
            engine = create_engine(url, module=cipher.dbapi(), creator=cipher.creator(path, key))
        else:
            engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None:
            event.listen(engine, "connect", lambda *_: cipher.make_private(path))
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


class Database:
    """An engine plus a session factory; `unit_of_work()` commits on success, rolls back on error."""

    def __init__(self, url: str, key: bytes | None = None) -> None:
        self.url = normalise_url(url)
        self.encrypted = key is not None
        self.engine = make_engine(self.url, key)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def flush_deleted(self) -> None:
        """After PHI was deleted: empty SQLite's write-ahead log, which still holds the pages as they were before
        the deletion, so the deleted bytes are gone from the database files. Nothing to do on PostgreSQL."""
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()
