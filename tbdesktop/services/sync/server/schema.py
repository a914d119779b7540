"""The clinic-only schema: roles, bookkeeping tables, security-definer helpers, triggers, grants and policies, as
SQL derived from the list of synced tables. Every statement is idempotent; ``init_clinic`` runs them in one
transaction."""

from __future__ import annotations

from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from tbdesktop.store.sync_tables import CLINICAL, SYNCED, SyncedTable

CLINIC_SCHEMA_VERSION = 1
OWNER_ROLE = "tb_owner"
CLINICIAN_ROLE = "tb_clinician"
CLAIM_REFUSED_SQLSTATE = "TB409"
BOOKKEEPING = ("clinic_users", "sync_tombstones", "sync_push_marks", "sync_rejected_ops")
# Every table under forced row-level security.
SECURED = (*CLINICAL, "users", *BOOKKEEPING)
# What a clinician may read of the directory (never password_hash or settings).
DIRECTORY_COLUMNS = ("id", "email", "display_name", "role", "created_at", "sync_tx")


class Policy(NamedTuple):
    name: str
    command: str  # ALL | SELECT | INSERT | UPDATE | DELETE
    using: str | None
    check: str | None


# The caller's id, evaluated once per statement (a sub-select), not once per row.
_ME = "(SELECT tb_user_id())"
_OWN = f"owner_id = {_ME}"
_TEMPLATE_WRITE = (
    f"NOT builtin AND (user_id = {_ME} OR (user_id IS NULL AND (SELECT tb_user_role()) = 'practice_manager'))"
)


def _child(table: str, parent: str, alias: str, column: str) -> Policy:
    check = f"{_OWN} AND EXISTS (SELECT 1 FROM {parent} {alias} WHERE {alias}.id = {table}.{column})"
    return Policy(f"tb_{table}_all", "ALL", _OWN, check)


def _own_all(table: str) -> Policy:
    return Policy(f"tb_{table}_all", "ALL", _OWN, _OWN)


POLICIES: dict[str, tuple[Policy, ...]] = {
    "users": (Policy("tb_users_select", "SELECT", "true", None),),
    "clinic_users": (Policy("tb_clinic_users_select", "SELECT", "login_role = session_user", None),),
    "clients": (_own_all("clients"),),
    "therapy_sessions": (
        Policy(
            "tb_therapy_sessions_all",
            "ALL",
            _OWN,
            f"{_OWN} AND (client_id IS NULL OR EXISTS "
            "(SELECT 1 FROM clients c WHERE c.id = therapy_sessions.client_id))",
        ),
    ),
    "transcript_segments": (_child("transcript_segments", "therapy_sessions", "s", "session_id"),),
    "notes": (_child("notes", "therapy_sessions", "s", "session_id"),),
    "risk_flags": (_child("risk_flags", "therapy_sessions", "s", "session_id"),),
    "note_addenda": (_child("note_addenda", "notes", "n", "note_id"),),
    "note_templates": (
        # Clinic-wide templates are for clinicians; an admin sees the user directory only.
        Policy(
            "tb_note_templates_select",
            "SELECT",
            f"user_id = {_ME} OR (user_id IS NULL AND (SELECT tb_user_role()) IN ('therapist', 'practice_manager'))",
            None,
        ),
        Policy("tb_note_templates_insert", "INSERT", None, _TEMPLATE_WRITE),
        # Any template the clinician can see may be aimed at, so a write without the right is refused (42501),
        # not silently skipped.
        Policy("tb_note_templates_update", "UPDATE", f"user_id = {_ME} OR user_id IS NULL", _TEMPLATE_WRITE),
        Policy("tb_note_templates_delete", "DELETE", _TEMPLATE_WRITE, None),
    ),
    "audit_events": (
        Policy("tb_audit_events_select", "SELECT", f"user_id = {_ME}", None),
        Policy("tb_audit_events_insert", "INSERT", None, f"user_id = {_ME}"),
    ),
    "sync_conflicts": (_own_all("sync_conflicts"),),
    "sync_push_marks": (_own_all("sync_push_marks"),),
    "sync_rejected_ops": (_own_all("sync_rejected_ops"),),
    "sync_tombstones": (Policy("tb_sync_tombstones_select", "SELECT", f"owner_id = {_ME} OR owner_id IS NULL", None),),
    "processing_jobs": (),  # never synced: no policy, no grant
}

_WRITE = "SELECT, INSERT, UPDATE, DELETE"
GRANTS: dict[str, str] = {
    "clinic_users": "SELECT",
    "clients": _WRITE,
    "therapy_sessions": _WRITE,
    "transcript_segments": _WRITE,
    "notes": _WRITE,
    "note_addenda": _WRITE,
    "risk_flags": _WRITE,
    "note_templates": _WRITE,
    "sync_conflicts": _WRITE,
    "sync_push_marks": _WRITE,
    "sync_rejected_ops": _WRITE,
    "audit_events": "SELECT, INSERT",  # append only
    "sync_tombstones": "SELECT",  # written by the definer trigger only
    "alembic_version": "SELECT",
    "clinic_schema": "SELECT",
}

# -- the clinic-only schema -----------------------------------------------------------------------------------

_ROLES_SQL = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
    BEGIN CREATE ROLE {OWNER_ROLE} NOLOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{CLINICIAN_ROLE}') THEN
    BEGIN CREATE ROLE {CLINICIAN_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END;
  END IF;
END $$;
ALTER ROLE {OWNER_ROLE} NOLOGIN BYPASSRLS NOSUPERUSER;
ALTER ROLE {CLINICIAN_ROLE} NOLOGIN NOBYPASSRLS NOSUPERUSER NOCREATEROLE NOCREATEDB;
"""

_TABLES_SQL = """
CREATE TABLE IF NOT EXISTS clinic_users (
  login_role text PRIMARY KEY,
  user_id uuid NOT NULL UNIQUE REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS sync_tombstones (
  id bigserial PRIMARY KEY,
  table_name text NOT NULL,
  row_key jsonb NOT NULL,
  owner_id uuid,
  sync_tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_sync_tombstones_sync_tx ON sync_tombstones (sync_tx);
CREATE INDEX IF NOT EXISTS ix_sync_tombstones_table_name_row_key ON sync_tombstones (table_name, row_key);
CREATE TABLE IF NOT EXISTS sync_push_marks (
  workstation_id uuid,
  owner_id uuid,
  last_seq bigint NOT NULL,
  workstation_name text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workstation_id, owner_id)
);
CREATE TABLE IF NOT EXISTS sync_rejected_ops (
  workstation_id uuid,
  seq bigint,
  owner_id uuid NOT NULL,
  table_name text,
  reason text,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workstation_id, seq)
);
"""

_DEFINER = "SECURITY DEFINER SET search_path = public, pg_temp"

_FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION tb_user_id() RETURNS uuid LANGUAGE sql STABLE {_DEFINER} AS $$
  SELECT user_id FROM clinic_users WHERE login_role = session_user
$$;
CREATE OR REPLACE FUNCTION tb_user_role() RETURNS text LANGUAGE sql STABLE {_DEFINER} AS $$
  SELECT u.role FROM users u JOIN clinic_users cu ON cu.user_id = u.id WHERE cu.login_role = session_user
$$;
CREATE OR REPLACE FUNCTION tb_touch_sync_tx() RETURNS trigger LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  NEW.sync_tx := pg_current_xact_id();
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION tb_claim_profile(new_id uuid) RETURNS uuid LANGUAGE plpgsql VOLATILE {_DEFINER} AS $$
DECLARE
  me uuid := tb_user_id();
BEGIN
  IF me IS NULL THEN
    RAISE EXCEPTION 'This login is not a clinician of this clinic.' USING ERRCODE = '{CLAIM_REFUSED_SQLSTATE}';
  END IF;
  IF new_id IS NULL OR new_id = me THEN
    RETURN me;
  END IF;
  PERFORM 1 FROM users WHERE id = me FOR UPDATE;
  IF EXISTS (SELECT 1 FROM users WHERE id = new_id) THEN
    RAISE EXCEPTION 'That profile id is already taken on the clinic server.'
      USING ERRCODE = '{CLAIM_REFUSED_SQLSTATE}';
  END IF;
  IF EXISTS (SELECT 1 FROM clients WHERE owner_id = me)
     OR EXISTS (SELECT 1 FROM therapy_sessions WHERE owner_id = me)
     OR EXISTS (SELECT 1 FROM note_templates WHERE user_id = me)
     OR EXISTS (SELECT 1 FROM audit_events WHERE user_id = me)
     OR EXISTS (SELECT 1 FROM sync_conflicts WHERE owner_id = me)
     OR EXISTS (SELECT 1 FROM sync_push_marks WHERE owner_id = me)
     OR EXISTS (SELECT 1 FROM notes WHERE signed_by = me)
     OR EXISTS (SELECT 1 FROM note_addenda WHERE author_id = me) THEN
    RAISE EXCEPTION 'This clinician already has records on the clinic server; the server''s profile is kept.'
      USING ERRCODE = '{CLAIM_REFUSED_SQLSTATE}';
  END IF;
  UPDATE users SET id = new_id WHERE id = me;  -- clinic_users follows (ON UPDATE CASCADE)
  RETURN new_id;
END $$;
"""

# The owner's id of a parent row, for a child table that carries it on the server (``{v}``: the parent's key).
_PARENT_OWNER = {
    "therapy_sessions": "SELECT s.owner_id FROM therapy_sessions s WHERE s.id = {v}",
    "notes": "SELECT s.owner_id FROM notes n JOIN therapy_sessions s ON s.id = n.session_id WHERE n.id = {v}",
}
# Extra key columns in a tombstone: risk flags sync as one set per session.
_TOMBSTONE_EXTRA_KEY = {"risk_flags": ("session_id",)}


def _tombstone_owner(t: SyncedTable) -> str:
    if t.name == "users":
        return "NULL"  # the directory is everyone's: every clinician learns of a removal
    if t.server_owner_column or "owner_id" in t.table.columns:
        return "OLD.owner_id"
    return "OLD.user_id"


def _synced_table_sql(t: SyncedTable) -> str:
    name = t.name
    out = [
        f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS sync_tx xid8 NOT NULL DEFAULT pg_current_xact_id();",
        f"CREATE INDEX IF NOT EXISTS ix_{name}_sync_tx ON {name} (sync_tx);",
        f"CREATE OR REPLACE TRIGGER tb_sync_tx BEFORE INSERT OR UPDATE ON {name} "
        "FOR EACH ROW EXECUTE FUNCTION tb_touch_sync_tx();",
    ]
    if t.server_owner_column:
        assert t.parent is not None
        parent, column, _ = t.parent
        owner_of = _PARENT_OWNER[parent]
        out += [
            f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS owner_id uuid;",
            f"CREATE INDEX IF NOT EXISTS ix_{name}_owner_id ON {name} (owner_id);",
            f"UPDATE {name} SET owner_id = ({owner_of.format(v=f'{name}.{column}')}) WHERE owner_id IS NULL;",
            f"CREATE OR REPLACE FUNCTION tb_fill_owner_{name}() RETURNS trigger LANGUAGE plpgsql {_DEFINER} AS $$\n"
            f"BEGIN\n  IF NEW.owner_id IS NULL THEN\n    NEW.owner_id := ({owner_of.format(v=f'NEW.{column}')});\n"
            "  END IF;\n  RETURN NEW;\nEND $$;",
            f"CREATE OR REPLACE TRIGGER tb_fill_owner BEFORE INSERT ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION tb_fill_owner_{name}();",
        ]
    key = (*t.key, *_TOMBSTONE_EXTRA_KEY.get(name, ()))
    row_key = ", ".join(f"'{c}', OLD.{c}" for c in key)
    out += [
        f"CREATE OR REPLACE FUNCTION tb_tombstone_{name}() RETURNS trigger LANGUAGE plpgsql {_DEFINER} AS $$\n"
        f"BEGIN\n  INSERT INTO sync_tombstones (table_name, row_key, owner_id)\n"
        f"  VALUES ('{name}', jsonb_build_object({row_key}), {_tombstone_owner(t)});\n  RETURN OLD;\nEND $$;",
        f"CREATE OR REPLACE TRIGGER tb_tombstone AFTER DELETE ON {name} "
        f"FOR EACH ROW EXECUTE FUNCTION tb_tombstone_{name}();",
    ]
    return "\n".join(out)


# Everything in public belongs to tb_owner (sequences of a column follow their table; extensions keep theirs).
_OWNERSHIP_SQL = f"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND pg_get_userbyid(c.relowner) <> '{OWNER_ROLE}'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER TABLE public.%I OWNER TO {OWNER_ROLE}', r.relname);
  END LOOP;
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> '{OWNER_ROLE}'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i', 'e')) LOOP
    EXECUTE format('ALTER SEQUENCE public.%I OWNER TO {OWNER_ROLE}', r.relname);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> '{OWNER_ROLE}'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO {OWNER_ROLE}', r.sig);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm') AND t.typrelid = 0
             AND pg_get_userbyid(t.typowner) <> '{OWNER_ROLE}'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER TYPE public.%I OWNER TO {OWNER_ROLE}', r.typname);
  END LOOP;
END $$;
"""

# Start from nothing, for PUBLIC and clinicians alike, then grant exactly what the policies allow.
_REVOKE_SQL = f"""
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {CLINICIAN_ROLE};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {CLINICIAN_ROLE};
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, {CLINICIAN_ROLE};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
DO $$
BEGIN
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO {CLINICIAN_ROLE}', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO {CLINICIAN_ROLE};
GRANT EXECUTE ON FUNCTION tb_user_id(), tb_user_role(), tb_claim_profile(uuid) TO {CLINICIAN_ROLE};
GRANT SELECT ({", ".join(DIRECTORY_COLUMNS)}) ON users TO {CLINICIAN_ROLE};
"""

_DROP_POLICIES_SQL = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY(%s) LOOP
    EXECUTE format('DROP POLICY %%I ON public.%%I', r.policyname, r.tablename);
  END LOOP;
END $$;
"""


def _policy_sql(table: str, p: Policy) -> str:
    out = f"CREATE POLICY {p.name} ON {table} AS PERMISSIVE FOR {p.command} TO {CLINICIAN_ROLE}"
    if p.using is not None:
        out += f" USING ({p.using})"
    if p.check is not None:
        out += f" WITH CHECK ({p.check})"
    return out + ";"


def clinic_schema_sql() -> list[str]:
    """The clinic-only steps, in order; each is idempotent (run inside one transaction by ``init_clinic``)."""
    steps = [
        _ROLES_SQL,
        _TABLES_SQL,
        _FUNCTIONS_SQL,
        *(_synced_table_sql(t) for t in SYNCED),
        _OWNERSHIP_SQL,
        _REVOKE_SQL,
    ]
    grants = [f"GRANT {privs} ON {table} TO {CLINICIAN_ROLE};" for table, privs in GRANTS.items()]
    steps.append("\n".join(grants))
    rls = [f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;" for t in SECURED]
    steps.append("\n".join(rls))
    names = "ARRAY[" + ", ".join(f"'{t}'" for t in SECURED) + "]"
    steps.append(_DROP_POLICIES_SQL % names)
    steps.append("\n".join(_policy_sql(t, p) for t in SECURED for p in POLICIES.get(t, ())))
    return steps


def grant_sequences(raw: psycopg.Connection[Any]) -> None:
    """USAGE and SELECT on the id sequences of the tables clinicians insert into (risk flags, audit events)."""
    writable = [t for t, privs in GRANTS.items() if "INSERT" in privs]
    rows = raw.execute(
        "SELECT DISTINCT pg_get_serial_sequence(format('public.%%I', c.table_name), c.column_name) "
        "FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = ANY(%s)",
        (writable,),
    ).fetchall()
    for (seq,) in rows:
        if seq:
            raw.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                sql.SQL(seq), sql.Identifier(CLINICIAN_ROLE)
            ))  # fmt: skip
