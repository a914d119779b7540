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

``schema`` holds the clinic-only SQL (roles, triggers, grants, policies), ``checks`` the catalog check.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tbdesktop.errors import NotFoundError, PermissionDeniedError, TBError, ValidationError
from tbdesktop.services.sync.connect import clinic_engine, login_role, parse_server_url
from tbdesktop.services.sync.server.checks import rls_problems
from tbdesktop.services.sync.server.schema import (
    CLAIM_REFUSED_SQLSTATE,
    CLINIC_SCHEMA_VERSION,
    CLINICIAN_ROLE,
    DIRECTORY_COLUMNS,
    GRANTS,
    OWNER_ROLE,
    POLICIES,
    SECURED,
    Policy,
    clinic_schema_sql,
    grant_sequences,
)
from tbdesktop.store import builtin_templates, migrate
from tbdesktop.store.models import Role, User

__all__ = [
    "CLAIM_REFUSED_SQLSTATE",
    "CLINICIAN_ROLE",
    "CLINIC_SCHEMA_VERSION",
    "DIRECTORY_COLUMNS",
    "GRANTS",
    "MIN_PASSWORD_LENGTH",
    "OWNER_ROLE",
    "POLICIES",
    "ROLES",
    "SECURED",
    "ClinicInitResult",
    "Policy",
    "UserDirectoryEntry",
    "add_user",
    "check_login",
    "clinic_schema_sql",
    "connection_error",
    "disable_user",
    "enable_user",
    "init_clinic",
    "rls_problems",
    "set_password",
]

log = logging.getLogger(__name__)

ROLES = tuple(r.value for r in Role)
MIN_PASSWORD_LENGTH = 10
MIN_SERVER_VERSION = 150000
_LOCK_KEY = 0x7B_C11_1C  # pg_advisory_(xact_)lock key of the clinic set-up


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
                grant_sequences(raw)
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
