"""`migrate`: move the database's schema to a revision, a copy of a local database kept until it succeeded."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, settings_for, wanted_user
from tbdesktop.cli.passcodes import database_credentials
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_migrate(args: argparse.Namespace) -> int:
    # the store brings SQLAlchemy and Alembic: loaded when the command runs, not at start-up
    from tbdesktop.services import upgrade
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.secrets import SecretVault
    from tbdesktop.store import migrate
    from tbdesktop.store.db import Database

    settings = settings_for(args)
    target = args.to or migrate.HEAD
    try:
        wanted = migrate.resolve(target)
    except ValueError:
        raise TBError(f"There is no database revision {target!r} in this version of TherapyBridge.") from None
    vault = SecretVault(settings.secrets_dir, settings.secret_store)
    keys = AppContext.database_keys_for(settings, vault)
    credentials = database_credentials(wanted_user(args))
    backups = upgrade.backups_dir(settings.data_dir)
    if keys is not None:
        upgrade.recover_interrupted(keys.database, backups)
    key = keys.resolve(credentials) if keys is not None else None
    db = Database(settings.effective_database_url, key)
    kept = None
    try:
        before = upgrade.check_known(db)
        if wanted != migrate.head_revision():
            # an older revision (IT rolling back): the copy taken first is kept, as the downgrade drops data
            outcome = upgrade.migrate_database(
                db,
                backups,
                companions=[keys.path] if keys is not None else [],
                target=target,
                keep_backup=migrate.is_below(wanted, before),
            )
            kept = outcome.backup
    finally:
        db.dispose()
    rev = wanted
    if wanted == migrate.head_revision():
        # the path of every start: copy, migrate, put back on failure; then this release's start-up steps
        ctx = AppContext.open(settings, secrets=vault, keys=keys, credentials=credentials)
        try:
            rev = migrate.current_revision(ctx.db.engine)
        finally:
            ctx.close()
    data = {"revision": rev, "from_revision": before, "backup": str(kept) if kept is not None else None}

    def human() -> None:
        echo(f"Database at revision {rev}" + (f" (was {before})" if before != rev else " (no change)"))
        if kept is not None:
            echo(f"A copy of the database as it was before is kept in {kept}")

    emit(args, data, human)
    return EXIT_OK


def add_migrate_command(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("migrate", parents=[common], help="apply database migrations (a local database is copied first)")
    p.add_argument(
        "--to", default=None, help="revision (default: head; 'base' removes every table; an older one rolls back)"
    )
    p.set_defaults(func=cmd_migrate)
