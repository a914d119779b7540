"""What syncs: each synced table, its key, whose row it is, which columns never leave the workstation, which
fields are last-writer-wins with a conflict record, and the order parents come before children.

The same list drives the local capture triggers, the push, the pull and the clinic server's schema.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, Uuid, and_, select

from tbdesktop.store.models import Base


@dataclass(frozen=True)
class SyncedTable:
    name: str
    key: tuple[str, ...]
    # SQL (SQLite) giving the owner's id of the row ``{r}`` (NEW or OLD) in the local database
    owner_sql: str
    # columns that stay on this workstation (recordings, their keys, live progress, local bookkeeping)
    local_only: frozenset[str] = frozenset()
    # fields merged last-writer-wins with the losing text kept in a conflict record
    lww: frozenset[str] = frozenset()
    # the parent table whose row must still exist for a deletion to be pushed (its own deletion covers children)
    parent: tuple[str, str, str] | None = None  # (table, local column, parent key column)
    push: bool = True
    pull: bool = True
    # on the server: a child table whose owner is derived from its session (column ``owner_id`` added there)
    server_owner_column: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.name]

    def columns(self) -> list[Column[object]]:
        return [c for c in self.table.columns if c.name not in self.local_only]

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns()]

    def key_tuple(self, key: dict[str, Any]) -> tuple[Any, ...]:
        """A key as the outbox holds it (uuids as text) in its columns' own types; a risk flag's is its session."""
        names = ("session_id",) if self.name == "risk_flags" else self.key
        return tuple(_typed(self.table.c[c], key[c]) for c in names)

    def key_condition(self, key: dict[str, Any]) -> ColumnElement[bool]:
        """The row with this key (as an outbox row or a tombstone gives it)."""
        return and_(*[self.table.c[c] == _typed(self.table.c[c], key[c]) for c in self.key])


def _typed(column: Column[Any], value: Any) -> Any:
    if isinstance(column.type, Uuid) and not isinstance(value, uuid.UUID):
        return uuid.UUID(str(value))
    return value


_SESSION_OWNER = "(SELECT owner_id FROM therapy_sessions WHERE id = {r}.session_id)"

# Parents before children. Users are the clinic's directory: pulled, never pushed (IT manages them).
SYNCED: tuple[SyncedTable, ...] = (
    SyncedTable(
        "users",
        ("id",),
        owner_sql="{r}.id",
        local_only=frozenset({"password_hash", "settings"}),
        push=False,
    ),
    SyncedTable(
        "note_templates",
        ("id",),
        # a clinic-wide template is pushed by this workstation's practice manager, if one joined here
        owner_sql=(
            "COALESCE({r}.user_id, (SELECT user_id FROM sync_accounts WHERE role = 'practice_manager' "
            "ORDER BY joined_at LIMIT 1))"
        ),
        extra={"skip_when": "{r}.builtin = 1"},
    ),
    SyncedTable("clients", ("id",), owner_sql="{r}.owner_id"),
    SyncedTable(
        "therapy_sessions",
        ("id",),
        owner_sql="{r}.owner_id",
        local_only=frozenset(
            {
                "recording_path",
                "recording_key",
                "processing_progress",
                "processing_stage_detail",
                "eta_seconds",
                "rev",
                "synced_at",
            }
        ),
    ),
    SyncedTable(
        "transcript_segments",
        ("session_id", "idx"),
        owner_sql=_SESSION_OWNER,
        lww=frozenset({"text", "speaker", "role"}),
        parent=("therapy_sessions", "session_id", "id"),
        server_owner_column=True,
    ),
    SyncedTable(
        "notes",
        ("id",),
        owner_sql=_SESSION_OWNER,
        lww=frozenset({"sections"}),
        parent=("therapy_sessions", "session_id", "id"),
        server_owner_column=True,
    ),
    SyncedTable(
        "note_addenda",
        ("id",),
        owner_sql="(SELECT s.owner_id FROM notes n JOIN therapy_sessions s ON s.id = n.session_id "
        "WHERE n.id = {r}.note_id)",
        parent=("notes", "note_id", "id"),
        server_owner_column=True,
    ),
    SyncedTable(
        "risk_flags",
        ("id",),
        owner_sql=_SESSION_OWNER,
        parent=("therapy_sessions", "session_id", "id"),
        server_owner_column=True,
    ),
    SyncedTable(
        "sync_conflicts",
        ("id",),
        owner_sql="{r}.owner_id",
    ),
    # Append only: pushed to the clinic's log, never pulled back (each workstation keeps its own ids).
    SyncedTable("audit_events", ("id",), owner_sql="{r}.user_id", pull=False),
)

BY_NAME = {t.name: t for t in SYNCED}
PUSHED = tuple(t for t in SYNCED if t.push)
PULLED = tuple(t for t in SYNCED if t.pull)
# Tables holding clinical data on the clinic server (row-level security enabled and forced on each).
CLINICAL = (
    "clients",
    "therapy_sessions",
    "transcript_segments",
    "notes",
    "note_addenda",
    "risk_flags",
    "note_templates",
    "audit_events",
    "sync_conflicts",
    "processing_jobs",
)


def present(conn: Connection, table_name: str, column: str, values: set[Any] | list[Any]) -> set[Any]:
    """Which of ``values`` the column holds (on either side; in chunks that stay under parameter limits)."""
    col = BY_NAME[table_name].table.c[column]
    wanted = list(values)
    found: set[Any] = set()
    for start in range(0, len(wanted), 500):
        found.update(r[0] for r in conn.execute(select(col).where(col.in_(wanted[start : start + 500]))))
    return found
