"""The clinic server's row-level security, checked through real clinician logins on a private PostgreSQL cluster.

The checks are plain functions returning what is wrong, so the mutation tests at the end can break a policy and show
that the same checks then fail."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pg_cluster import PgCluster, free_port
from sqlalchemy import Connection, create_engine, insert, text
from sqlalchemy.exc import DBAPIError

from tbdesktop.errors import PermissionDeniedError, TBError, ValidationError
from tbdesktop.services.sync import server
from tbdesktop.services.sync.connect import clinic_engine
from tbdesktop.store.db import normalise_url
from tbdesktop.store.models import (
    AuditEvent,
    Client,
    Note,
    NoteAddendum,
    NoteTemplate,
    RiskFlag,
    SyncConflict,
    TherapySession,
    TranscriptSegment,
)
from tbdesktop.store.sync_tables import CLINICAL

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery staple"
ROLES = {"t1": "therapist", "t2": "therapist", "pm": "practice_manager", "admin": "admin"}


@dataclass
class Clinic:
    cluster: PgCluster
    admin_url: str
    server_url: str
    logins: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)  # therapist 1's rows

    @contextmanager
    def as_user(self, who: str) -> Iterator[Connection]:
        """A connection through the clinician's own login; whatever it did is rolled back unless committed."""
        engine = clinic_engine(self.server_url, self.logins[who], PASSWORD)
        try:
            with engine.connect() as conn:
                yield conn
                conn.rollback()
        finally:
            engine.dispose()

    @contextmanager
    def as_admin(self) -> Iterator[Connection]:
        engine = create_engine(normalise_url(self.admin_url))
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()


def seed_therapist_rows(clinic: Clinic) -> None:
    """Therapist 1, through their own login, writes one row of everything."""
    me = clinic.user_ids["t1"]
    ids = clinic.ids
    ids.update(client=uuid.uuid4(), session=uuid.uuid4(), note=uuid.uuid4(), addendum=uuid.uuid4())
    ids.update(template=uuid.uuid4(), conflict=uuid.uuid4())
    with clinic.as_user("t1") as c:
        c.execute(insert(Client).values(id=ids["client"], owner_id=me, name="Client A"))
        c.execute(
            insert(TherapySession).values(
                id=ids["session"], owner_id=me, client_id=ids["client"], session_date=dt.date(2026, 12, 1)
            )
        )
        c.execute(
            insert(TranscriptSegment),
            [
                {"session_id": ids["session"], "idx": i, "start_s": i, "end_s": i + 1, "speaker": "S1", "text": "hi"}
                for i in range(3)
            ],
        )
        c.execute(insert(Note).values(id=ids["note"], session_id=ids["session"], sections={"a": {"text": "x"}}))
        c.execute(insert(NoteAddendum).values(id=ids["addendum"], note_id=ids["note"], author_id=me, text="later"))
        ids["risk_flag"] = c.execute(
            insert(RiskFlag)
            .values(session_id=ids["session"], kind="k", severity="low", quote="q")
            .returning(RiskFlag.id)
        ).scalar_one()
        c.execute(
            insert(NoteTemplate).values(id=ids["template"], user_id=me, name="Mine", template_content={"sections": []})
        )
        ids["audit"] = c.execute(
            insert(AuditEvent).values(user_id=me, action="create", object_type="client").returning(AuditEvent.id)
        ).scalar_one()
        c.execute(
            insert(SyncConflict).values(
                id=ids["conflict"], owner_id=me, session_id=ids["session"], table_name="notes",
                row_key={"id": str(ids["note"])}, field="sections.a", kept_text="k", lost_text="l",
            )
        )  # fmt: skip
        c.commit()


def make_clinic(cluster: PgCluster) -> Clinic:
    admin_url = cluster.new_database()
    server.init_clinic(admin_url)
    clinic = Clinic(cluster, admin_url, cluster.server_url(admin_url.rsplit("/", 1)[1]))
    tag = uuid.uuid4().hex[:8]
    for who, role in ROLES.items():
        email = f"{who}-{tag}@Example.org"
        clinic.user_ids[who] = server.add_user(admin_url, email, f"User {who}", role, PASSWORD)
        clinic.logins[who] = email.lower()
    seed_therapist_rows(clinic)
    return clinic


@pytest.fixture(scope="module")
def clinic(clinic_cluster: PgCluster) -> Clinic:
    return make_clinic(clinic_cluster)


@pytest.fixture
def fresh_clinic(clinic_cluster: PgCluster) -> Clinic:
    """A clinic of its own, for a test that breaks or repairs the server's security."""
    return make_clinic(clinic_cluster)


# -- the checks -------------------------------------------------------------------------------------------------


def _where(clinic: Clinic) -> dict[str, tuple[str, dict[str, Any]]]:
    """Therapist 1's seeded rows, per table: a condition and its parameters."""
    i = clinic.ids
    return {
        "clients": ("id = :v", {"v": i["client"]}),
        "therapy_sessions": ("id = :v", {"v": i["session"]}),
        "transcript_segments": ("session_id = :v", {"v": i["session"]}),
        "notes": ("id = :v", {"v": i["note"]}),
        "note_addenda": ("id = :v", {"v": i["addendum"]}),
        "risk_flags": ("id = :v", {"v": i["risk_flag"]}),
        "note_templates": ("id = :v", {"v": i["template"]}),
        "audit_events": ("id = :v", {"v": i["audit"]}),
        "sync_conflicts": ("id = :v", {"v": i["conflict"]}),
    }


_EXPECTED_ROWS = {"transcript_segments": 3}
# A column each table can be updated on without breaking anything.
_UPDATE_SET = {
    "clients": "name = 'changed'",
    "therapy_sessions": "ai_summary = 'changed'",
    "transcript_segments": "text = 'changed'",
    "notes": "generator = 'changed'",
    "note_addenda": "text = 'changed'",
    "risk_flags": "detail = 'changed'",
    "note_templates": "name = 'changed'",
    "audit_events": "action = 'changed'",
    "sync_conflicts": "kept_text = 'changed'",
}


def sqlstate(conn: Connection, statement: str, params: dict[str, Any] | None = None) -> str | None:
    """Runs a statement in a savepoint; the SQLSTATE it failed with, or None when it ran."""
    try:
        with conn.begin_nested():
            conn.execute(text(statement), params or {})
    except DBAPIError as exc:
        return str(getattr(exc.orig, "sqlstate", "?"))
    return None


def _count(conn: Connection, table: str, where: str, params: dict[str, Any]) -> int:
    with conn.begin_nested():
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one())


def positive_control_failures(clinic: Clinic) -> list[str]:
    """Therapist 1 sees each of their own rows (so an isolation check that finds nothing means something)."""
    out = []
    with clinic.as_user("t1") as c:
        for table, (where, params) in _where(clinic).items():
            try:
                n = _count(c, table, where, params)
            except DBAPIError as exc:
                out.append(f"therapist 1 cannot read {table}: {exc.orig}")
                continue
            if n != _EXPECTED_ROWS.get(table, 1):
                out.append(f"therapist 1 sees {n} of their own rows in {table}")
    return out


def isolation_failures(clinic: Clinic, who: str = "t2") -> list[str]:
    """What another clinician can see or change of therapist 1's rows (each write is rolled back)."""
    out = []
    with clinic.as_user(who) as c:
        for table, (where, params) in _where(clinic).items():
            n = _count(c, table, where, params)
            if n:
                out.append(f"{who} sees {n} rows of therapist 1 in {table}")
            for verb, statement in (
                ("updates", f"UPDATE {table} SET {_UPDATE_SET[table]} WHERE {where}"),
                ("deletes", f"DELETE FROM {table} WHERE {where}"),
            ):
                try:
                    with c.begin_nested() as sp:
                        changed = c.execute(text(statement), params).rowcount
                        sp.rollback()
                except DBAPIError as exc:
                    if getattr(exc.orig, "sqlstate", None) != "42501":
                        out.append(f"{who} {verb} {table}: unexpected error {exc.orig}")
                    continue
                if changed:
                    out.append(f"{who} {verb} {changed} rows of therapist 1 in {table}")
    return out


def insert_refusal_failures(clinic: Clinic, who: str = "t2") -> list[str]:
    """Writing a row owned by therapist 1, or under their session or note, is refused (42501) — before any
    foreign key could tell whether the id exists."""
    t1, i = clinic.user_ids["t1"], clinic.ids
    me = clinic.user_ids[who]
    attempts = {
        "client owned by t1": ("INSERT INTO clients (id, owner_id, name, created_at) VALUES (:id, :t1, 'x', now())"),
        "session owned by t1": (
            "INSERT INTO therapy_sessions (id, owner_id, session_date, processing_status, speakers, created_at, "
            "updated_at) VALUES (:id, :t1, '2026-12-01', 'queued', '{}', now(), now())"
        ),
        "own session for t1's client": (
            "INSERT INTO therapy_sessions (id, owner_id, client_id, session_date, processing_status, speakers, "
            "created_at, updated_at) VALUES (:id, :me, :client, '2026-12-01', 'queued', '{}', now(), now())"
        ),
        "segment in t1's session": (
            "INSERT INTO transcript_segments (session_id, idx, start_s, end_s, speaker, text, words) "
            "VALUES (:session, 50, 0, 1, 'S1', 'x', '[]')"
        ),
        "segment in t1's session, claiming own": (
            "INSERT INTO transcript_segments (session_id, idx, start_s, end_s, speaker, text, words, owner_id) "
            "VALUES (:session, 51, 0, 1, 'S1', 'x', '[]', :me)"
        ),
        "note in t1's session": (
            "INSERT INTO notes (id, session_id, version, sections, status, generator, created_at) "
            "VALUES (:id, :session, 9, '{}', 'draft', 'local', now())"
        ),
        "risk flag in t1's session": (
            "INSERT INTO risk_flags (session_id, kind, severity, quote) VALUES (:session, 'k', 'low', 'q')"
        ),
        "addendum to t1's note": (
            "INSERT INTO note_addenda (id, note_id, text, created_at) VALUES (:id, :note, 'x', now())"
        ),
        "template of t1": (
            "INSERT INTO note_templates (id, user_id, name, template_content, created_at, updated_at) "
            "VALUES (:id, :t1, 'x', '{}', now(), now())"
        ),
        "audit event of t1": (
            "INSERT INTO audit_events (user_id, action, object_type, at) VALUES (:t1, 'x', 'client', now())"
        ),
        "conflict of t1": (
            "INSERT INTO sync_conflicts (id, owner_id, table_name, row_key, field, kind, created_at) "
            "VALUES (:id, :t1, 'notes', '{}', 'f', 'overwritten', now())"
        ),
        "push mark of t1": ("INSERT INTO sync_push_marks (workstation_id, owner_id, last_seq) VALUES (:id, :t1, 1)"),
        "tombstone": "INSERT INTO sync_tombstones (table_name, row_key, owner_id) VALUES ('clients', '{}', :me)",
    }
    params = {"id": uuid.uuid4(), "t1": t1, "me": me, "client": i["client"], "session": i["session"], "note": i["note"]}
    out = []
    with clinic.as_user(who) as c:
        for what, statement in attempts.items():
            state = sqlstate(c, statement, params)
            if state != "42501":
                out.append(f"{who}: {what} gave {state or 'success'}, not 42501")
    return out


def admin_failures(clinic: Clinic) -> list[str]:
    """The admin sees the user directory and no clinical row at all."""
    out = []
    with clinic.as_user("admin") as c:
        for table in CLINICAL:
            state = sqlstate(c, f"SELECT 1 FROM {table} LIMIT 1")
            if state == "42501":
                continue
            n = _count(c, table, "true", {})
            if n:
                out.append(f"the admin sees {n} rows of {table}")
        directory = int(c.execute(text("SELECT count(*) FROM users")).scalar_one())
        if directory != len(ROLES):
            out.append(f"the admin sees {directory} users in the directory")
    return out


# -- the suite --------------------------------------------------------------------------------------------------


def test_init_is_idempotent_and_the_catalog_check_is_clean(clinic: Clinic) -> None:
    again = server.init_clinic(clinic.admin_url)
    assert again.newly_applied is False
    assert again.clinic_schema_version == server.CLINIC_SCHEMA_VERSION
    engine = create_engine(normalise_url(clinic.admin_url))
    try:
        assert server.rls_problems(engine) == []
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version FROM clinic_schema")).scalars().all()
            owners = set(
                conn.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
            triggers = conn.execute(
                text("SELECT count(*) FROM pg_trigger WHERE tgname = 'tb_tombstone' AND NOT tgisinternal")
            ).scalar_one()
        assert versions == [server.CLINIC_SCHEMA_VERSION]
        assert owners == {server.OWNER_ROLE}
        assert triggers == 10  # one per synced table
    finally:
        engine.dispose()


def test_each_therapist_sees_and_changes_only_their_own_rows(clinic: Clinic) -> None:
    assert positive_control_failures(clinic) == []
    assert isolation_failures(clinic, "t2") == []
    assert insert_refusal_failures(clinic, "t2") == []
    # the practice manager is no exception for clinical rows
    assert isolation_failures(clinic, "pm") == []


def test_children_carry_their_sessions_owner_on_the_server(clinic: Clinic) -> None:
    with clinic.as_admin() as c:
        for table, column, value in (
            ("transcript_segments", "session_id", clinic.ids["session"]),
            ("notes", "id", clinic.ids["note"]),
            ("note_addenda", "id", clinic.ids["addendum"]),
            ("risk_flags", "id", clinic.ids["risk_flag"]),
        ):
            owners = set(c.execute(text(f"SELECT owner_id FROM {table} WHERE {column} = :v"), {"v": value}).scalars())
            assert owners == {clinic.user_ids["t1"]}, table


def test_the_admin_sees_the_directory_only(clinic: Clinic) -> None:
    assert admin_failures(clinic) == []


def test_no_clinician_reads_password_hashes_or_settings(clinic: Clinic) -> None:
    for who in ROLES:
        with clinic.as_user(who) as c:
            assert sqlstate(c, "SELECT password_hash FROM users") == "42501", who
            assert sqlstate(c, "SELECT settings FROM users") == "42501", who
            assert sqlstate(c, "SELECT * FROM users") == "42501", who
            assert sqlstate(c, "SELECT id, email, display_name, role, created_at, sync_tx FROM users") is None
            assert sqlstate(c, "UPDATE users SET display_name = 'x'") == "42501", who
            assert sqlstate(c, "SELECT * FROM processing_jobs") == "42501", who
            assert sqlstate(c, "SELECT * FROM sync_outbox") == "42501", who
            # only their own login's mapping
            assert c.execute(text("SELECT login_role FROM clinic_users")).scalars().all() == [clinic.logins[who]]


def test_audit_events_are_append_only(clinic: Clinic) -> None:
    with clinic.as_user("t1") as c:
        assert sqlstate(c, "UPDATE audit_events SET action = 'x' WHERE id = :i", {"i": clinic.ids["audit"]}) == "42501"
        assert sqlstate(c, "DELETE FROM audit_events WHERE id = :i", {"i": clinic.ids["audit"]}) == "42501"
        assert (
            sqlstate(
                c,
                "INSERT INTO audit_events (user_id, action, object_type, at) VALUES (:u, 'open', 'session', now())",
                {"u": clinic.user_ids["t1"]},
            )
            is None
        )


def test_clinic_templates_are_written_by_practice_managers_and_read_by_every_clinician(clinic: Clinic) -> None:
    shared = uuid.uuid4()
    add = (
        "INSERT INTO note_templates (id, user_id, name, template_content, is_default, builtin, created_at, "
        "updated_at) VALUES (:id, NULL, 'Clinic', '{}', false, false, now(), now())"
    )
    with clinic.as_user("t1") as c:
        assert sqlstate(c, add, {"id": uuid.uuid4()}) == "42501"
    with clinic.as_user("pm") as c:
        assert sqlstate(c, add, {"id": shared}) is None
        assert (
            c.execute(text("UPDATE note_templates SET name = 'Clinic v2' WHERE id = :i"), {"i": shared}).rowcount == 1
        )
        builtin = c.execute(text("SELECT id FROM note_templates WHERE builtin LIMIT 1")).scalar_one()
        assert sqlstate(c, "UPDATE note_templates SET name = 'x' WHERE id = :i", {"i": builtin}) == "42501"
        c.commit()
    for who in ("t1", "t2", "pm"):
        with clinic.as_user(who) as c:
            names = c.execute(text("SELECT name FROM note_templates WHERE id = :i"), {"i": shared}).scalars().all()
            assert names == ["Clinic v2"], who
    with clinic.as_user("t2") as c:
        assert sqlstate(c, "UPDATE note_templates SET name = 'x' WHERE id = :i", {"i": shared}) == "42501"
        assert sqlstate(c, "DELETE FROM note_templates WHERE id = :i", {"i": shared}) is None
        assert c.execute(text("SELECT count(*) FROM note_templates WHERE id = :i"), {"i": shared}).scalar_one() == 1
        # nor can a therapist turn their own template into a clinic-wide one
        own = uuid.uuid4()
        c.execute(
            text(
                "INSERT INTO note_templates (id, user_id, name, template_content, created_at, updated_at) "
                "VALUES (:id, :me, 'Own', '{}', now(), now())"
            ),
            {"id": own, "me": clinic.user_ids["t2"]},
        )
        assert sqlstate(c, "UPDATE note_templates SET user_id = NULL WHERE id = :i", {"i": own}) == "42501"


def test_a_deletion_leaves_a_tombstone_only_its_owner_reads(clinic: Clinic) -> None:
    session = clinic.ids["session"]
    with clinic.as_user("t1") as c:
        c.execute(
            text(
                "INSERT INTO transcript_segments (session_id, idx, start_s, end_s, speaker, text, words) "
                "VALUES (:s, 77, 0, 1, 'S1', 'bye', '[]')"
            ),
            {"s": session},
        )
        flag = c.execute(
            text(
                "INSERT INTO risk_flags (session_id, kind, severity, quote) VALUES (:s, 'k', 'low', 'q') RETURNING id"
            ),
            {"s": session},
        ).scalar_one()
        c.commit()
        c.execute(text("DELETE FROM transcript_segments WHERE session_id = :s AND idx = 77"), {"s": session})
        c.execute(text("DELETE FROM risk_flags WHERE id = :i"), {"i": flag})
        c.commit()
        stones = c.execute(text("SELECT table_name, row_key, owner_id FROM sync_tombstones ORDER BY id")).all()
    assert [(s.table_name, s.row_key, s.owner_id) for s in stones] == [
        ("transcript_segments", {"session_id": str(session), "idx": 77}, clinic.user_ids["t1"]),
        ("risk_flags", {"id": flag, "session_id": str(session)}, clinic.user_ids["t1"]),
    ]
    with clinic.as_user("t2") as c:
        assert c.execute(text("SELECT count(*) FROM sync_tombstones")).scalar_one() == 0
        assert sqlstate(c, "DELETE FROM sync_tombstones") == "42501"


def test_sync_tx_moves_on_update(clinic: Clinic) -> None:
    query = text("SELECT sync_tx::text FROM clients WHERE id = :i")
    with clinic.as_user("t1") as c:
        before = int(c.execute(query, {"i": clinic.ids["client"]}).scalar_one())
        c.commit()
        c.execute(text("UPDATE clients SET pronouns = 'they' WHERE id = :i"), {"i": clinic.ids["client"]})
        c.commit()
        after = int(c.execute(query, {"i": clinic.ids["client"]}).scalar_one())
    assert after > before


def test_a_profile_is_claimed_only_while_it_holds_nothing(clinic: Clinic) -> None:
    with clinic.as_user("t1") as c:
        assert sqlstate(c, "SELECT tb_claim_profile(:n)", {"n": uuid.uuid4()}) == server.CLAIM_REFUSED_SQLSTATE
    email = f"claim-{uuid.uuid4().hex[:8]}@example.org"
    server.add_user(clinic.admin_url, email, "Claimer", "therapist", PASSWORD)
    new_id = uuid.uuid4()
    engine = clinic_engine(clinic.server_url, email, PASSWORD)
    try:
        with engine.connect() as c:
            taken = clinic.user_ids["t2"]
            assert sqlstate(c, "SELECT tb_claim_profile(:n)", {"n": taken}) == server.CLAIM_REFUSED_SQLSTATE
            assert c.execute(text("SELECT tb_claim_profile(:n)"), {"n": new_id}).scalar_one() == new_id
            c.commit()
    finally:
        engine.dispose()
    assert server.check_login(clinic.server_url, email, PASSWORD).id == new_id


# -- logins -----------------------------------------------------------------------------------------------------


def test_add_user_refuses_duplicates_short_passwords_and_unknown_roles(clinic: Clinic) -> None:
    t1 = clinic.logins["t1"]
    with pytest.raises(ValidationError, match="already a user"):
        server.add_user(clinic.admin_url, t1.upper(), "Again", "therapist", PASSWORD)
    with pytest.raises(ValidationError, match="at least 10"):
        server.add_user(clinic.admin_url, "short@example.org", "Short", "therapist", "tooshort")
    with pytest.raises(ValidationError, match="role"):
        server.add_user(clinic.admin_url, "boss@example.org", "Boss", "owner", PASSWORD)
    with pytest.raises(ValidationError, match="email"):
        server.add_user(clinic.admin_url, "not-an-email", "Who", "therapist", PASSWORD)


def test_a_login_is_shared_by_the_clinic_databases_of_one_server(clinic: Clinic, clinic_cluster: PgCluster) -> None:
    other_admin = clinic_cluster.new_database()
    server.init_clinic(other_admin)
    other_url = clinic_cluster.server_url(other_admin.rsplit("/", 1)[1])
    t1 = clinic.logins["t1"]
    # logins are server-wide: t1 reaches the other database but is no one there until added
    with pytest.raises(PermissionDeniedError, match="not a user of this clinic"):
        server.check_login(other_url, t1, PASSWORD)
    elsewhere = server.add_user(other_admin, t1, "T1 elsewhere", "therapist", PASSWORD)
    assert server.check_login(other_url, t1, PASSWORD).id == elsewhere
    assert server.check_login(clinic.server_url, t1, PASSWORD).id == clinic.user_ids["t1"]
    engine = clinic_engine(other_url, t1, PASSWORD)
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM clients")).scalar_one() == 0
    finally:
        engine.dispose()
    # a login that is not a clinician's is never taken over
    dba = f"dba-{uuid.uuid4().hex[:8]}@example.org"
    with clinic.as_admin() as c:
        c.execute(text(f'CREATE ROLE "{dba}" LOGIN CREATEROLE'))
    with pytest.raises(ValidationError, match="not a clinician's"):
        server.add_user(clinic.admin_url, dba, "Dba", "admin", PASSWORD)


def test_passwords_are_stored_as_scram_verifiers_and_never_reach_the_server_log(clinic: Clinic) -> None:
    secret = f"never-logged-{uuid.uuid4().hex}"
    email = f"scram-{uuid.uuid4().hex[:8]}@example.org"
    server.add_user(clinic.admin_url, email, "Scram", "therapist", secret)
    server.set_password(clinic.admin_url, email, secret + "-2")
    with clinic.as_admin() as c:
        stored = c.execute(text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": email}).scalar_one()
    assert stored.startswith("SCRAM-SHA-256$")
    log = clinic.cluster.log_text()
    assert "ALTER ROLE" in log  # statements are logged, so the check below means something
    assert secret not in log
    assert server.check_login(clinic.server_url, email, secret + "-2").email == email


def test_check_login_explains_what_went_wrong(clinic: Clinic) -> None:
    entry = server.check_login(clinic.server_url, clinic.logins["pm"].upper(), PASSWORD)
    assert (entry.id, entry.role, entry.display_name) == (clinic.user_ids["pm"], "practice_manager", "User pm")
    with pytest.raises(PermissionDeniedError, match="did not accept the password") as wrong:
        server.check_login(clinic.server_url, clinic.logins["t1"], "not the password")
    assert "not the password" not in wrong.value.message
    port = free_port()
    with pytest.raises(TBError, match=f"Could not reach the clinic server at 127.0.0.1:{port}"):
        server.check_login(f"postgresql://127.0.0.1:{port}/clinic", clinic.logins["t1"], PASSWORD)
    with pytest.raises(PermissionDeniedError, match="administrator"):
        server.init_clinic(clinic.cluster.url(clinic.server_url.rsplit("/", 1)[1], clinic.logins["t1"], PASSWORD))


def test_a_disabled_login_cannot_connect_and_keeps_its_rows(clinic_cluster: PgCluster) -> None:
    admin_url = clinic_cluster.new_database()
    server.init_clinic(admin_url)
    url = clinic_cluster.server_url(admin_url.rsplit("/", 1)[1])
    email = f"gone-{uuid.uuid4().hex[:8]}@example.org"
    user_id = server.add_user(admin_url, email, "Gone", "therapist", PASSWORD)
    server.disable_user(admin_url, email)
    with pytest.raises(PermissionDeniedError, match="disabled"):
        server.check_login(url, email, PASSWORD)
    server.enable_user(admin_url, email)
    assert server.check_login(url, email, PASSWORD).id == user_id


def test_the_cluster_can_be_stopped_and_started(clinic: Clinic) -> None:
    clinic.cluster.stop()
    try:
        with pytest.raises(TBError, match="Could not reach the clinic server"):
            server.check_login(clinic.server_url, clinic.logins["t1"], PASSWORD)
    finally:
        clinic.cluster.start()
    assert server.check_login(clinic.server_url, clinic.logins["t1"], PASSWORD).id == clinic.user_ids["t1"]


# -- the checks fail when a policy is broken --------------------------------------------------------------------


def _break(clinic: Clinic, *statements: str) -> None:
    with clinic.as_admin() as c:
        for statement in statements:
            c.execute(text(statement))


def _problems(clinic: Clinic) -> list[str]:
    engine = create_engine(normalise_url(clinic.admin_url))
    try:
        return server.rls_problems(engine)
    finally:
        engine.dispose()


def test_a_dropped_policy_is_found_and_repaired(fresh_clinic: Clinic) -> None:
    _break(fresh_clinic, "DROP POLICY tb_clients_all ON clients")
    assert any("clients" in f for f in positive_control_failures(fresh_clinic))
    assert "table clients is missing its policy tb_clients_all" in _problems(fresh_clinic)
    server.init_clinic(fresh_clinic.admin_url)  # re-running repairs it
    assert positive_control_failures(fresh_clinic) == []
    assert _problems(fresh_clinic) == []


def test_a_policy_open_to_all_is_found(fresh_clinic: Clinic) -> None:
    _break(
        fresh_clinic,
        "DROP POLICY tb_notes_all ON notes",
        "CREATE POLICY tb_notes_all ON notes FOR ALL TO tb_clinician USING (true) WITH CHECK (true)",
    )
    found = isolation_failures(fresh_clinic)
    assert any("sees 1 rows of therapist 1 in notes" in f for f in found), found
    assert any("updates 1 rows of therapist 1 in notes" in f for f in found), found
    assert "policy tb_notes_all on notes has a different USING expression" in _problems(fresh_clinic)
    server.init_clinic(fresh_clinic.admin_url)
    assert isolation_failures(fresh_clinic) == []


def test_an_extra_permissive_policy_is_found(fresh_clinic: Clinic) -> None:
    _break(fresh_clinic, "CREATE POLICY peek ON transcript_segments FOR SELECT TO tb_clinician USING (true)")
    assert any("transcript_segments" in f for f in isolation_failures(fresh_clinic))
    assert "table transcript_segments has an unexpected policy peek" in _problems(fresh_clinic)
    server.init_clinic(fresh_clinic.admin_url)
    assert _problems(fresh_clinic) == []


def test_row_level_security_that_is_not_forced_is_found(fresh_clinic: Clinic) -> None:
    _break(fresh_clinic, "ALTER TABLE clients NO FORCE ROW LEVEL SECURITY")
    assert "table clients does not force row-level security on its owner" in _problems(fresh_clinic)
    _break(fresh_clinic, "ALTER TABLE risk_flags DISABLE ROW LEVEL SECURITY")
    problems = _problems(fresh_clinic)
    assert "table risk_flags does not have row-level security enabled" in problems
    assert any("risk_flags" in f for f in isolation_failures(fresh_clinic))
    server.init_clinic(fresh_clinic.admin_url)
    assert _problems(fresh_clinic) == []


def test_a_table_given_to_another_owner_or_a_readable_hash_is_found(fresh_clinic: Clinic) -> None:
    _break(fresh_clinic, "ALTER TABLE notes OWNER TO postgres", "GRANT SELECT (password_hash) ON users TO tb_clinician")
    problems = _problems(fresh_clinic)
    assert "table notes is owned by postgres, not tb_owner" in problems
    assert "clinicians can read users.password_hash" in problems
    server.init_clinic(fresh_clinic.admin_url)
    assert _problems(fresh_clinic) == []


# -- TLS --------------------------------------------------------------------------------------------------------


def _certificates(directory: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate it signed (for localhost and 127.0.0.1), and a CA that did not."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def ca(cn: str) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return key, cert

    ca_key, ca_cert = ca("Clinic test CA")
    _, other_cert = ca("Some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    files = {
        "ca": (directory / "ca.pem", ca_cert.public_bytes(pem)),
        "other_ca": (directory / "other-ca.pem", other_cert.public_bytes(pem)),
        "cert": (directory / "server.crt", cert.public_bytes(pem)),
        "key": (
            directory / "server.key",
            key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
        ),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {k: path for k, (path, _) in files.items()}


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgCluster, dict[str, Path]]]:
    certs = _certificates(tmp_path_factory.mktemp("clinic-tls"))
    cluster = PgCluster(ssl_cert=certs["cert"], ssl_key=certs["key"])
    try:
        yield cluster, certs
    finally:
        cluster.destroy()


def test_verify_full_accepts_the_clinic_ca_and_refuses_another(tls_cluster: tuple[PgCluster, dict[str, Path]]) -> None:
    cluster, certs = tls_cluster
    admin_url = cluster.new_database()
    server.init_clinic(admin_url, ca_file=str(certs["ca"]))
    email = f"tls-{uuid.uuid4().hex[:8]}@example.org"
    user_id = server.add_user(admin_url, email, "Tls", "therapist", PASSWORD, ca_file=str(certs["ca"]))
    database = admin_url.rsplit("/", 1)[1]
    for host in ("127.0.0.1", "localhost"):
        url = f"postgresql://{host}:{cluster.port}/{database}"
        assert server.check_login(url, email, PASSWORD, ca_file=str(certs["ca"])).id == user_id
        with pytest.raises(TBError, match="could not be verified with") as refused:
            server.check_login(url, email, PASSWORD, ca_file=str(certs["other_ca"]))
        assert "certificate" in refused.value.message
    plain = f"postgresql://127.0.0.1:{cluster.port}/{database}?sslmode=disable"
    with pytest.raises(PermissionDeniedError, match="accepts only encrypted connections"):
        server.check_login(plain, email, PASSWORD)
