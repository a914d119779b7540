"""Runs Alembic migrations programmatically (at start-up, from `tbdesktop migrate`, and in the bundle).

On SQLite each revision runs in its own transaction (SQLite's DDL is not transactional in Alembic's sense), so a
failure part-way leaves the file at an intermediate revision: the caller keeps a copy of the file first
(``tbdesktop.services.upgrade``). On PostgreSQL the whole run is one transaction (transactional DDL, one
``begin_transaction`` in ``alembic/env.py``), which a failure rolls back.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine

from alembic import command

BASE = "base"
HEAD = "head"


def alembic_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "alembic"
    return Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(alembic_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(alembic_dir()))
    return ScriptDirectory.from_config(cfg)


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = BASE) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine | None = None) -> str | None:
    return _scripts().get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


def is_known(revision: str) -> bool:
    """Whether this release has the revision's script (a database migrated by a newer release has one it lacks)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def resolve(target: str) -> str | None:
    """The revision id a target names (``head``, ``base`` → None, an id or a unique prefix of one)."""
    if target == BASE:
        return None
    if target == HEAD:
        return head_revision()
    try:
        script = _scripts().get_revision(target)
    except CommandError:
        script = None
    if script is None:
        raise ValueError(f"unknown revision {target!r}")
    return script.revision


def is_below(revision: str | None, current: str | None) -> bool:
    """Whether ``revision`` (None: base) comes before ``current`` in the history (a move there is a downgrade)."""
    if current is None or revision == current:
        return False
    if revision is None:
        return True
    return any(s.revision == revision for s in _scripts().iterate_revisions(current, BASE))


def migrate_to(engine: Engine, target: str = HEAD) -> None:
    """Upgrade or downgrade to the target, whichever way it lies from the database's revision."""
    wanted = resolve(target)
    current = current_revision(engine)
    if wanted == current:
        return
    if is_below(wanted, current):
        downgrade(engine, wanted or BASE)
    else:
        upgrade(engine, wanted or HEAD)
