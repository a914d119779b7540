"""Practice figures on a database filled with known sessions, notes, risk flags and processing jobs (SQLite and
PostgreSQL): weekly buckets, hours, medians, date and client filters, and who sees what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from stats_support import CLIENT_NAMES, DANA, MORGAN, SUMMARY, seed, series

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.stats import PracticeStats, StatsQuery, StatsService, delay_bucket, week_of
from tbdesktop.services.stats_tables import figure_tables, total_lines
from tbdesktop.store.models import AuditEvent

W = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def practice(db_url: str, make_settings: Any) -> Iterator[tuple[AppContext, dict[str, Any]]]:
    """Dana and Morgan (therapists) and Pat (practice manager) on one database with the known sessions."""
    ctx = AppContext.open(make_settings(database_url=db_url))
    try:
        profiles = ProfileService(ctx)
        dana = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
        morgan = profiles.create_profile_sync("Morgan Hale", "morgan@example.org")
        pat = profiles.create_profile_sync("Pat Okafor", "pat@example.org", role="practice_manager")
        clients = seed(ctx, dana.id, DANA)
        clients.update(seed(ctx, morgan.id, MORGAN))
        yield ctx, {"dana": dana, "morgan": morgan, "pat": pat, "clients": clients}
    finally:
        ctx.close()


def figures(ctx: AppContext, user: UserInfo, **query: Any) -> PracticeStats:
    return StatsService(ctx, user).figures_sync(StatsQuery(**query))


def test_a_therapists_own_figures_week_by_week(practice: Any) -> None:
    ctx, people = practice
    stats = figures(ctx, people["dana"])
    got = series(stats)
    assert stats.scope == "own" and stats.source == "this workstation" and stats.client is None
    assert got["weeks"] == W  # the quiet week of 16 Nov is there, with zeros
    assert got["sessions"] == [2, 2, 0, 1, 1]
    assert got["hours"] == [1.83, 0.75, 0.0, 0.5, 0.67]  # 110, 45 (one session not processed), 0, 30, 40 minutes
    assert got["notes"] == [(2, 0, 0), (0, 1, 1), (0, 0, 0), (1, 0, 0), (1, 0, 0)]
    # days to the first signature: 0 and 4 (a later signed version does not count), —, —, 2, 1
    assert got["median"] == [2.0, None, None, 2.0, 1.0]
    assert got["delays"] == [1, 1, 1, 1, 0]  # same day, 1 day, 2-3, 4-7, more than a week
    # completed "process" jobs only, by the week they finished: audio minutes / minutes of processing
    assert got["processing"] == [
        (W[0], 2, 110.0, 30.0, 3.67),
        (W[1], 0, 0.0, 0.0, None),
        (W[2], 0, 0.0, 0.0, None),
        (W[3], 1, 30.0, 15.0, 2.0),
        (W[4], 1, 40.0, 8.0, 5.0),
    ]
    assert stats.risk_kinds == ["suicidal_ideation", "harm_to_others", "substance_use"]  # a denial is not raised
    assert got["risk"] == [
        (NOV, {"suicidal_ideation": 2, "harm_to_others": 0, "substance_use": 1}),
        (DEC, {"suicidal_ideation": 0, "harm_to_others": 1, "substance_use": 0}),
    ]
    t = stats.totals
    assert (t.sessions, t.hours, t.notes_signed, t.notes_draft, t.no_note) == (6, 3.75, 4, 1, 1)
    assert t.median_days_to_sign == 1.5  # of 0, 4, 2, 1
    assert (t.risk_flags, t.recordings_processed, t.audio_minutes, t.processing_minutes) == (4, 4, 180.0, 53.0)
    assert t.processing_speed == 3.4


def test_tables_hold_the_same_figures(practice: Any) -> None:
    ctx, people = practice
    stats = figures(ctx, people["dana"])
    tables = {t.key: t for t in figure_tables(stats)}
    assert list(tables) == ["sessions", "notes", "sign_days", "sign_delays", "processing", "risk"]
    assert tables["sessions"].rows[0] == ["2026-11-02", "2", "1.83"]
    assert tables["sessions"].rows[2] == ["2026-11-16", "0", "0"]
    assert tables["sign_days"].rows[1] == ["2026-11-09", "0", ""]  # no signed note that week: no median
    assert tables["sign_delays"].rows[2] == ["2–3 days", "1"]
    assert tables["processing"].rows[0] == ["2026-11-02", "2", "110", "30", "3.67"]
    assert tables["risk"].headers == ["Month", "Suicidal ideation", "Harm to others", "Substance use", "Total"]
    assert tables["risk"].rows == [["2026-11", "2", "0", "1", "3"], ["2026-12", "0", "1", "0", "1"]]
    assert dict(total_lines(stats.totals))["Processing speed"] == "3.4× real time"


def test_a_date_range_limits_sessions_flags_and_processing(practice: Any) -> None:
    ctx, people = practice
    stats = figures(ctx, people["dana"], start=date(2026, 11, 9), end=date(2026, 11, 30))
    got = series(stats)
    assert got["weeks"] == W[1:]  # from the week of the first day to the week of the last
    assert got["sessions"] == [2, 0, 1, 0]  # the session of 1 Dec is after the range
    assert got["hours"] == [0.75, 0.0, 0.5, 0.0]
    assert got["median"] == [None, None, 2.0, None]
    assert [p[1] for p in got["processing"]] == [0, 0, 1, 0]  # the job that finished on 1 Dec is left out
    assert got["risk"] == [(NOV, {"suicidal_ideation": 1, "substance_use": 1})]
    assert stats.start == date(2026, 11, 9) and stats.end == date(2026, 11, 30)

    one_day = figures(ctx, people["dana"], start=date(2026, 11, 24), end=date(2026, 11, 24))
    assert series(one_day)["sessions"] == [1] and one_day.totals.hours == 0.5
    nothing = figures(ctx, people["dana"], start=date(2027, 1, 4), end=date(2027, 1, 17))
    assert series(nothing)["sessions"] == [0, 0] and nothing.totals.sessions == 0
    assert [(m.month, m.flags) for m in nothing.risk] == [(date(2027, 1, 1), {})]


def test_a_client_filter_shows_that_clients_sessions_only(practice: Any) -> None:
    ctx, people = practice
    by_name = figures(ctx, people["dana"], client_name="  jordan LEE ")
    got = series(by_name)
    assert by_name.client == "Jordan Lee"
    assert got["sessions"] == [1, 2, 0, 0, 1]
    assert got["hours"] == [0.83, 0.75, 0.0, 0.0, 0.67]
    assert by_name.totals.median_days_to_sign == 0.5  # signed after 0 and 1 days
    assert [(p[0], p[1]) for p in got["processing"] if p[1]] == [(W[0], 1), (W[4], 1)]
    by_id = figures(ctx, people["dana"], client_id=people["clients"]["Jordan Lee"])
    assert series(by_id) == got

    with pytest.raises(NotFoundError):
        figures(ctx, people["dana"], client_name="Nobody Known")
    with pytest.raises(NotFoundError):  # Morgan's client is not Dana's to look at
        figures(ctx, people["dana"], client_id=people["clients"]["Riley Stone"])
    with pytest.raises(NotFoundError):
        figures(ctx, people["dana"], client_name="Riley Stone")


def test_another_therapist_sees_only_their_own(practice: Any) -> None:
    ctx, people = practice
    stats = figures(ctx, people["morgan"])
    assert [w.sessions for w in stats.sessions] == [1, 0, 0, 1]  # weeks of 2 Nov to 23 Nov
    assert stats.totals.sessions == 2 and stats.totals.notes_signed == 1 and stats.totals.notes_draft == 1
    assert stats.risk_kinds == ["self_harm"] and stats.totals.recordings_processed == 1
    assert [c.name for c in StatsService(ctx, people["morgan"]).clients_sync()] == ["Riley Stone"]


def test_a_practice_manager_sees_the_whole_practice_in_counts_only(practice: Any) -> None:
    ctx, people = practice
    service = StatsService(ctx, people["pat"])
    assert service.practice_view and service.clients_sync() == []
    stats = service.figures_sync(StatsQuery())
    got = series(stats)
    assert stats.scope == "practice" and stats.source == "this workstation" and stats.client is None
    assert got["sessions"] == [3, 2, 0, 2, 1]
    assert got["notes"] == [(3, 0, 0), (0, 1, 1), (0, 0, 0), (1, 1, 0), (1, 0, 0)]
    assert got["median"] == [0.0, None, None, 2.0, 1.0]  # 0, 4 and 0 days in the first week
    t = stats.totals
    assert (t.sessions, t.notes_signed, t.notes_draft, t.no_note, t.median_days_to_sign) == (8, 5, 2, 1, 1.0)
    assert t.hours == round((50 + 60 + 45 + 30 + 40 + 55 + 50) / 60, 2)
    assert stats.risk_kinds == ["suicidal_ideation", "self_harm", "harm_to_others", "substance_use"]
    assert t.risk_flags == 5 and t.recordings_processed == 5

    text = json.dumps(stats.to_json()) + json.dumps([t.to_json() for t in figure_tables(stats)])
    for secret in (*CLIENT_NAMES, "Jordan", "Riley", SUMMARY, "a quote", "Meet next week"):
        assert secret not in text
    for client_id in people["clients"].values():
        assert str(client_id) not in text

    with pytest.raises(ValidationError, match="whole practice"):
        service.figures_sync(StatsQuery(client_name="Jordan Lee"))
    with pytest.raises(ValidationError, match="whole practice"):
        service.figures_sync(StatsQuery(client_id=people["clients"]["Jordan Lee"]))


def test_bad_ranges_are_refused(practice: Any) -> None:
    ctx, people = practice
    with pytest.raises(ValidationError, match="after the end"):
        figures(ctx, people["dana"], start=date(2026, 12, 1), end=date(2026, 11, 1))
    with pytest.raises(ValidationError, match="ten years"):
        figures(ctx, people["dana"], start=date(2000, 1, 1), end=date(2026, 1, 1))


def test_looking_is_audited_without_details(practice: Any) -> None:
    ctx, people = practice
    figures(ctx, people["dana"], client_name="Jordan Lee")
    StatsService(ctx, people["pat"]).figures_sync(StatsQuery())
    with ctx.db.unit_of_work() as s:
        events = s.execute(
            select(AuditEvent.user_id, AuditEvent.object_type, AuditEvent.object_id).where(
                AuditEvent.action == "stats.view"
            )
        ).all()
    assert sorted((u, t, o) for u, t, o in events) == sorted(
        [(people["dana"].id, "own", None), (people["pat"].id, "practice", None)]
    )


def test_a_new_profile_has_no_figures(practice: Any) -> None:
    ctx, _people = practice
    newcomer = ProfileService(ctx).create_profile_sync("Sam New", "sam@example.org")
    stats = figures(ctx, newcomer)
    assert stats.sessions == [] and stats.processing == [] and stats.risk == [] and stats.totals.sessions == 0
    assert stats.totals.median_days_to_sign is None and stats.totals.processing_speed is None
    ranged = figures(ctx, newcomer, start=date(2026, 11, 2), end=date(2026, 11, 15))
    assert [(w.week, w.sessions) for w in ranged.sessions] == [(W[0], 0), (W[1], 0)]


def test_buckets() -> None:
    assert week_of(date(2026, 11, 2)) == week_of(date(2026, 11, 8)) == date(2026, 11, 2)
    assert week_of(date(2026, 11, 9)) == date(2026, 11, 9)
    assert [delay_bucket(d) for d in (0, 1, 2, 3, 4, 7, 8, 400)] == [0, 1, 2, 2, 4, 4, 8, 8]
