"""The catalog check of the clinic server's row-level security: what is wrong, in plain words."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tbdesktop.services.sync.server.schema import CLINICIAN_ROLE, OWNER_ROLE, POLICIES, SECURED
from tbdesktop.store.sync_tables import SYNCED

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
