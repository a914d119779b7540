"""`migrate`: move the database's schema to a revision."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, open_context, settings_for, wanted_user
from tbdesktop.cli.passcodes import database_credentials

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_migrate(args: argparse.Namespace) -> int:
    # the store brings SQLAlchemy and Alembic: loaded when the command runs, not at start-up
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.secrets import SecretVault
    from tbdesktop.store import migrate
    from tbdesktop.store.db import Database

    settings = settings_for(args)
    if args.to == "head" or args.to is None:
        ctx = open_context(args)
        rev = migrate.current_revision(ctx.db.engine)
        ctx.close()
    else:
        keys = AppContext.database_keys_for(settings, SecretVault(settings.secrets_dir, settings.secret_store))
        key = keys.resolve(database_credentials(wanted_user(args))) if keys is not None else None
        db = Database(settings.effective_database_url, key)
        migrate.downgrade(db.engine, args.to) if args.to == "base" else migrate.upgrade(db.engine, args.to)
        rev = migrate.current_revision(db.engine)
        db.dispose()
    emit(args, {"revision": rev}, lambda: echo(f"Database at revision {rev}"))
    return EXIT_OK


def add_migrate_command(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    p.add_argument("--to", default=None, help="revision (default: head; 'base' removes every table)")
    p.set_defaults(func=cmd_migrate)
