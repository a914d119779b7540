"""Push: this workstation's outbox, in order, to the clinic server, one batch per server transaction.

A batch is replay-safe: the server's ``sync_push_marks`` row for (workstation, clinician) is locked, ops at or below
its ``last_seq`` are skipped, and the mark moves to the batch's last op in the same transaction as the changes. The
local outbox is trimmed only after that commit, so a crash between the two replays a batch the server skips.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError

from tbdesktop.services.sync.schema_check import check_revisions
from tbdesktop.store.db import Database
from tbdesktop.store.sync_tables import BY_NAME, PUSHED, SyncedTable, present

log = logging.getLogger(__name__)

BATCH_OPS = 5000


@dataclass
class Op:
    seq: int
    table: str
    key: dict[str, Any]
    op: str
    fields: set[str] | None
    old: dict[str, Any]
    schema_rev: str | None


@dataclass
class Change:
    """All ops of one row in a batch, folded: the last kind wins, fields add up, ``old`` is the earliest."""

    table: str
    key: dict[str, Any]
    op: str
    fields: set[str] | None
    old: dict[str, Any]
    seq: int = 0


@dataclass
class PushResult:
    pushed: int = 0  # ops sent and applied (or skipped as already applied)
    skipped_replay: int = 0
    conflicts: int = 0
    dropped_deleted: int = 0  # edits of rows deleted on the server (deletes win)
    rejected: int = 0
    batches: int = 0
    messages: list[str] = field(default_factory=list)
    # rows whose change the server refused: the workstation takes the server's version back
    refused: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # rows the server now holds differently from this workstation (merged, renumbered, signed elsewhere, or
    # changed there in fields not pushed from here): taken back right after the push
    diverged: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # the server transactions of this push: their rows need not be pulled back (see ``diverged``)
    transactions: list[str] = field(default_factory=list)

    def add(self, other: PushResult) -> None:
        """Adds up the counts and lists of another batch."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def read_ops(conn: Connection, owner: uuid.UUID, limit: int = BATCH_OPS) -> list[Op]:
    rows = conn.exec_driver_sql(
        "SELECT seq, table_name, row_key, op, fields, old, schema_rev FROM sync_outbox "
        "WHERE owner_id = ? ORDER BY seq LIMIT ?",
        (owner.hex, limit),
    ).fetchall()
    ops = []
    for seq, table, key, kind, changed, old, rev in rows:
        names = None if changed is None else {f for f in json.loads(changed) if f}
        ops.append(Op(seq, table, json.loads(key), kind, names, json.loads(old) if old else {}, rev))
    return ops


def fold(ops: Iterable[Op]) -> list[Change]:
    changes: dict[tuple[str, str], Change] = {}
    for op in ops:
        ident = (op.table, json.dumps(op.key, sort_keys=True))
        prev = changes.get(ident)
        if prev is None:
            changes[ident] = Change(op.table, op.key, op.op, op.fields, dict(op.old), op.seq)
            continue
        prev.seq = op.seq
        if op.op == "delete":
            prev.op, prev.fields = "delete", None
        elif prev.op == "delete":
            prev.op, prev.fields, prev.old = "upsert", None, {}
        else:
            prev.fields = None if prev.fields is None or op.fields is None else prev.fields | op.fields
            for name, value in op.old.items():
                prev.old.setdefault(name, value)
    return list(changes.values())


def _key_in(t: SyncedTable, keys: Sequence[tuple[Any, ...]]) -> Any:
    """Rows whose key is one of ``keys``. A composite key also gets its leading column's own IN list: with it both
    SQLite and PostgreSQL search the primary key's index, where a row-value IN list alone scans every row."""
    first = t.table.c[t.key[0]]
    if len(t.key) == 1:
        return first.in_([k[0] for k in keys])
    leading = list(dict.fromkeys(k[0] for k in keys))
    return and_(first.in_(leading), tuple_(*[t.table.c[c] for c in t.key]).in_(keys))


def _local_rows(
    local: Connection, t: SyncedTable, keys: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Current local values of the rows to push, by key (risk flags: the session's whole set, as a list)."""
    table = t.table
    cols = [table.c[c] for c in t.column_names()]
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        if t.name == "risk_flags":
            sids = [k[0] for k in chunk]
            for row in local.execute(select(*cols).where(table.c.session_id.in_(sids)).order_by(table.c.id)):
                m = dict(row._mapping)
                found.setdefault((m["session_id"],), {"rows": []})["rows"].append(m)
            for k in chunk:
                found.setdefault(k, {"rows": []})
            continue
        for row in local.execute(select(*cols).where(_key_in(t, chunk))):
            m = dict(row._mapping)
            found[tuple(m[c] for c in t.key)] = m
    return found


def _server_rows(
    server: Connection, t: SyncedTable, keys: Sequence[tuple[Any, ...]], cols: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    table = t.table
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(*[table.c[c] for c in cols]).where(_key_in(t, chunk)).with_for_update()
        for row in server.execute(stmt):
            m = dict(row._mapping)
            found[tuple(m[c] for c in t.key)] = m
    return found


def _tombstoned(server: Connection, t: SyncedTable, keys: Sequence[dict[str, Any]]) -> set[str]:
    if not keys:
        return set()
    out: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = [json.dumps(k, sort_keys=True) for k in keys[start : start + 500]]
        rows = server.execute(
            text(
                "SELECT row_key::text FROM sync_tombstones WHERE table_name = :t "
                "AND row_key = ANY(CAST(:keys AS jsonb[]))"
            ),
            {"t": t.name, "keys": chunk},
        )
        out.update(json.dumps(json.loads(r[0]), sort_keys=True) for r in rows)
    return out


def _json_key(t: SyncedTable, key: tuple[Any, ...]) -> str:
    return json.dumps(
        {c: (str(v) if isinstance(v, uuid.UUID) else v) for c, v in zip(t.key, key, strict=True)}, sort_keys=True
    )


def _text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("text", ""))
    return str(value)


def _decode_old(t: SyncedTable, name: str, raw: Any) -> Any:
    col = t.table.c[name]
    if raw is not None and col.type.__class__.__name__ in {"JSON", "Variant"} and isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class _Batch:
    def __init__(
        self, server: Connection, local: Connection, owner: uuid.UUID, workstation_id: uuid.UUID, workstation: str
    ) -> None:
        self.server = server
        self.local = local
        self.owner = owner
        self.workstation_id = workstation_id
        self.workstation = workstation
        self.result = PushResult()

    def conflict(
        self, t: SyncedTable, row: dict[str, Any], field_name: str, kind: str, kept: Any, lost: Any, lost_ws: str | None
    ) -> None:
        conflicts = BY_NAME["sync_conflicts"].table
        self.server.execute(
            insert(conflicts).values(
                id=uuid.uuid4(),
                owner_id=self.owner,
                session_id=row.get("session_id"),
                table_name=t.name,
                row_key={c: (str(row[c]) if isinstance(row[c], uuid.UUID) else row[c]) for c in t.key},
                field=field_name,
                kind=kind,
                kept_text=_text_of(kept),
                lost_text=_text_of(lost),
                lost_workstation=lost_ws,
            )
        )
        self.result.conflicts += 1

    def guarded(
        self, t: SyncedTable, changes: list[Change], apply: Callable[[SyncedTable, list[Change]], None]
    ) -> None:
        """Applies a table's changes under a savepoint; when the server refuses some (a right the clinician does not
        have, a constraint), each is retried alone and the refused ones are recorded and dropped."""
        try:
            with self.server.begin_nested():
                apply(t, changes)
            return
        except DBAPIError as exc:
            if len(changes) == 1:
                self.reject(t, changes[0], exc)
                return
        for change in changes:
            try:
                with self.server.begin_nested():
                    apply(t, [change])
            except DBAPIError as exc:
                self.reject(t, change, exc)

    def reject(self, t: SyncedTable, change: Change, exc: DBAPIError) -> None:
        code = getattr(exc.orig, "sqlstate", None) or "error"
        reason = "not allowed" if code == "42501" else f"refused by the server ({code})"
        log.warning("sync op rejected", extra={"table": t.name, "seq": change.seq, "sqlstate": code})
        self.reject_quietly(t, change, reason)

    def reject_quietly(self, t: SyncedTable, change: Change, reason: str) -> None:
        self.server.execute(
            text(
                "INSERT INTO sync_rejected_ops (workstation_id, seq, owner_id, table_name, reason) "
                "VALUES (:w, :s, :o, :t, :r) ON CONFLICT DO NOTHING"
            ),
            {"w": self.workstation_id, "s": change.seq, "o": self.owner, "t": t.name, "r": reason},
        )
        self.result.rejected += 1
        self.result.refused.append((t.name, change.key))
        self.result.messages.append(f"A change to {t.name.replace('_', ' ')} was refused: {reason}.")

    def apply_upserts(self, t: SyncedTable, changes: list[Change]) -> None:
        keys = [t.key_tuple(c.key) for c in changes]
        local_rows = _local_rows(self.local, t, keys)
        if t.name == "risk_flags":
            self._replace_sets(t, changes, local_rows)
            return
        if t.name == "audit_events":
            rows = [local_rows[k] for k in keys if k in local_rows]
            if rows:
                self.server.execute(insert(t.table), [{c: v for c, v in r.items() if c != "id"} for r in rows])
            return
        present = [k for k in keys if k in local_rows]
        if t.parent is not None:
            present = self._with_parent(t, present, local_rows)
        cols = t.column_names()
        server_rows = _server_rows(self.server, t, present, cols + (["status"] if t.name == "notes" else []))
        missing = [k for k in present if k not in server_rows]
        gone = _tombstoned(self.server, t, [json.loads(_json_key(t, k)) for k in missing])
        by_key = {(t.key_tuple(c.key)): c for c in changes}
        inserts: list[dict[str, Any]] = []
        for k in present:
            row = local_rows[k]
            if k not in server_rows:
                if _json_key(t, k) in gone:
                    self.result.dropped_deleted += 1  # deleted on the server: the delete wins
                    continue
                inserts.append(row)
                continue
            values = self._merge(t, by_key[k], row, server_rows[k])
            if values:
                cond = and_(*[t.table.c[c] == v for c, v in zip(t.key, k, strict=True)])
                self.server.execute(update(t.table).where(cond).values(**values))
            final = {**server_rows[k], **values}
            if any(final.get(c) != row.get(c) for c in cols):
                self.result.diverged.append((t.name, by_key[k].key))
        if t.name == "notes":
            for row in self._renumber(inserts):
                self.result.diverged.append((t.name, {"id": row["id"].hex}))
        if inserts:
            self.server.execute(insert(t.table), inserts)

    def _with_parent(
        self, t: SyncedTable, keys: list[tuple[Any, ...]], rows: dict[tuple[Any, ...], dict[str, Any]]
    ) -> list[tuple[Any, ...]]:
        assert t.parent is not None
        parent, col, parent_key = t.parent
        alive = present(self.server, parent, parent_key, {rows[k][col] for k in keys})
        kept = [k for k in keys if rows[k][col] in alive]
        self.result.dropped_deleted += len(keys) - len(kept)
        return kept

    def _merge(self, t: SyncedTable, change: Change, local: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
        names = [c for c in t.column_names() if c not in t.key]
        if change.fields is not None:
            names = [c for c in names if c in change.fields or c == "updated_at"]
        if t.name == "notes" and server.get("status") == "signed":
            self._signed_elsewhere(t, change, local, server)
            return {}
        values: dict[str, Any] = {}
        for name in names:
            new = local[name]
            if name in t.lww and name in change.old:
                old = _decode_old(t, name, change.old[name])
                if name == "sections" and isinstance(new, dict):
                    values[name] = self._merge_sections(t, local, server, old if isinstance(old, dict) else {}, new)
                    continue
                current = server[name]
                if current != old and current != new:
                    self.conflict(t, local, name, "overwritten", new, current, None)
            values[name] = new
        return values

    def _merge_sections(
        self, t: SyncedTable, local: dict[str, Any], server: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        current = dict(server.get("sections") or {})
        merged = dict(current)
        for key in set(old) | set(new):
            if old.get(key) == new.get(key):
                continue  # not edited here: the server's version stands
            theirs = current.get(key)
            if theirs != old.get(key) and theirs != new.get(key) and _text_of(theirs) != _text_of(new.get(key)):
                self.conflict(t, local, f"sections.{key}", "overwritten", new.get(key), theirs, None)
            if key in new:
                merged[key] = new[key]
            else:
                merged.pop(key, None)
        return merged

    def _signed_elsewhere(self, t: SyncedTable, change: Change, local: dict[str, Any], server: dict[str, Any]) -> None:
        """The note was signed on another workstation: it stays as signed; each section edited here is kept."""
        if change.fields is not None and "sections" not in change.fields:
            return
        signed = server.get("sections") or {}
        for key, value in (local.get("sections") or {}).items():
            if _text_of(value) != _text_of(signed.get(key)):
                self.conflict(t, local, f"sections.{key}", "signed_elsewhere", signed.get(key), value, self.workstation)

    def _renumber(self, inserts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Two workstations wrote version N of one note offline: the later arrival becomes the next version.
        Returns the renumbered rows."""
        notes = BY_NAME["notes"].table
        top: dict[Any, int] = {}
        moved: list[dict[str, Any]] = []
        for row in inserts:
            sid = row["session_id"]
            if sid not in top:
                top[sid] = int(
                    self.server.execute(
                        text("SELECT COALESCE(MAX(version), 0) FROM notes WHERE session_id = :s"), {"s": sid}
                    ).scalar_one()
                )
            taken = self.server.execute(
                select(notes.c.id).where(notes.c.session_id == sid, notes.c.version == row["version"])
            ).first()
            if taken is not None:
                row["version"] = top[sid] + 1  # the row as read for this push, not the local one
                moved.append(row)
            top[sid] = max(top[sid], int(row["version"]))
        return moved

    def _replace_sets(
        self, t: SyncedTable, changes: list[Change], local_rows: dict[tuple[Any, ...], dict[str, Any]]
    ) -> None:
        sessions = BY_NAME["therapy_sessions"].table
        sids = [_as_uuid(c.key["session_id"]) for c in changes]
        alive = {r[0] for r in self.server.execute(select(sessions.c.id).where(sessions.c.id.in_(sids)))}
        self.result.dropped_deleted += len(set(sids) - alive)
        live = [s for s in sids if s in alive]
        if not live:
            return
        self.server.execute(delete(t.table).where(t.table.c.session_id.in_(live)))
        rows = [
            {c: v for c, v in r.items() if c != "id"} for s in live for r in local_rows.get((s,), {"rows": []})["rows"]
        ]
        if rows:
            self.server.execute(insert(t.table), rows)

    def apply_deletes(self, t: SyncedTable, changes: list[Change]) -> None:
        if t.name in {"audit_events", "risk_flags"}:
            return  # the log is append only; flag sets are replaced, never deleted one by one
        for c in changes:
            k = t.key_tuple(c.key)
            cond = and_(*[t.table.c[col] == v for col, v in zip(t.key, k, strict=True)])
            if self.server.execute(delete(t.table).where(cond)).rowcount == 0:
                still = self.server.execute(select(t.table.c[t.key[0]]).where(cond)).first()
                if still is not None:  # visible but not ours to delete (e.g. a clinic template)
                    self.reject_quietly(t, c, "not allowed")


def push_batch(
    local_db: Database,
    server_engine: Engine,
    owner: uuid.UUID,
    workstation_id: uuid.UUID,
    workstation_name: str,
    *,
    limit: int = BATCH_OPS,
) -> tuple[PushResult, bool]:
    """Pushes the next batch of this clinician's ops. Returns the result and whether more ops are waiting."""
    with local_db.engine.connect() as local:
        ops = read_ops(local, owner, limit)
        if not ops:
            return PushResult(), False
        with server_engine.begin() as server:
            check_revisions(server, {o.schema_rev for o in ops if o.schema_rev})
            server.execute(
                text(
                    "INSERT INTO sync_push_marks (workstation_id, owner_id, last_seq, workstation_name) "
                    "VALUES (:w, :o, 0, :n) ON CONFLICT (workstation_id, owner_id) DO NOTHING"
                ),
                {"w": workstation_id, "o": owner, "n": workstation_name},
            )
            mark = server.execute(
                text("SELECT last_seq FROM sync_push_marks WHERE workstation_id = :w AND owner_id = :o FOR UPDATE"),
                {"w": workstation_id, "o": owner},
            ).scalar_one()
            fresh = [o for o in ops if o.seq > mark]
            own_tx = str(server.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())
            batch = _Batch(server, local, owner, workstation_id, workstation_name)
            batch.result.skipped_replay = len(ops) - len(fresh)
            changes = fold(fresh)
            for t in PUSHED:
                ups = [c for c in changes if c.table == t.name and c.op == "upsert"]
                if ups:
                    batch.guarded(t, ups, batch.apply_upserts)
            for t in reversed(PUSHED):
                dels = [c for c in changes if c.table == t.name and c.op == "delete"]
                if dels:
                    batch.guarded(t, dels, batch.apply_deletes)
            last = ops[-1].seq
            server.execute(
                text(
                    "UPDATE sync_push_marks SET last_seq = :s, workstation_name = :n, updated_at = now() "
                    "WHERE workstation_id = :w AND owner_id = :o"
                ),
                {"s": max(last, mark), "n": workstation_name, "w": workstation_id, "o": owner},
            )
            if fresh:
                # delivered on commit: the clinician's other workstations pull now instead of at their next poll
                server.execute(
                    text("SELECT pg_notify(:ch, :ws)"), {"ch": f"tb_sync_{owner.hex}", "ws": str(workstation_id)}
                )
        batch.result.pushed = len(fresh)
        batch.result.batches = 1
        batch.result.transactions.append(own_tx)
    # only now, after the server committed
    with local_db.engine.begin() as local:
        local.exec_driver_sql("DELETE FROM sync_outbox WHERE owner_id = ? AND seq <= ?", (owner.hex, last))
    log.info(
        "sync push batch",
        extra={"ops": len(ops), "skipped": batch.result.skipped_replay, "conflicts": batch.result.conflicts},
    )
    return batch.result, len(ops) >= limit


def push_all(
    local_db: Database,
    server_engine: Engine,
    owner: uuid.UUID,
    workstation_id: uuid.UUID,
    workstation_name: str,
    *,
    limit: int | None = None,
) -> PushResult:
    total = PushResult()
    more = True
    while more:
        res, more = push_batch(
            local_db, server_engine, owner, workstation_id, workstation_name, limit=limit or BATCH_OPS
        )
        total.add(res)
    return total
