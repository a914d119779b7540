"""The clinic's PostgreSQL server: its schema, roles, row-level security and clinician logins (run by clinic IT).

Public API (each call opens its own connection and closes it; errors are ``TBError`` subclasses with plain
messages, and no password is ever logged or sent in SQL text):

- ``init_clinic(admin_url: str, ca_file: str | None = None) -> ClinicInitResult`` — with an administrator
  (superuser) connection: runs the app's migrations, brings the built-in templates up to date, then applies the
  clinic-only steps (roles, ``clinic_users``, ``sync_tx`` change numbers, server-side ``owner_id`` of child tables,
  tombstones, push marks, grants and forced row-level security) in one locked transaction. Safe to re-run: it
  re-applies ownership, grants and policies, which also repairs drift after a newer release added tables.
- ``add_user(admin_url, email, display_name, role, password, ca_file=None) -> uuid.UUID`` — a directory row, a
  LOGIN role named by the lower-cased email (member of ``tb_clinician``) with a SCRAM verifier computed here.
- ``set_password(admin_url, email, password, ca_file=None) -> None``
- ``disable_user(admin_url, email, ca_file=None) -> None`` / ``enable_user(...)`` — NOLOGIN / LOGIN; rows are kept.
- ``check_login(url, login, password, ca_file=None) -> UserDirectoryEntry`` — connects as the clinician and
  returns their directory entry; a wrong password, a disabled login, an untrusted certificate or an unreachable
  server become a ``TBError`` saying which.
- ``rls_problems(engine: Engine) -> list[str]`` — a catalog check of the row-level security (empty when sound).

``tb_claim_profile(new_id uuid)`` (SQL, for a clinician) raises SQLSTATE ``TB409`` (``CLAIM_REFUSED_SQLSTATE``)
when the profile already holds rows on the server or the id is taken.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tbdesktop.errors import NotFoundError, PermissionDeniedError, TBError, ValidationError
from tbdesktop.services.sync.connect import clinic_engine, login_role, parse_server_url
from tbdesktop.services.sync.tables import CLINICAL, SYNCED, SyncedTable
from tbdesktop.store import builtin_templates, migrate
from tbdesktop.store.models import Role, User

log = logging.getLogger(__name__)

CLINIC_SCHEMA_VERSION = 1
OWNER_ROLE = "tb_owner"
CLINICIAN_ROLE = "tb_clinician"
ROLES = tuple(r.value for r in Role)
MIN_PASSWORD_LENGTH = 10
CLAIM_REFUSED_SQLSTATE = "TB409"
MIN_SERVER_VERSION = 150000
_LOCK_KEY = 0x7B_C11_1C  # pg_advisory_(xact_)lock key of the clinic set-up
BOOKKEEPING = ("clinic_users", "sync_tombstones", "sync_push_marks", "sync_rejected_ops")
# Every table under forced row-level security.
SECURED = (*CLINICAL, "users", *BOOKKEEPING)
# What a clinician may read of the directory (never password_hash or settings).
DIRECTORY_COLUMNS = ("id", "email", "display_name", "role", "created_at", "sync_tx")


@dataclass(frozen=True)
class ClinicInitResult:
    alembic_revision: str | None
    clinic_schema_version: int
    newly_applied: bool  # False when the clinic steps had been applied before (this run re-applied them)
    templates_changed: int
    secured_tables: int

    def to_json(self) -> dict[str, object]:
        return {
            "alembic_revision": self.alembic_revision,
            "clinic_schema_version": self.clinic_schema_version,
            "newly_applied": self.newly_applied,
            "templates_changed": self.templates_changed,
            "secured_tables": self.secured_tables,
        }


@dataclass(frozen=True)
class UserDirectoryEntry:
    id: uuid.UUID
    email: str
    display_name: str
    role: str
    login: str


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


def _grant_sequences(raw: psycopg.Connection[Any]) -> None:
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


# -- connections and errors -----------------------------------------------------------------------------------


def _where(url: str) -> str:
    try:
        parsed = parse_server_url(url)
    except TBError:
        return "the given address"
    return f"{parsed.host}:{parsed.port or 5432}"


def _user_of(url: str) -> str | None:
    try:
        return parse_server_url(url).username
    except TBError:
        return None


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    # libpq: 'connection failed: connection to server at "h", port p failed: <why>' — keep the why
    why = first.rsplit(" failed: ", 1)[-1].strip() if " failed: " in first else first
    why = re.sub(r"^(FATAL|ERROR):\s*", "", why)
    return why.rstrip(".") or type(orig).__name__


def connection_error(exc: BaseException, url: str, login: str | None = None, ca_file: str | None = None) -> TBError:
    """A failed connection explained for the person at the keyboard (never includes the password)."""
    why = _reason(exc)
    low = str(getattr(exc, "orig", None) or exc).lower()
    where = _where(url)
    who = login or _user_of(url) or "this login"
    if "password authentication failed" in low or "authentication failed" in low:
        return PermissionDeniedError(f"The clinic server at {where} did not accept the password for {who}.")
    if "not permitted to log in" in low:
        return PermissionDeniedError(f"The clinic login {who} is disabled; ask the clinic's IT to enable it.")
    if "pg_hba.conf" in low and "no encryption" in low:
        return PermissionDeniedError(
            f"The clinic server at {where} accepts only encrypted connections: add the clinic's CA certificate."
        )
    if "no pg_hba.conf entry" in low or "pg_hba.conf rejects" in low:
        return PermissionDeniedError(
            f"The clinic server at {where} does not accept connections from this computer ({why})."
        )
    if "certificate" in low or "ssl" in low and ca_file:
        ca = f" with {ca_file}" if ca_file else ""
        return TBError(f"The clinic server at {where} could not be verified{ca}: {why}.")
    if "database" in low and "does not exist" in low:
        return TBError(f"The clinic server at {where} has no such database ({why}).")
    return TBError(f"Could not reach the clinic server at {where}: {why}.")


@contextmanager
def _connect(url: str, login: str | None, password: str | None, ca_file: str | None) -> Iterator[Connection]:
    engine = clinic_engine(url, login, password, ca_file)
    try:
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            raise connection_error(exc, url, login, ca_file) from None
        with conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def _admin(admin_url: str, ca_file: str | None) -> Iterator[Connection]:
    """An administrator's connection (a superuser role), checked before anything is changed."""
    with _connect(admin_url, None, None, ca_file) as conn:
        row = conn.execute(
            text("SELECT current_user, rolsuper, current_setting('server_version_num')::int "
                 "FROM pg_roles WHERE rolname = current_user")
        ).one()  # fmt: skip
        conn.rollback()
        if not row[1]:
            raise PermissionDeniedError(
                f"The connection as {row[0]} cannot set up the clinic: it needs an administrator (superuser) role "
                "on the clinic server."
            )
        if int(row[2]) < MIN_SERVER_VERSION:
            raise TBError("The clinic server needs PostgreSQL 15 or newer.")
        yield conn


def _raw(conn: Connection) -> psycopg.Connection[Any]:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


# -- set-up ---------------------------------------------------------------------------------------------------


def init_clinic(admin_url: str, ca_file: str | None = None) -> ClinicInitResult:
    """Prepares (or brings up to date) the clinic database. Needs an administrator connection."""
    with _admin(admin_url, ca_file) as lock:
        # Two runs at once: the second waits for the first, from the migrations to the last grant.
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        lock.commit()
        try:
            engine = lock.engine
            try:
                migrate.upgrade(engine)
                with Session(engine) as s, s.begin():
                    changed = builtin_templates.sync(s)
            except DBAPIError as exc:
                raise TBError(f"The clinic database could not be migrated: {_reason(exc)}.") from exc
            with lock.begin():
                raw = _raw(lock)
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                raw.execute(
                    "CREATE TABLE IF NOT EXISTS clinic_schema ("
                    "version integer PRIMARY KEY, applied_at timestamptz DEFAULT now())"
                )
                applied = raw.execute("SELECT max(version) FROM clinic_schema").fetchone()
                before = applied[0] if applied else None
                if before is not None and before > CLINIC_SCHEMA_VERSION:
                    raise TBError(
                        "The clinic server was set up by a newer TherapyBridge: update TherapyBridge here first."
                    )
                for step in clinic_schema_sql():
                    raw.execute(step.encode())
                _grant_sequences(raw)
                raw.execute(
                    "INSERT INTO clinic_schema (version) VALUES (%s) ON CONFLICT DO NOTHING", (CLINIC_SCHEMA_VERSION,)
                )
            revision = migrate.current_revision(engine)
            problems = rls_problems(engine)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            lock.commit()
    if problems:
        raise TBError("The clinic server's row-level security is not as expected: " + "; ".join(problems))
    log.info("clinic server ready", extra={"revision": revision, "clinic_schema": CLINIC_SCHEMA_VERSION})
    return ClinicInitResult(
        alembic_revision=revision,
        clinic_schema_version=CLINIC_SCHEMA_VERSION,
        newly_applied=before is None or before < CLINIC_SCHEMA_VERSION,
        templates_changed=changed,
        secured_tables=len(SECURED),
    )


# -- the catalog check ----------------------------------------------------------------------------------------

_GUARDS = ("tb_user_id", "session_user")


def rls_problems(engine: Engine) -> list[str]:
    """What is wrong with the server's row-level security, in plain words (an empty list when all is in place)."""
    problems: list[str] = []
    with engine.connect() as conn:
        roles = {
            r[0]: r
            for r in conn.execute(
                text("SELECT rolname, rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = ANY(:n)"),
                {"n": [OWNER_ROLE, CLINICIAN_ROLE]},
            )
        }
        if OWNER_ROLE not in roles or roles[OWNER_ROLE][1] or not roles[OWNER_ROLE][2]:
            problems.append(f"role {OWNER_ROLE} is missing, can log in or does not bypass row-level security")
        if CLINICIAN_ROLE not in roles or any(roles[CLINICIAN_ROLE][1:]):
            problems.append(f"role {CLINICIAN_ROLE} is missing, can log in, bypasses security or is a superuser")
        tables = {
            r[0]: r
            for r in conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                )
            )
        }
        policies: dict[str, dict[str, tuple[str, list[str], bool, str | None, str | None]]] = {}
        for r in conn.execute(
            text(
                "SELECT tablename, policyname, cmd, roles::text[], permissive = 'PERMISSIVE', qual, with_check "
                "FROM pg_policies WHERE schemaname = 'public'"
            )
        ):
            policies.setdefault(r[0], {})[r[1]] = (r[2], list(r[3]), r[4], r[5], r[6])
        for table in SECURED:
            row = tables.get(table)
            if row is None:
                problems.append(f"table {table} is missing")
                continue
            if not row[1]:
                problems.append(f"table {table} does not have row-level security enabled")
            if not row[2]:
                problems.append(f"table {table} does not force row-level security on its owner")
            if row[3] != OWNER_ROLE:
                problems.append(f"table {table} is owned by {row[3]}, not {OWNER_ROLE}")
            expected = {p.name: p for p in POLICIES.get(table, ())}
            actual = policies.get(table, {})
            for name in sorted(set(actual) - set(expected)):
                problems.append(f"table {table} has an unexpected policy {name}")
            for name, p in expected.items():
                if name not in actual:
                    problems.append(f"table {table} is missing its policy {name}")
                    continue
                cmd, to, permissive, using, check = actual[name]
                if cmd != p.command or to != [CLINICIAN_ROLE] or not permissive:
                    problems.append(f"policy {name} on {table} is not a {p.command} policy for {CLINICIAN_ROLE}")
                for want, got, what in ((p.using, using, "USING"), (p.check, check, "WITH CHECK")):
                    guarded = want is not None and any(g in want for g in _GUARDS)
                    if (
                        (want is None) != (got is None)
                        or guarded
                        and not any(g in (got or "").lower() for g in _GUARDS)
                    ):
                        problems.append(f"policy {name} on {table} has a different {what} expression")
        for column in ("password_hash", "settings") if "users" in tables else ():
            readable = conn.execute(
                text("SELECT has_column_privilege(:r, 'public.users', :c, 'SELECT')"),
                {"r": CLINICIAN_ROLE, "c": column},
            ).scalar()
            if readable:
                problems.append(f"clinicians can read users.{column}")
        if (
            "processing_jobs" in tables
            and conn.execute(
                text("SELECT has_table_privilege(:r, 'public.processing_jobs', 'SELECT, INSERT, UPDATE, DELETE')"),
                {"r": CLINICIAN_ROLE},
            ).scalar()
        ):
            problems.append("clinicians have rights on processing_jobs")
        definers = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                text(
                    "SELECT p.proname, p.prosecdef, pg_get_userbyid(p.proowner) FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = 'public' AND p.proname LIKE 'tb\\_%'"
                )
            )
        }
        wanted = ["tb_user_id", "tb_user_role", "tb_claim_profile"] + [f"tb_tombstone_{t.name}" for t in SYNCED]
        for fn in wanted:
            if definers.get(fn) != (True, OWNER_ROLE):
                problems.append(f"function {fn} is missing, or not a security definer owned by {OWNER_ROLE}")
        triggers = {
            (r[0], r[1])
            for r in conn.execute(
                text(
                    "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal "
                    "AND t.tgenabled <> 'D'"
                )
            )
        }
        for t in SYNCED:
            for trigger in ("tb_sync_tx", "tb_tombstone", *(("tb_fill_owner",) if t.server_owner_column else ())):
                if (t.name, trigger) not in triggers:
                    problems.append(f"table {t.name} is missing its trigger {trigger}")
    return problems


# -- clinician logins -----------------------------------------------------------------------------------------


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"A clinic password needs at least {MIN_PASSWORD_LENGTH} characters.")


def _set_verifier(raw: psycopg.Connection[Any], login: str, password: str) -> None:
    """The SCRAM verifier is computed here; the password itself never reaches the server or its logs."""
    verifier = raw.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256")
    raw.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(login), sql.Literal(verifier.decode())))


def _require_clinic(conn: Connection) -> None:
    if conn.execute(text("SELECT to_regclass('public.clinic_users') IS NULL")).scalar():
        raise TBError("The clinic server has not been set up yet: run `tbdesktop clinic init` first.")


def add_user(
    admin_url: str, email: str, display_name: str, role: str, password: str, ca_file: str | None = None
) -> uuid.UUID:
    """Adds a clinician (or practice manager, or admin) to the clinic: directory row, login role, password."""
    login = login_role(email)
    if role not in ROLES:
        raise ValidationError(f"The role must be one of: {', '.join(ROLES)}.")
    name = (display_name or "").strip()
    if not name:
        raise ValidationError("A clinician needs a name.")
    _check_password(password)
    user_id = uuid.uuid4()
    with _admin(admin_url, ca_file) as conn, conn.begin():
        _require_clinic(conn)
        if conn.execute(text("SELECT 1 FROM users WHERE lower(email) = :e"), {"e": login}).first():
            raise ValidationError(f"{login} is already a user of this clinic.")
        existing = conn.execute(
            text(
                "SELECT pg_has_role(oid, :c, 'MEMBER') AND NOT (rolsuper OR rolcreaterole OR rolbypassrls) "
                "FROM pg_roles WHERE rolname = :r"
            ),
            {"r": login, "c": CLINICIAN_ROLE},
        ).first()
        if existing is not None and not existing[0]:
            raise ValidationError(f"A login named {login} already exists on this server and is not a clinician's.")
        conn.execute(insert(User).values(id=user_id, email=login, display_name=name, role=role, password_hash=None))
        raw = _raw(conn)
        if existing is None:
            raw.execute(
                sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(login), sql.Identifier(CLINICIAN_ROLE))
            )
        # else: the clinician's login from another clinic database on this server (logins are server-wide): it is
        # linked here too, and the password given becomes its password
        _set_verifier(raw, login, password)
        conn.execute(text("INSERT INTO clinic_users (login_role, user_id) VALUES (:l, :u)"), {"l": login, "u": user_id})
    log.info("clinic user added", extra={"user_id": str(user_id), "role": role})
    return user_id


def _clinic_login(conn: Connection, email: str) -> tuple[str, uuid.UUID]:
    login = login_role(email)
    _require_clinic(conn)
    row = conn.execute(text("SELECT user_id FROM clinic_users WHERE login_role = :l"), {"l": login}).first()
    if row is None:
        raise NotFoundError(f"{login} is not a user of this clinic.")
    return login, row[0]


def set_password(admin_url: str, email: str, password: str, ca_file: str | None = None) -> None:
    _check_password(password)
    with _admin(admin_url, ca_file) as conn, conn.begin():
        login, user_id = _clinic_login(conn, email)
        _set_verifier(_raw(conn), login, password)
    log.info("clinic password set", extra={"user_id": str(user_id)})


def _set_login(admin_url: str, email: str, enabled: bool, ca_file: str | None) -> None:
    with _admin(admin_url, ca_file) as conn, conn.begin():
        login, user_id = _clinic_login(conn, email)
        raw = _raw(conn)
        raw.execute(sql.SQL("ALTER ROLE {} " + ("LOGIN" if enabled else "NOLOGIN")).format(sql.Identifier(login)))
        if not enabled:  # connections already open end now
            raw.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (login,))
    log.info("clinic login " + ("enabled" if enabled else "disabled"), extra={"user_id": str(user_id)})


def disable_user(admin_url: str, email: str, ca_file: str | None = None) -> None:
    """The login can no longer connect (its open connections are ended); the clinician's rows are kept."""
    _set_login(admin_url, email, False, ca_file)


def enable_user(admin_url: str, email: str, ca_file: str | None = None) -> None:
    _set_login(admin_url, email, True, ca_file)


_LOGIN_SQL = text("SELECT u.id, u.email, u.display_name, u.role FROM users u WHERE u.id = tb_user_id()")


def check_login(url: str, login: str, password: str, ca_file: str | None = None) -> UserDirectoryEntry:
    """Connects as the clinician and returns who the server says they are."""
    role = login_role(login)
    with _connect(url, role, password, ca_file) as conn:
        try:
            row = conn.execute(_LOGIN_SQL).first()
        except DBAPIError as exc:
            if re.search(r"function tb_user_id\(\) does not exist|permission denied", str(exc.orig)):
                raise TBError(f"The clinic server at {_where(url)} is not set up for TherapyBridge.") from None
            raise connection_error(exc, url, role, ca_file) from None
    if row is None:
        raise PermissionDeniedError(f"{role} is not a user of this clinic.")
    return UserDirectoryEntry(id=row[0], email=str(row[1]), display_name=str(row[2]), role=str(row[3]), login=role)
