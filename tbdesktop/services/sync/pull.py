"""Pull: the clinician's rows changed on the clinic server since the cursor, applied to the local store.

One REPEATABLE READ transaction on the server reads, for every pulled table, the rows whose writing transaction
``sync_tx`` lies in ``[cursor, xmin)`` where ``xmin = pg_snapshot_xmin(pg_current_snapshot())``: every transaction
below xmin has ended, so a change committed out of order is read by a later pull, never skipped. Deletions come as
tombstones. The rows are applied locally in one transaction with capture off (``applying = 1``), the cursor moves to
xmin in the same transaction, and rows with local changes still waiting in the outbox are left alone (they win
when pushed). A crash before the local commit leaves the cursor where it was: the pull simply repeats.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tbdesktop.services.sync.schema_check import check_revisions
from tbdesktop.store.db import Database
from tbdesktop.store.models import DEFAULT_USER_SETTINGS
from tbdesktop.store.sync_tables import BY_NAME, PULLED, SyncedTable, present

log = logging.getLogger(__name__)

_DIRECTORY = ("id", "email", "display_name", "role", "created_at")


@dataclass
class PullResult:
    pulled: int = 0
    deleted: int = 0
    skipped_pending: int = 0
    cursor: str = "0"
    removed_recordings: list[str] = field(default_factory=list)


@dataclass
class _Fetched:
    rows: dict[str, list[dict[str, Any]]]
    tombstones: list[tuple[str, dict[str, Any]]]
    xmin: str


def _columns(t: SyncedTable) -> list[str]:
    return list(_DIRECTORY) if t.name == "users" else t.column_names()


def fetch(server: Connection, cursor: str, skip_tx: Sequence[str] = ()) -> _Fetched:
    """``skip_tx``: this workstation's push transactions of this sync; what they wrote is here already (the push
    took back every row the server holds differently), except the conflict records the server wrote."""
    check_revisions(server, set())
    xmin = str(server.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())
    window = text("sync_tx >= CAST(:cur AS xid8) AND sync_tx < CAST(:xmin AS xid8)")
    not_own = text("NOT (sync_tx = ANY(CAST(:own AS xid8[])))")
    params: dict[str, Any] = {"cur": cursor, "xmin": xmin, "own": list(skip_tx)}
    rows: dict[str, list[dict[str, Any]]] = {}
    for t in PULLED:
        table = t.table
        cols = [table.c[c] for c in _columns(t)]
        if t.name == "risk_flags":
            changed = text(
                "session_id IN (SELECT session_id FROM risk_flags WHERE sync_tx >= CAST(:cur AS xid8) "
                "AND sync_tx < CAST(:xmin AS xid8) UNION SELECT CAST(row_key->>'session_id' AS uuid) "
                "FROM sync_tombstones WHERE table_name = 'risk_flags' AND sync_tx >= CAST(:cur AS xid8) "
                "AND sync_tx < CAST(:xmin AS xid8))"
            )
            stmt = select(*cols).where(changed).order_by(table.c.session_id, table.c.id)
            rows[t.name] = [dict(r._mapping) for r in server.execute(stmt, params)]
            sets = server.execute(
                text(
                    "SELECT DISTINCT session_id FROM risk_flags WHERE sync_tx >= CAST(:cur AS xid8) "
                    "AND sync_tx < CAST(:xmin AS xid8) UNION SELECT CAST(row_key->>'session_id' AS uuid) "
                    "FROM sync_tombstones WHERE table_name = 'risk_flags' AND sync_tx >= CAST(:cur AS xid8) "
                    "AND sync_tx < CAST(:xmin AS xid8)"
                ),
                params,
            )
            rows["risk_flags:sets"] = [{"session_id": r[0]} for r in sets]
            continue
        stmt = select(*cols).where(window)
        if t.name != "sync_conflicts":
            stmt = stmt.where(not_own)
        if t.name == "note_templates":
            stmt = stmt.where(table.c.builtin.is_(False))
        rows[t.name] = [dict(r._mapping) for r in server.execute(stmt, params)]
    tomb = server.execute(
        text(
            "SELECT table_name, row_key FROM sync_tombstones WHERE sync_tx >= CAST(:cur AS xid8) "
            "AND sync_tx < CAST(:xmin AS xid8) AND table_name <> 'risk_flags' ORDER BY id"
        ),
        params,
    )
    tombstones = [(str(r[0]), r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in tomb]
    return _Fetched(rows, tombstones, xmin)


def _pending(local: Connection, owner: uuid.UUID) -> set[tuple[str, str]]:
    rows = local.exec_driver_sql("SELECT table_name, row_key FROM sync_outbox WHERE owner_id = ?", (owner.hex,))
    return {(str(t), json.dumps(json.loads(k), sort_keys=True)) for t, k in rows}


def _key_json(t: SyncedTable, row: dict[str, Any]) -> str:
    """The key as the capture triggers write it (uuids as 32 hex digits)."""
    if t.name == "risk_flags":
        return json.dumps({"session_id": _hex(row["session_id"])}, sort_keys=True)
    return json.dumps({c: _hex(row[c]) for c in t.key}, sort_keys=True)


def _hex(value: Any) -> Any:
    return value.hex if isinstance(value, uuid.UUID) else value


class _Apply:
    def __init__(self, local: Connection, owner: uuid.UUID) -> None:
        self.local = local
        self.owner = owner
        self.pending = _pending(local, owner)
        self.result = PullResult()

    def _existing(self, table_name: str, column: str, ids: set[Any]) -> set[Any]:
        return present(self.local, table_name, column, ids)

    def upsert(self, t: SyncedTable, rows: list[dict[str, Any]]) -> None:
        kept = [r for r in rows if (t.name, _key_json(t, r)) not in self.pending]
        self.result.skipped_pending += len(rows) - len(kept)
        rows = kept
        if not rows:
            return
        if t.parent is not None:
            parent, col, parent_key = t.parent
            alive = self._existing(parent, parent_key, {r[col] for r in rows})
            rows = [r for r in rows if r[col] in alive]
        if t.name == "users":
            rows = self._directory(rows)
        if t.name == "notes":
            self._free_versions(rows)
            templates = self._existing("note_templates", "id", {r["template_id"] for r in rows if r["template_id"]})
            for r in rows:
                if r["template_id"] is not None and r["template_id"] not in templates:
                    r["template_id"] = None
        if t.name == "therapy_sessions":
            self._recordings_deleted(rows)
        if not rows:
            return
        table = t.table
        cols = list(rows[0].keys())
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[c] for c in t.key],
            set_={c: stmt.excluded[c] for c in cols if c not in t.key},
        )
        # one statement executed for many rows: compiled once (a multi-row VALUES is compiled anew for each chunk)
        for start in range(0, len(rows), 5000):
            self.local.execute(stmt, rows[start : start + 5000])
        self.result.pulled += len(rows)

    def _directory(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The clinic's user directory; a local profile not (yet) linked keeps its email to itself."""
        users = BY_NAME["users"].table
        mails = {
            str(m).lower(): i
            for i, m in self.local.execute(select(users.c.id, users.c.email).where(users.c.email.is_not(None)))
        }
        out = []
        for r in rows:
            other = mails.get(str(r["email"] or "").lower())
            if other is not None and other != r["id"]:
                continue
            out.append(dict(r, settings={}))
        # new users need the local defaults of the columns that never sync
        existing = self._existing("users", "id", {r["id"] for r in out})
        fresh = [r for r in out if r["id"] not in existing]
        for r in fresh:
            r["settings"] = dict(DEFAULT_USER_SETTINGS)
        known = [dict((k, v) for k, v in r.items() if k != "settings") for r in out if r["id"] in existing]
        for r in known:
            self.local.execute(
                update(users).where(users.c.id == r["id"]).values(**{k: v for k, v in r.items() if k != "id"})
            )
        self.result.pulled += len(known)
        return fresh

    def _free_versions(self, rows: list[dict[str, Any]]) -> None:
        """A note renumbered by the server may arrive while another local note holds its number for a moment."""
        notes = BY_NAME["notes"].table
        for r in rows:
            clash = self.local.execute(
                select(notes.c.id).where(
                    notes.c.session_id == r["session_id"], notes.c.version == r["version"], notes.c.id != r["id"]
                )
            ).first()
            if clash is not None:
                top = self.local.execute(
                    text("SELECT COALESCE(MAX(version), 0) FROM notes WHERE session_id = :s"),
                    {"s": r["session_id"].hex},
                ).scalar_one()
                self.local.execute(update(notes).where(notes.c.id == clash[0]).values(version=int(top) + 1))

    def _recordings_deleted(self, rows: list[dict[str, Any]]) -> None:
        sessions = BY_NAME["therapy_sessions"].table
        for r in rows:
            if r.get("recording_deleted_at") is None:
                continue
            found = self.local.execute(
                select(sessions.c.recording_path).where(
                    sessions.c.id == r["id"], sessions.c.recording_path.is_not(None)
                )
            ).first()
            if found is not None:
                self.result.removed_recordings.append(str(found[0]))
                self.local.execute(
                    update(sessions).where(sessions.c.id == r["id"]).values(recording_path=None, recording_key=None)
                )

    def replace_flag_sets(self, rows: list[dict[str, Any]], sets: list[dict[str, Any]]) -> None:
        t = BY_NAME["risk_flags"]
        sids = {s["session_id"] for s in sets}
        sids = {s for s in sids if (t.name, json.dumps({"session_id": s.hex}, sort_keys=True)) not in self.pending}
        sids &= self._existing("therapy_sessions", "id", sids)
        if not sids:
            return
        self.local.execute(delete(t.table).where(t.table.c.session_id.in_(list(sids))))
        fresh = [{c: v for c, v in r.items() if c != "id"} for r in rows if r["session_id"] in sids]
        if fresh:
            self.local.execute(t.table.insert(), fresh)
        self.result.pulled += len(fresh)

    def tombstone(self, table_name: str, key: dict[str, Any]) -> None:
        t = BY_NAME.get(table_name)
        if t is None or not t.pull or t.name == "users":
            return
        # deletes win: a local edit still waiting in the outbox finds no row to push and is dropped
        if t.name == "therapy_sessions":
            found = self.local.execute(
                select(t.table.c.recording_path).where(t.key_condition(key), t.table.c.recording_path.is_not(None))
            ).first()
            if found is not None:
                self.result.removed_recordings.append(str(found[0]))
        res = self.local.execute(delete(t.table).where(t.key_condition(key)))
        self.result.deleted += res.rowcount or 0


def pull(
    local_db: Database,
    server_engine: Engine,
    owner: uuid.UUID,
    cursor: str,
    *,
    store_cursor: Callable[[Connection, str], None],
    skip_tx: Sequence[str] = (),
) -> PullResult:
    with server_engine.connect() as server:
        server = server.execution_options(isolation_level="REPEATABLE READ")
        with server.begin():
            fetched = fetch(server, cursor, skip_tx)
    with local_db.engine.begin() as local:
        local.exec_driver_sql("UPDATE sync_workstation SET applying = 1 WHERE id = 1")
        apply = _Apply(local, owner)
        for t in PULLED:
            if t.name == "risk_flags":
                apply.replace_flag_sets(fetched.rows.get("risk_flags", []), fetched.rows.get("risk_flags:sets", []))
                continue
            apply.upsert(t, fetched.rows.get(t.name, []))
        for table_name, key in fetched.tombstones:
            apply.tombstone(table_name, key)
        store_cursor(local, fetched.xmin)
        local.exec_driver_sql("UPDATE sync_workstation SET applying = 0 WHERE id = 1")
    apply.result.cursor = fetched.xmin
    log.info("sync pull", extra={"rows": apply.result.pulled, "deleted": apply.result.deleted})
    return apply.result


def take_server_version(local_db: Database, server_engine: Engine, refused: list[tuple[str, dict[str, Any]]]) -> int:
    """Puts back the server's version of rows whose local change the server refused or merged (or removes a row
    the clinician may not see), so this workstation shows what the clinic holds."""
    restored = 0
    with server_engine.connect() as server, local_db.engine.begin() as local:
        local.exec_driver_sql("UPDATE sync_workstation SET applying = 1 WHERE id = 1")
        for table_name, key in refused:
            t = BY_NAME.get(table_name)
            if t is None or t.name in {"risk_flags", "audit_events"}:
                continue
            cols = [t.table.c[c] for c in _columns(t)]
            row = server.execute(select(*cols).where(t.key_condition(key))).first()
            if row is None:
                local.execute(delete(t.table).where(t.key_condition(key)))
                continue
            values = dict(row._mapping)
            stmt = sqlite_insert(t.table).values(values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.table.c[c] for c in t.key],
                set_={c: stmt.excluded[c] for c in values if c not in t.key},
            )
            local.execute(stmt)
            restored += 1
        local.exec_driver_sql("UPDATE sync_workstation SET applying = 0 WHERE id = 1")
    return restored
