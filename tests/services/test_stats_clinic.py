"""Practice figures in clinic mode, on a real PostgreSQL clinic server with row-level security: a practice manager's
whole-practice counts come from the server's aggregate function, which answers practice managers only, returns
counts and never a row, and survives the clinic set-up being run again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from clinic_support import PASSWORDS, Clinic
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from stats_support import CLIENT_NAMES, DANA, MORGAN, SUMMARY, seed, series

from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.stats import StatsQuery, StatsService
from tbdesktop.services.stats_tables import figure_tables
from tbdesktop.services.sync.connect import clinic_engine
from tbdesktop.services.sync.server import init_clinic
from tbdesktop.services.sync.service import ClinicSignInError
from tbdesktop.store import migrate
from tbdesktop.store.db import Database

T1, T2, PM = "t1@clinic.example", "t2@clinic.example", "pm@clinic.example"
FIGURES_SQL = "SELECT series, bucket, label, value FROM tb_stats.practice_figures(NULL, NULL)"


def _as(clinic: Clinic, email: str, statement: str) -> list[Any]:
    engine = clinic_engine(clinic.url, email, PASSWORDS[email])
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(statement)).all())
    finally:
        engine.dispose()


@pytest.fixture
def clinic_practice(clinic: Clinic, workstations: Any) -> dict[str, Any]:
    """Dana's sessions made on Room 1 (therapist 1), Morgan's on Room 2 (therapist 2), both synced; the practice
    manager joined on the Office workstation."""
    room1, room2, office = workstations("Room 1"), workstations("Room 2"), workstations("Office")
    t1 = room1.join(clinic, T1)
    seed(room1.ctx, t1.id, DANA)
    room1.sync.sync_now()
    t2 = room2.join(clinic, T2)
    seed(room2.ctx, t2.id, MORGAN)
    room2.sync.sync_now()
    pm = office.join(clinic, PM)
    assert clinic.count("therapy_sessions") == 8 and clinic.count("risk_flags") == 6
    return {"room1": room1, "office": office, "t1": t1, "pm": pm}


def test_a_practice_manager_counts_the_whole_clinic_on_the_server(
    clinic: Clinic, clinic_practice: dict[str, Any], make_settings: Any
) -> None:
    office, pm = clinic_practice["office"], clinic_practice["pm"]
    assert _as(clinic, PM, "SELECT count(*) FROM therapy_sessions") == [(0,)]  # no one else's rows, as ever
    service = StatsService(office.ctx, pm)
    stats = service.figures_sync(StatsQuery())
    got = series(stats)
    assert stats.scope == "practice" and stats.source == "clinic server"
    assert got["sessions"] == [3, 2, 0, 2, 1]
    assert got["notes"] == [(3, 0, 0), (0, 1, 1), (0, 0, 0), (1, 1, 0), (1, 0, 0)]
    assert got["median"] == [0.0, None, None, 2.0, 1.0]
    t = stats.totals
    assert (t.sessions, t.notes_signed, t.notes_draft, t.no_note, t.median_days_to_sign) == (8, 5, 2, 1, 1.0)
    assert t.hours == 5.5 and t.risk_flags == 5
    assert stats.risk_kinds == ["suicidal_ideation", "self_harm", "harm_to_others", "substance_use"]
    assert t.recordings_processed == 0  # processing jobs stay on the workstation that ran them

    shown = json.dumps(stats.to_json()) + json.dumps([x.to_json() for x in figure_tables(stats)])
    for secret in (*CLIENT_NAMES, SUMMARY, "a quote"):
        assert secret not in shown

    # The same figures as counted from a local database holding the same sessions
    local = AppContext.open(make_settings(data_dir=office.root.parent / "local"))
    try:
        profiles = ProfileService(local)
        seed(local, profiles.create_profile_sync("Dana Reyes", "dana@example.org").id, DANA)
        seed(local, profiles.create_profile_sync("Morgan Hale", "morgan@example.org").id, MORGAN)
        manager = profiles.create_profile_sync("Pat Okafor", "pat@example.org", role="practice_manager")
        counted_here = series(StatsService(local, manager).figures_sync(StatsQuery()))
    finally:
        local.close()
    counted_here.pop("processing")
    got.pop("processing")
    assert got == counted_here

    ranged = service.figures_sync(StatsQuery(start=stats.sessions[1].week, end=stats.sessions[4].week))
    assert [w.sessions for w in ranged.sessions] == [2, 0, 2, 0]  # 9 to 30 Nov: the session of 1 Dec is out
    assert ranged.totals.risk_flags == 2 and ranged.source == "clinic server"


def test_the_servers_figures_answer_practice_managers_only(clinic: Clinic, clinic_practice: dict[str, Any]) -> None:
    for email in (T1, T2):
        with pytest.raises(DBAPIError) as refused:
            _as(clinic, email, FIGURES_SQL)
        assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    with pytest.raises(DBAPIError):  # IT's administrator is not a clinic login either
        clinic.sql(FIGURES_SQL)
    rows = _as(clinic, PM, FIGURES_SQL)
    assert {r[0] for r in rows} == {"sessions", "minutes", "notes", "sign_days_median", "sign_days", "risk"}
    labels = {r[2] for r in rows if r[2] is not None}
    kinds = {kind for s in DANA + MORGAN for kind, _ in s.flags}
    assert labels <= {"signed", "draft", "none", "0", "1", "2", "4", "8", *kinds}
    assert sum(r[3] for r in rows if r[0] == "sessions") == 8

    (definer,) = clinic.sql(
        "SELECT p.prosecdef, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'tb_stats' AND p.proname = 'practice_figures'"
    )
    assert definer[0] is True and "search_path=public, pg_temp" in definer[1]

    # The clinic set-up, run again (as after an upgrade), revokes every right in public and grants back its own:
    # the practice figures keep working.
    init_clinic(clinic.admin_url)
    assert sum(r[3] for r in _as(clinic, PM, FIGURES_SQL) if r[0] == "sessions") == 8
    with pytest.raises(DBAPIError):
        _as(clinic, T1, FIGURES_SQL)


def test_a_therapist_in_a_clinic_sees_their_own_figures_from_this_workstation(
    clinic_practice: dict[str, Any],
) -> None:
    stats = StatsService(clinic_practice["room1"].ctx, clinic_practice["t1"]).figures_sync(StatsQuery())
    assert stats.scope == "own" and stats.source == "this workstation"
    assert stats.totals.sessions == 6 and stats.totals.recordings_processed == 4


def test_a_manager_who_is_not_signed_in_is_asked_to(clinic_practice: dict[str, Any]) -> None:
    office, pm = clinic_practice["office"], clinic_practice["pm"]
    office.sync.sign_out(pm.id)
    with pytest.raises(ClinicSignInError, match="Sign in to the clinic"):
        StatsService(office.ctx, pm).figures_sync(StatsQuery())


def test_the_migration_adds_and_removes_the_function(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        migrate.upgrade(db.engine)

        def present() -> bool:
            with db.engine.connect() as conn:
                found = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE n.nspname = 'tb_stats' AND p.proname = 'practice_figures'"
                    )
                ).scalar()
                return found == 1

        assert present()
        migrate.downgrade(db.engine, "0009_risk_flag_reviews")
        assert not present()
        migrate.upgrade(db.engine)
        assert present()
    finally:
        db.dispose()
