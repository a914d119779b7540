"""Local change capture: SQLite triggers that write an outbox row in the same transaction as every insert, update
or delete of a synced row whose owner joined a clinic on this workstation.

Derived from ``sync_tables.SYNCED`` and the models, and reinstalled at every start-up: a batch migration that rebuilds a
table drops its triggers, and a new column must be captured as soon as the models know it.
"""

from __future__ import annotations

from sqlalchemy import Engine

from tbdesktop.store.sync_tables import PUSHED, SyncedTable

PREFIX = "sync_capture_"
# pulled rows are applied with applying = 1; before any clinician joined, the row does not exist (NULL: no capture)
_ACTIVE = "(SELECT applying FROM sync_workstation WHERE id = 1) = 0"
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
_REV = "(SELECT version_num FROM alembic_version LIMIT 1)"


def key_json(t: SyncedTable, r: str) -> str:
    if t.name == "risk_flags":
        # risk flags sync as one set per session
        return f"json_object('session_id', {r}.session_id)"
    return "json_object(" + ", ".join(f"'{c}', {r}.{c}" for c in t.key) + ")"


def owner_sql(t: SyncedTable, r: str) -> str:
    return t.owner_sql.format(r=r)


def _when(t: SyncedTable, r: str) -> str:
    parts = [_ACTIVE, f"EXISTS (SELECT 1 FROM sync_accounts WHERE user_id = {owner_sql(t, r)})"]
    skip = t.extra.get("skip_when")
    if skip:
        parts.append(f"NOT ({skip.format(r=r)})")
    return " AND ".join(parts)


def _insert(t: SyncedTable, r: str, op: str, fields: str = "NULL", old: str = "NULL") -> str:
    return (
        "INSERT INTO sync_outbox (owner_id, table_name, row_key, op, fields, old, schema_rev, created_at) "
        f"VALUES ({owner_sql(t, r)}, '{t.name}', {key_json(t, r)}, '{op}', {fields}, {old}, {_REV}, {_NOW});"
    )


def trigger_sql(t: SyncedTable) -> list[str]:
    cols = t.column_names()
    # a touch of updated_at alone (live progress on the row) is not a change worth pushing
    watched = [c for c in cols if c != "updated_at"]
    changed = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in watched)
    fields = "json_array(" + ", ".join(f'CASE WHEN OLD."{c}" IS NOT NEW."{c}" THEN \'{c}\' END' for c in watched) + ")"
    lww = sorted(t.lww & set(cols))
    old = "json_object(" + ", ".join(f"'{c}', OLD.\"{c}\"" for c in lww) + ")" if lww else "NULL"
    delete_when = _when(t, "OLD")
    if t.parent is not None:
        parent, local_col, parent_key = t.parent
        # a deletion that follows its parent's is covered by the parent's tombstone
        delete_when += f" AND EXISTS (SELECT 1 FROM {parent} WHERE {parent_key} = OLD.{local_col})"
    # risk flags sync as one set per session: any change of one re-sends the session's set
    op_delete = "upsert" if t.name == "risk_flags" else "delete"
    return [
        f"CREATE TRIGGER {PREFIX}{t.name}_insert AFTER INSERT ON {t.name} WHEN {_when(t, 'NEW')} "
        f"BEGIN {_insert(t, 'NEW', 'upsert')} END",
        f"CREATE TRIGGER {PREFIX}{t.name}_update AFTER UPDATE ON {t.name} WHEN {_when(t, 'NEW')} AND ({changed}) "
        f"BEGIN {_insert(t, 'NEW', 'upsert', fields, old)} END",
        f"CREATE TRIGGER {PREFIX}{t.name}_delete AFTER DELETE ON {t.name} WHEN {delete_when} "
        f"BEGIN {_insert(t, 'OLD', op_delete)} END",
    ]


def install(engine: Engine) -> None:
    """(Re)creates the capture triggers (SQLite only: the clinic server records changes its own way)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        existing = [
            name
            for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", (PREFIX + "%",)
            )
        ]
        for name in existing:
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
        tables = {n for (n,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "sync_outbox" not in tables:
            return  # a database at an earlier revision (being migrated, or downgraded)
        for t in PUSHED:
            for stmt in trigger_sql(t):
                conn.exec_driver_sql(stmt)
