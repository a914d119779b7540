"""Clinic sync as the GUI and the CLI use it: join a clinic, sync now, the state to show, conflicts, leave.

Sync never blocks the window: these are plain (blocking) methods the callers run off the event loop, and the
background loop in ``loop.py`` calls ``sync_now`` with backoff while the server is unreachable.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from tbdesktop.errors import NotFoundError, PermissionDeniedError, TBError, ValidationError
from tbdesktop.policy import Policy
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import JsonMixin
from tbdesktop.services.notes import MAX_ADDENDUM_TEXT, set_section_text
from tbdesktop.services.secrets import file_lock
from tbdesktop.services.sync.connect import clinic_engine, login_role, login_url, parse_server_url, public_url
from tbdesktop.services.sync.pull import pull, take_server_version
from tbdesktop.services.sync.push import push_all
from tbdesktop.services.sync.schema_check import SchemaMismatchError
from tbdesktop.store import sync_capture
from tbdesktop.store.models import (
    AuditEvent,
    Client,
    NoteTemplate,
    SyncAccount,
    SyncConflict,
    SyncOutbox,
    SyncWorkstation,
    TherapySession,
    User,
    utcnow,
)
from tbdesktop.store.repositories import AuditRepository
from tbdesktop.store.sync_tables import PUSHED

log = logging.getLogger(__name__)

PASSWORD_SECRET = "clinic_password"
DEFAULT_PG_PORT = 5432


def same_server(url: str, other: str) -> bool:
    """Whether two clinic server addresses name the same database: host, port and database name."""
    a, b = parse_server_url(url), parse_server_url(other)
    return (str(a.host).lower(), a.port or DEFAULT_PG_PORT, a.database) == (
        str(b.host).lower(),
        b.port or DEFAULT_PG_PORT,
        b.database,
    )


def clinic_target(policy: Policy, url: str | None, ca_file: str | None) -> tuple[str, str | None]:
    """The server to join and its CA file: under a clinic policy that names the server, that one only (its CA
    file when none is given); checked before anything connects."""
    server = policy.clinic_server
    given = (url or "").strip()
    if server is None:
        if not given:
            raise ValidationError("Enter the clinic server address (postgresql://host:5432/database).")
        return given, ca_file
    if given and not same_server(given, server.url):
        raise ValidationError(
            f"Your clinic's IT set the clinic server to {public_url(server.url)}: this workstation joins that "
            "server only."
        )
    return given or server.url, ca_file or server.ca_file


class ClinicUnreachableError(TBError):
    """The clinic server could not be reached; everything keeps working here and syncs later."""


class ChangesWaitingError(ValidationError):
    """Leaving now would drop changes that have not reached the clinic server."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} change(s) made here have not reached the clinic server yet.")
        self.count = count


class ClinicSignInError(TBError):
    """The server refused the email and password."""


@dataclass(frozen=True)
class SyncAccountInfo(JsonMixin):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    server: str
    workstation: str
    remember: bool
    ca_file: str | None = None


@dataclass(frozen=True)
class SyncStatus(JsonMixin):
    """What the header shows. ``state``: off | synced | pending | offline | paused | conflicts | signin."""

    state: str
    text: str
    server: str | None = None
    login: str | None = None
    last_sync_at: datetime | None = None
    pending: int = 0
    conflicts: int = 0
    rejected: int = 0
    last_error: str | None = None
    workstation: str | None = None


@dataclass
class SyncReport(JsonMixin):
    ok: bool = True
    pushed: int = 0
    pulled: int = 0
    deleted: int = 0
    conflicts: int = 0
    rejected: int = 0
    dropped_deleted: int = 0
    pending: int = 0
    message: str = ""
    accounts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConflictInfo(JsonMixin):
    id: uuid.UUID
    session_id: uuid.UUID | None
    table_name: str
    row_key: dict[str, Any]
    field: str
    kind: str
    kept_text: str | None
    lost_text: str | None
    lost_workstation: str | None
    created_at: datetime
    resolved_at: datetime | None


# Passwords a clinician chose not to remember on this workstation: held for this process only.
_SESSION_PASSWORDS: dict[uuid.UUID, str] = {}
_PASSWORDS_LOCK = threading.Lock()


def _db_error_message(exc: BaseException, url: str, login: str | None = None, ca_file: str | None = None) -> TBError:
    """The server module's explanation of a failed connection, as the error sync callers act on: a refused
    sign-in (ask for the password), an unreachable server (retry later), or anything else."""
    from tbdesktop.services.sync.server import connection_error

    err = connection_error(exc, url, login, ca_file)
    if isinstance(err, PermissionDeniedError) and _is_sign_in_problem(err.message):
        return ClinicSignInError(err.message)
    if err.message.startswith("Could not reach"):
        return ClinicUnreachableError(err.message)
    return err


def _is_sign_in_problem(message: str | None) -> bool:
    return bool(message) and ("did not accept the password" in str(message) or "is disabled" in str(message))


def whoami(url: str, login: str, password: str, ca_file: str | None) -> dict[str, Any]:
    engine = clinic_engine(url, login, password, ca_file)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT id, email, display_name, role FROM users WHERE id = tb_user_id()")).first()
    except OperationalError as exc:
        raise _db_error_message(exc, url, login, ca_file) from exc
    except DBAPIError as exc:
        raise TBError("That server is not a TherapyBridge clinic database (run `tbdesktop clinic init`).") from exc
    finally:
        engine.dispose()
    if row is None:
        raise ClinicSignInError("That login is not a clinician of this clinic.")
    return dict(row._mapping)


def _directory_user(me: dict[str, Any], user_id: uuid.UUID, **local: Any) -> User:
    """The local profile of a clinician as the clinic's directory names them (``local``: what stays here)."""
    return User(id=user_id, email=str(me["email"]), display_name=str(me["display_name"]), role=str(me["role"]), **local)


def _snapshot_sql(t: Any) -> str:
    """Queues every existing row of a clinician (the profile's data from before joining) as an upsert."""
    r = "r"
    key = sync_capture.key_json(t, r)
    owner = sync_capture.owner_sql(t, r)
    distinct = "DISTINCT " if t.name == "risk_flags" else ""
    where = f"{owner} = :owner"
    skip = t.extra.get("skip_when")
    if skip:
        where += f" AND NOT ({skip.format(r=r)})"
    return (
        "INSERT INTO sync_outbox (owner_id, table_name, row_key, op, fields, old, schema_rev, created_at) "
        f"SELECT {distinct}{owner}, '{t.name}', {key}, 'upsert', NULL, NULL, "
        f"(SELECT version_num FROM alembic_version LIMIT 1), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        f"FROM {t.name} AS {r} WHERE {where}"
    )


def _batch_ops() -> int | None:
    """Ops per push transaction (TB_SYNC_BATCH; smaller suits a slow link)."""
    try:
        value = int(os.environ.get("TB_SYNC_BATCH", "0"))
    except ValueError:
        return None
    return value if value > 0 else None


class SyncService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- accounts -------------------------------------------------------------------------------------------

    def accounts(self) -> list[SyncAccountInfo]:
        with self.ctx.db.unit_of_work() as s:
            rows = s.execute(select(SyncAccount, User).join(User, User.id == SyncAccount.user_id)).all()
            return [self._info(a, u) for a, u in rows]

    def account(self, user_id: uuid.UUID) -> SyncAccountInfo | None:
        return next((a for a in self.accounts() if a.user_id == user_id), None)

    def _info(self, a: SyncAccount, u: User) -> SyncAccountInfo:
        return SyncAccountInfo(
            user_id=a.user_id,
            email=a.login,
            display_name=u.display_name,
            role=a.role,
            server=a.server_url,
            workstation=self.ctx.workstation,
            remember=a.remember,
            ca_file=a.ca_file,
        )

    def join(
        self,
        url: str | None,
        email: str,
        password: str,
        *,
        remember: bool = True,
        ca_file: str | None = None,
    ) -> SyncAccountInfo:
        """Signs in to the clinic, links (or creates) the local profile with that email and queues what that
        profile already had here to be pushed. The caller then runs ``sync_now``. Under a clinic policy that names
        the server, ``url`` may be None (that server) and another server is refused."""
        url, ca_file = clinic_target(self.ctx.settings.policy, url, ca_file)
        login = login_role(email)
        if not password:
            raise ValidationError("Please enter the clinic password.")
        if ca_file and not os.path.isfile(ca_file):
            raise ValidationError(f"The CA file {ca_file} does not exist.")
        me = whoami(url, login, password, ca_file)
        server_id = uuid.UUID(str(me["id"]))
        user_id = self._link_profile(url, login, password, ca_file, me, server_id)
        self.ctx.refresh_database_keys()  # the profile may have taken the clinic's id and name
        with self.ctx.db.unit_of_work() as s:
            if s.get(SyncAccount, user_id) is not None:
                raise ValidationError("This profile has already joined the clinic on this workstation.")
        # kept first: a secret store that cannot be opened leaves the profile not joined, rather than joined
        # without a password
        self.keep_password(user_id, password, remember)
        with self.ctx.db.unit_of_work() as s:
            if s.get(SyncWorkstation, 1) is None:
                s.add(SyncWorkstation(id=1, workstation_id=uuid.uuid4(), name=self.ctx.workstation, applying=0))
            s.add(
                SyncAccount(
                    user_id=user_id,
                    server_url=public_url(url),
                    login=login,
                    role=str(me["role"]),
                    ca_file=ca_file or None,
                    remember=remember,
                )
            )
            s.flush()
            conn = s.connection()
            for t in PUSHED:
                conn.execute(text(_snapshot_sql(t)), {"owner": user_id.hex})
            AuditRepository(s, user_id, self.ctx.workstation).record("clinic.join", "user", user_id)
            user = s.get(User, user_id)
            assert user is not None
            account = s.get(SyncAccount, user_id)
            assert account is not None
            info = self._info(account, user)
        log.info("clinic joined", extra={"user_id": str(user_id)})
        return info

    def _link_profile(
        self, url: str, login: str, password: str, ca_file: str | None, me: dict[str, Any], server_id: uuid.UUID
    ) -> uuid.UUID:
        with self.ctx.db.unit_of_work() as s:
            local = s.scalar(select(User).where(func.lower(User.email) == login))
            if local is None:
                s.add(_directory_user(me, server_id))
                return server_id
            if local.id == server_id:
                return server_id
            local_id = local.id
            local_has_data = any(
                s.scalar(select(func.count()).select_from(m).where(col == local_id))
                for m, col in (
                    (Client, Client.owner_id),
                    (TherapySession, TherapySession.owner_id),
                    (NoteTemplate, NoteTemplate.user_id),
                )
            )
        # The server adopts this profile's id when the clinician has nothing there yet.
        engine = clinic_engine(url, login, password, ca_file)
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT tb_claim_profile(:id)"), {"id": local_id})
            return local_id
        except OperationalError as exc:
            raise _db_error_message(exc, url, login, ca_file) from exc
        except DBAPIError as exc:
            if local_has_data:
                raise ValidationError(
                    "This clinician already has sessions on the clinic server, and this workstation's profile with "
                    "the same email has its own: the two cannot be joined automatically. Ask IT to help."
                ) from exc
        finally:
            engine.dispose()
        # The local profile is empty: it takes the clinic's identity (its passcode and settings stay).
        with self.ctx.db.unit_of_work() as s:
            old = s.get(User, local_id)
            assert old is not None
            keep = {"password_hash": old.password_hash, "settings": dict(old.settings or {})}
            s.execute(delete(AuditEvent).where(AuditEvent.user_id == local_id))
            s.delete(old)
            s.flush()
            s.add(_directory_user(me, server_id, **keep))
        return server_id

    def keep_password(self, user_id: uuid.UUID, password: str, remember: bool) -> None:
        """Holds the password for this process; with ``remember``, also in the secret store (never elsewhere)."""
        with _PASSWORDS_LOCK:
            _SESSION_PASSWORDS[user_id] = password
        if remember:
            self.ctx.secrets.set(PASSWORD_SECRET, password, user_id=user_id)
            return
        with suppress(TBError):  # nothing was stored, or a locked store that holds none
            self.ctx.secrets.delete(PASSWORD_SECRET, user_id=user_id)

    def sign_in(self, user_id: uuid.UUID, password: str, *, remember: bool = True) -> None:
        """Gives the password again (it changed, or was not remembered)."""
        acct = self._account_row(user_id)
        whoami(acct.server_url, acct.login, password, acct.ca_file)
        with self.ctx.db.unit_of_work() as s:
            s.execute(
                update(SyncAccount)
                .where(SyncAccount.user_id == user_id)
                .values(remember=remember, paused_reason=None, last_error=None)
            )
        self.keep_password(user_id, password, remember)

    def sign_out(self, user_id: uuid.UUID) -> None:
        """Forgets the password on this workstation; sync waits until the clinician signs in again."""
        with _PASSWORDS_LOCK:
            _SESSION_PASSWORDS.pop(user_id, None)
        self.ctx.secrets.delete(PASSWORD_SECRET, user_id=user_id)

    def held_password(self, user_id: uuid.UUID) -> str | None:
        """The clinic password held for this process, or else the one in the profile's secret store; None when
        there is none or the store is locked."""
        with _PASSWORDS_LOCK:
            held = _SESSION_PASSWORDS.get(user_id)
        if held is not None:
            return held
        try:
            return self.ctx.secrets.get(PASSWORD_SECRET, user_id=user_id)
        except TBError:
            return None  # a locked profile store: the clinician signs in to this profile first

    def _has_password(self, user_id: uuid.UUID) -> bool | None:
        """Whether a password is held for this clinician; None when the profile's store is locked (unknown)."""
        with _PASSWORDS_LOCK:
            if user_id in _SESSION_PASSWORDS:
                return True
        if self.ctx.secrets.needs_passcode(user_id) and self.ctx.secrets.passcode_provider is None:
            return None
        try:
            return self.ctx.secrets.get(PASSWORD_SECRET, user_id=user_id) is not None
        except TBError:
            return None

    def _account_row(self, user_id: uuid.UUID) -> SyncAccount:
        with self.ctx.db.unit_of_work() as s:
            acct = s.get(SyncAccount, user_id)
            if acct is None:
                raise NotFoundError("This profile has not joined a clinic on this workstation.")
            s.expunge(acct)
            return acct

    def update_connection(
        self, user_id: uuid.UUID, *, server_url: str | None = None, ca_file: str | None = None
    ) -> None:
        if server_url:
            clinic_target(self.ctx.settings.policy, server_url, None)
        with self.ctx.db.unit_of_work() as s:
            acct = s.get(SyncAccount, user_id)
            if acct is None:
                raise NotFoundError("This profile has not joined a clinic on this workstation.")
            if server_url:
                acct.server_url = public_url(server_url)
            if ca_file is not None:
                if ca_file and not os.path.isfile(ca_file):
                    raise ValidationError(f"The CA file {ca_file} does not exist.")
                acct.ca_file = ca_file or None

    def leave(self, user_id: uuid.UUID, *, wipe: bool = False, force: bool = False) -> int:
        """Stops syncing this profile here. ``wipe`` also removes its data from this workstation (the clinic server
        keeps it). Refuses while changes wait to be pushed, unless ``force``. Returns how many waiting changes
        were dropped."""
        pending = self.pending(user_id)
        if pending and not force:
            raise ChangesWaitingError(pending)
        removed_files: list[str] = []
        with self.ctx.db.unit_of_work() as s:
            acct = s.get(SyncAccount, user_id)
            if acct is None:
                raise NotFoundError("This profile has not joined a clinic on this workstation.")
            s.execute(delete(SyncOutbox).where(SyncOutbox.owner_id == user_id.hex))
            s.delete(acct)
            s.flush()  # from here on nothing of this profile is captured for the clinic
            AuditRepository(s, user_id, self.ctx.workstation).record("clinic.leave", "user", user_id)
            if wipe:
                s.flush()
                removed_files = [
                    p
                    for p in s.scalars(
                        select(TherapySession.recording_path).where(
                            TherapySession.owner_id == user_id, TherapySession.recording_path.is_not(None)
                        )
                    )
                    if p
                ]
                s.execute(delete(TherapySession).where(TherapySession.owner_id == user_id))
                s.execute(delete(Client).where(Client.owner_id == user_id))
                s.execute(delete(NoteTemplate).where(NoteTemplate.user_id == user_id))
                s.execute(delete(SyncConflict).where(SyncConflict.owner_id == user_id))
        self.sign_out(user_id)
        for name in removed_files:
            self.ctx.recordings.destroy(name)
        if wipe:
            self.ctx.db.flush_deleted()
        return pending if force else 0

    def workstation_id(self) -> uuid.UUID | None:
        with self.ctx.db.unit_of_work() as s:
            ws = s.get(SyncWorkstation, 1)
            return ws.workstation_id if ws is not None else None

    def listen_connection(self, user_id: uuid.UUID) -> Any:
        """A psycopg connection (autocommit) for LISTEN, as this clinician; None without a password."""
        import psycopg

        acct = self._account_row(user_id)
        password = self.held_password(user_id)
        if password is None or self._server_problem(acct.server_url) is not None:
            return None
        url = login_url(acct.server_url, acct.login, password, acct.ca_file)
        from psycopg.conninfo import make_conninfo

        params: dict[str, Any] = {k: str(v) for k, v in url.query.items()}
        conninfo = make_conninfo(
            host=url.host,
            port=url.port or 5432,
            dbname=url.database,
            user=url.username,
            password=url.password,
            **params,
        )
        return psycopg.connect(conninfo, autocommit=True)

    # -- sync -----------------------------------------------------------------------------------------------

    def pending(self, user_id: uuid.UUID | None = None, *, audit: bool = True) -> int:
        """Ops waiting to be pushed; ``audit=False`` counts only what the clinician changed (as shown)."""
        with self.ctx.db.unit_of_work() as s:
            q = select(func.count()).select_from(SyncOutbox)
            if user_id is not None:
                q = q.where(SyncOutbox.owner_id == user_id.hex)
            if not audit:
                q = q.where(SyncOutbox.table_name != "audit_events")
            return int(s.scalar(q) or 0)

    def sync_now(self, user_id: uuid.UUID | None = None) -> SyncReport:
        """Push then pull, for one clinician or every one joined here. Raises ``ClinicUnreachableError`` when the
        server cannot be reached (nothing is lost: changes wait in the outbox)."""
        accounts = [a for a in self.accounts() if user_id is None or a.user_id == user_id]
        if not accounts:
            raise NotFoundError("No profile on this workstation has joined a clinic (`tbdesktop clinic join`).")
        report = SyncReport()
        lock = self.ctx.settings.data_dir / "sync.lock"
        with file_lock(lock, timeout_s=120):
            with self.ctx.db.unit_of_work() as s:
                ws = s.get(SyncWorkstation, 1)
                assert ws is not None
                ws_id, ws_name = ws.workstation_id, ws.name
            errors: list[TBError] = []
            for a in accounts:
                try:
                    self._sync_account(a.user_id, ws_id, ws_name, report)
                    report.accounts.append(a.email)
                except TBError as exc:
                    errors.append(exc)
        report.pending = self.pending(user_id, audit=False)
        if errors:
            report.ok = False
            report.message = errors[0].message if hasattr(errors[0], "message") else str(errors[0])
            if len(errors) == len(accounts):
                raise errors[0]
        return report

    def _server_problem(self, server_url: str) -> str | None:
        """Why a profile joined to ``server_url`` may not sync under the clinic's policy (None: it may)."""
        server = self.ctx.settings.policy.clinic_server
        if server is None or same_server(server_url, server.url):
            return None
        return (
            f"Your clinic's IT set the clinic server to {public_url(server.url)}, but this profile is joined to "
            f"{public_url(server_url)}: nothing is sent to it. Leave the clinic in Settings → Clinic and join again."
        )

    def _sync_account(self, user_id: uuid.UUID, ws_id: uuid.UUID, ws_name: str, report: SyncReport) -> None:
        acct = self._account_row(user_id)
        password = self.held_password(user_id)
        now = utcnow()
        problem = self._server_problem(acct.server_url)
        if problem is not None:
            self._record(user_id, attempt=now, error=problem, paused=problem)
            raise TBError(problem)
        if password is None:
            self._record(user_id, attempt=now, error="Sign in to the clinic to sync.")
            raise ClinicSignInError("Sign in to the clinic to sync (the password is not kept on this workstation).")
        engine = clinic_engine(acct.server_url, acct.login, password, acct.ca_file)
        try:
            pushed = push_all(self.ctx.db, engine, user_id, ws_id, ws_name, limit=_batch_ops())
            if pushed.refused or pushed.diverged:
                take_server_version(self.ctx.db, engine, pushed.refused + pushed.diverged)

            def store_cursor(conn: Connection, cursor: str) -> None:
                conn.execute(update(SyncAccount).where(SyncAccount.user_id == user_id).values(pull_cursor=cursor))

            pulled = pull(
                self.ctx.db,
                engine,
                user_id,
                acct.pull_cursor,
                store_cursor=store_cursor,
                skip_tx=pushed.transactions,
            )
        except SchemaMismatchError as exc:
            self._record(user_id, attempt=now, error=exc.message, paused=exc.message)
            raise
        except OperationalError as exc:
            err = _db_error_message(exc, acct.server_url, acct.login, acct.ca_file)
            self._record(user_id, attempt=now, error=err.message)
            raise err from exc
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            msg = f"The clinic server refused the sync ({code or type(exc.orig).__name__})."
            self._record(user_id, attempt=now, error=msg)
            log.warning("sync refused", extra={"sqlstate": code})
            raise TBError(msg) from exc
        finally:
            engine.dispose()
        for name in pulled.removed_recordings:
            self.ctx.recordings.destroy(name)
        if pulled.deleted or pulled.removed_recordings:
            self.ctx.db.flush_deleted()
        with self.ctx.db.unit_of_work() as s:
            acct_row = s.get(SyncAccount, user_id)
            if acct_row is not None:
                acct_row.last_sync_at = now
                acct_row.last_attempt_at = now
                acct_row.last_error = None
                acct_row.paused_reason = None
                acct_row.rejected += pushed.rejected
        report.pushed += pushed.pushed
        report.pulled += pulled.pulled
        report.deleted += pulled.deleted
        report.conflicts += pushed.conflicts
        report.rejected += pushed.rejected
        report.dropped_deleted += pushed.dropped_deleted

    def _record(self, user_id: uuid.UUID, *, attempt: datetime, error: str, paused: str | None = None) -> None:
        with self.ctx.db.unit_of_work() as s:
            s.execute(
                update(SyncAccount)
                .where(SyncAccount.user_id == user_id)
                .values(last_attempt_at=attempt, last_error=error, paused_reason=paused)
            )

    # -- state ----------------------------------------------------------------------------------------------

    def status(self, user_id: uuid.UUID | None = None) -> SyncStatus:
        with self.ctx.db.unit_of_work() as s:
            q = select(SyncAccount)
            if user_id is not None:
                q = q.where(SyncAccount.user_id == user_id)
            accts = list(s.scalars(q))
            if not accts:
                return SyncStatus(state="off", text="Not connected to a clinic", workstation=self.ctx.workstation)
            acct = accts[0]
            owners = [a.user_id for a in accts]
            pending = int(
                s.scalar(
                    # what the clinician changed; the audit trail of reading goes along unannounced
                    select(func.count())
                    .select_from(SyncOutbox)
                    .where(SyncOutbox.owner_id.in_([o.hex for o in owners]), SyncOutbox.table_name != "audit_events")
                )
                or 0
            )
            conflicts = int(
                s.scalar(
                    select(func.count())
                    .select_from(SyncConflict)
                    .where(SyncConflict.owner_id.in_(owners), SyncConflict.resolved_at.is_(None))
                )
                or 0
            )
            base: dict[str, Any] = {
                "server": acct.server_url,
                "login": acct.login,
                "last_sync_at": acct.last_sync_at,
                "pending": pending,
                "conflicts": conflicts,
                "rejected": acct.rejected,
                "last_error": acct.last_error,
                "workstation": self.ctx.workstation,
            }
            if acct.paused_reason:
                return SyncStatus(state="paused", text=f"Sync paused — {acct.paused_reason}", **base)
        if self._has_password(acct.user_id) is False:
            return SyncStatus(state="signin", text="Sign in to the clinic to sync", **base)
        failed_last = acct.last_error and (
            acct.last_sync_at is None or (acct.last_attempt_at and acct.last_attempt_at > acct.last_sync_at)
        )
        if failed_last and _is_sign_in_problem(acct.last_error):
            return SyncStatus(
                state="signin", text="Sign in to the clinic again (the password was not accepted)", **base
            )
        if failed_last:
            return SyncStatus(state="offline", text="Offline — working on this computer", **base)
        if conflicts:
            return SyncStatus(state="conflicts", text=f"{conflicts} conflict{'s' if conflicts != 1 else ''}", **base)
        if pending:
            return SyncStatus(state="pending", text=f"{pending} change{'s' if pending != 1 else ''} waiting", **base)
        return SyncStatus(state="synced", text="Synced", **base)

    # -- conflicts ------------------------------------------------------------------------------------------

    def conflicts(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None = None, *, open_only: bool = True
    ) -> list[ConflictInfo]:
        with self.ctx.db.unit_of_work() as s:
            q = select(SyncConflict).where(SyncConflict.owner_id == user_id)
            if session_id is not None:
                q = q.where(SyncConflict.session_id == session_id)
            if open_only:
                q = q.where(SyncConflict.resolved_at.is_(None))
            return [_conflict_info(c) for c in s.scalars(q.order_by(SyncConflict.created_at))]

    def resolve_conflict(self, user_id: uuid.UUID, conflict_id: uuid.UUID, action: str) -> ConflictInfo:
        """``dismiss``: keep what won. ``restore``: put the lost text back (a draft note section or a transcript
        line). ``addendum``: add text kept from a note signed elsewhere as an addendum to that note."""
        from tbdesktop.store.models import Note, NoteAddendum, TranscriptSegment

        if action not in {"dismiss", "restore", "addendum"}:
            raise ValidationError("Choose dismiss, restore or addendum.")
        with self.ctx.db.unit_of_work() as s:
            c = s.get(SyncConflict, conflict_id)
            if c is None or c.owner_id != user_id:
                raise NotFoundError("That conflict does not exist.")
            if c.resolved_at is not None:
                raise ValidationError("That conflict was already resolved.")
            if action == "restore":
                if c.table_name == "notes" and c.field.startswith("sections."):
                    note = s.get(Note, uuid.UUID(str(c.row_key["id"])))
                    if note is None:
                        raise NotFoundError("That note no longer exists.")
                    if note.status == "signed":
                        raise ValidationError("That note is signed: add the text as an addendum instead.")
                    set_section_text(note, c.field.split(".", 1)[1], c.lost_text or "")
                elif c.table_name == "transcript_segments":
                    seg = s.get(TranscriptSegment, (uuid.UUID(str(c.row_key["session_id"])), int(c.row_key["idx"])))
                    if seg is None:
                        raise NotFoundError("That transcript line no longer exists.")
                    setattr(seg, c.field, c.lost_text)
                else:
                    raise ValidationError("This conflict cannot be restored.")
            elif action == "addendum":
                if c.table_name != "notes":
                    raise ValidationError("Only note text can become an addendum.")
                text_ = (c.lost_text or "").strip()
                if not text_ or len(text_) > MAX_ADDENDUM_TEXT:
                    raise ValidationError("That text cannot become an addendum (empty or too long).")
                s.add(NoteAddendum(note_id=uuid.UUID(str(c.row_key["id"])), author_id=user_id, text=text_))
            c.resolved_at = utcnow()
            AuditRepository(s, user_id, self.ctx.workstation).record(f"conflict.{action}", "sync_conflict", c.id)
            return _conflict_info(c)


def _conflict_info(c: SyncConflict) -> ConflictInfo:
    return ConflictInfo(
        id=c.id,
        session_id=c.session_id,
        table_name=c.table_name,
        row_key=dict(c.row_key or {}),
        field=c.field,
        kind=c.kind,
        kept_text=c.kept_text,
        lost_text=c.lost_text,
        lost_workstation=c.lost_workstation,
        created_at=c.created_at,
        resolved_at=c.resolved_at,
    )
