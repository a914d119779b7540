"""Both sides must speak the same schema: an op written under a revision the server does not have, or a server at
a revision this workstation does not know, pauses sync with a message saying which side to update."""

from __future__ import annotations

from functools import cache

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from tbdesktop.errors import TBError
from tbdesktop.store import migrate


class SchemaMismatchError(TBError):
    """Sync is paused until one side is updated."""


@cache
def known_revisions() -> tuple[str, ...]:
    """This release's revisions, oldest first."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.alembic_dir()))
    script = ScriptDirectory.from_config(cfg)
    return tuple(reversed([rev.revision for rev in script.walk_revisions()]))


def server_revision(server: Connection) -> str | None:
    return server.execute(text("SELECT version_num FROM alembic_version LIMIT 1")).scalar()


def check_revisions(server: Connection, op_revisions: set[str]) -> str | None:
    rev = server_revision(server)
    known = known_revisions()
    if rev is None:
        raise SchemaMismatchError("The clinic server has not been set up (run `tbdesktop clinic init` there).")
    if rev not in known:
        raise SchemaMismatchError(
            "The clinic server runs a newer TherapyBridge schema: update TherapyBridge on this workstation."
        )
    for op_rev in op_revisions:
        if op_rev not in known or known.index(op_rev) > known.index(rev):
            raise SchemaMismatchError(
                "Changes here were made with a newer TherapyBridge than the clinic server's: "
                "update TherapyBridge on the server (`tbdesktop clinic init`)."
            )
    return rev
