"""Full-text search (transcripts, the latest note, client names) and the audit trail, on SQLite and PostgreSQL:
owner-only, anonymous sessions never found by their client's name, indexes kept in sync by the database, any
input safe, the query never written to the audit trail."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Integer, String, Uuid, column, delete, insert, select, table, update

from tbdesktop.cli import common as cli_common
from tbdesktop.cli import search as cli_search
from tbdesktop.errors import ValidationError
from tbdesktop.services.audit import AuditService
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ANONYMOUS_CLIENT, UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.search import SearchHit, SearchService
from tbdesktop.services.sessions import SessionService
from tbdesktop.store import migrate
from tbdesktop.store.db import Database
from tbdesktop.store.models import (
    AuditEvent,
    Client,
    Note,
    ProcessingStatus,
    TherapySession,
    TranscriptSegment,
    User,
    utcnow,
)
from tbdesktop.store.models.base import JSONType, UTCDateTime
from tbdesktop.store.search_repository import SearchRepository

Lines = list[tuple[float, str, str]]  # start_s, role, text


# The note columns every revision has: an insert naming only these works on a database at an earlier revision
# (the mapped class would add the later columns' defaults).
NOTE_COLUMNS = table(
    "notes", column("id", Uuid), column("session_id", Uuid), column("version", Integer), column("status", String),
    column("generator", String), column("sections", JSONType), column("created_at", UTCDateTime),
)  # fmt: skip


def add_session(
    db: Database,
    owner: uuid.UUID,
    client_name: str | None,
    day: date,
    lines: Lines,
    *,
    anonymous: bool = False,
    notes: list[dict[str, str]] | None = None,
) -> uuid.UUID:
    """A processed session written straight to the database: client, transcript lines and note versions."""
    with db.unit_of_work() as s:
        client_id = None
        if client_name is not None:
            existing = s.scalar(select(Client).where(Client.owner_id == owner, Client.name == client_name))
            client = existing or Client(owner_id=owner, name=client_name)
            s.add(client)
            s.flush()
            client_id = client.id
        # A Core insert names only these columns, so it also works on a database at an earlier revision.
        session_id = uuid.uuid4()
        s.execute(
            insert(TherapySession).values(
                id=session_id,
                owner_id=owner,
                client_id=client_id,
                session_date=day,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                is_anonymous=anonymous,
                speakers={},
            )
        )
        for idx, (start, role, text) in enumerate(lines):
            s.execute(
                insert(TranscriptSegment).values(
                    session_id=session_id,
                    idx=idx,
                    start_s=start,
                    end_s=start + 4.0,
                    speaker="SPEAKER_00" if role == "therapist" else "SPEAKER_01",
                    role=role,
                    text=text,
                    words=[],
                )
            )
        for version, texts in enumerate(notes or [], start=1):
            body = sections(texts)
            s.execute(insert(NOTE_COLUMNS).values(
                id=uuid.uuid4(), session_id=session_id, version=version, status="draft", generator="local",
                sections=body, created_at=datetime.now(UTC),
            ))  # fmt: skip
        return session_id


def sections(texts: dict[str, str]) -> dict[str, Any]:
    return {
        key: {"title": key.title(), "position": i, "text": text, "evidence": [], "sentences": [], "edited": False}
        for i, (key, text) in enumerate(texts.items())
    }


@dataclass
class World:
    ctx: AppContext
    me: UserInfo
    other: UserInfo
    jordan: uuid.UUID  # mine: Jordan Lee, nightmares at 01:05, a note in two versions
    anonymous: uuid.UUID  # mine, anonymous: Mara Quill, who feels lonely
    mara_named: uuid.UUID  # mine: Mara Quill again, not anonymous
    zeppelin: uuid.UUID  # mine, no client: a transcript that gets deleted
    theirs: uuid.UUID  # the other therapist's: Quentin Marsh, nightmares too

    def search(self, query: str, user: UserInfo | None = None) -> list[SearchHit]:
        return SearchService(self.ctx, user or self.me).search_sync(query)


@pytest.fixture
def world(db_url: str, make_settings: Any) -> Iterator[World]:
    ctx = AppContext.open(make_settings(db_url))
    profiles = ProfileService(ctx)
    me = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
    other = profiles.create_profile_sync("Sam Okafor", "sam@example.org")
    db = ctx.db
    jordan = add_session(
        db, me.id, "Jordan Lee", date(2026, 11, 2),
        [
            (0.0, "therapist", "How did you sleep this week?"),
            (65.5, "client", "I keep having nightmares about the flood and I wake up shaking."),
            (70.0, "therapist", "Let's practise the grounding exercise together."),
        ],
        notes=[
            {"subjective": "Reports recurring flood dreams.", "plan": "Progressive muscle relaxation nightly."},
            {"subjective": "Reports recurring flood dreams.", "plan": "Diaphragmatic breathing before bed."},
        ],
    )  # fmt: skip
    anonymous = add_session(
        db, me.id, "Mara Quill", date(2026, 11, 3),
        [(12.0, "client", "Since Mara moved to the coast she has felt lonely every evening.")],
        anonymous=True,
        notes=[{"assessment": "Mara Quill describes loneliness; Mara is isolated."}],
    )  # fmt: skip
    mara_named = add_session(db, me.id, "Mara Quill", date(2026, 10, 20), [(0.0, "client", "Work is fine.")])
    zeppelin = add_session(
        db, me.id, None, date(2026, 11, 4), [(30.0, "client", "My grandfather told the zeppelin story again.")]
    )
    theirs = add_session(
        db, other.id, "Quentin Marsh", date(2026, 11, 5),
        [(5.0, "client", "The nightmares came back and Quentin could not sleep.")],
        notes=[{"plan": "Diaphragmatic breathing before bed."}],
    )  # fmt: skip
    yield World(ctx, me, other, jordan, anonymous, mara_named, zeppelin, theirs)
    ctx.close()


# -- finding things -----------------------------------------------------------------------------------------


def test_transcript_word_found_with_session_snippet_and_timestamp(world: World) -> None:
    hits = world.search("nightmares")
    assert [(h.session_id, h.kind) for h in hits] == [(world.jordan, "transcript")]
    hit = hits[0]
    assert hit.timestamp_s == pytest.approx(65.5)
    assert hit.segment_idx == 1
    assert hit.note_version is None
    assert hit.session_date == date(2026, 11, 2)
    assert hit.client_display == "Jordan Lee"
    assert "nightmares about the flood" in hit.snippet
    assert len(hit.snippet) <= 200
    # Stemmed, case-insensitive, every word required.
    assert [h.segment_idx for h in world.search("NIGHTMARE flood")] == [1]
    assert world.search("nightmares zeppelin") == []


def test_note_word_found_in_the_latest_version(world: World) -> None:
    hits = world.search("diaphragmatic")
    assert [(h.session_id, h.kind, h.note_version) for h in hits] == [(world.jordan, "note", 2)]
    assert "Diaphragmatic breathing before bed" in hits[0].snippet
    assert hits[0].timestamp_s is None and hits[0].segment_idx is None
    assert world.search("relaxation") == []  # only in version 1, which version 2 replaced


def test_client_name_finds_that_clients_sessions(world: World) -> None:
    hits = world.search("jordan")
    assert [(h.session_id, h.kind) for h in hits] == [(world.jordan, "client")]
    assert hits[0].client_display == "Jordan Lee"
    assert [h.session_id for h in world.search("  LEE ")] == [world.jordan]


def test_relevance_then_date(world: World) -> None:
    add_session(world.ctx.db, world.me.id, None, date(2026, 9, 1), [(1.0, "client", "flood")])
    add_session(world.ctx.db, world.me.id, None, date(2026, 12, 1), [(1.0, "client", "flood")])
    hits = world.search("flood")
    transcript = [h for h in hits if h.kind == "transcript"]
    assert len(transcript) == 3
    # The two one-word lines rank alike; the newer comes first.
    equal = [h.session_date for h in transcript if h.session_id != world.jordan]
    assert equal == [date(2026, 12, 1), date(2026, 9, 1)]


# -- ownership and anonymity --------------------------------------------------------------------------------


def test_other_therapists_sessions_and_client_names_never_returned(world: World) -> None:
    assert world.theirs not in {h.session_id for h in world.search("nightmares")}
    assert world.search("Quentin") == []  # their client's name, said in their transcript too
    assert world.search("Marsh") == []
    assert world.theirs not in {h.session_id for h in world.search("diaphragmatic breathing")}
    # The same words, searched by the other therapist, find their own session only.
    theirs = world.search("nightmares", world.other)
    assert {h.session_id for h in theirs} == {world.theirs}
    assert {h.session_id for h in world.search("Jordan", world.other)} == set()
    # Even a session of mine pointing at their client (no code path makes one) never shows their client's name.
    stray = add_session(world.ctx.db, world.me.id, None, date(2026, 11, 6), [(0.0, "client", "Origami helps.")])
    with world.ctx.db.unit_of_work() as s:
        theirs_client = s.scalar(select(Client.id).where(Client.owner_id == world.other.id))
        s.execute(update(TherapySession).where(TherapySession.id == stray).values(client_id=theirs_client))
    hits = world.search("origami")
    assert [(h.session_id, h.client_display) for h in hits] == [(stray, "No client")]
    assert world.search("Quentin") == []


def test_anonymous_session_not_found_by_client_name(world: World) -> None:
    for query in ("Mara", "quill", "Mara Quill"):
        found = {h.session_id for h in world.search(query)}
        assert world.anonymous not in found, query
        assert world.mara_named in found, query  # the same client's named session is found


def test_anonymous_session_snippets_mask_the_name(world: World) -> None:
    hits = world.search("lonely")
    assert [(h.session_id, h.kind) for h in hits] == [(world.anonymous, "transcript")]
    assert hits[0].client_display == ANONYMOUS_CLIENT
    assert "[client]" in hits[0].snippet
    assert "Mara" not in hits[0].snippet
    note_hits = world.search("isolated")
    assert [(h.session_id, h.kind) for h in note_hits] == [(world.anonymous, "note")]
    assert note_hits[0].client_display == ANONYMOUS_CLIENT
    assert "Mara" not in note_hits[0].snippet and "Quill" not in note_hits[0].snippet
    assert "[client]" in note_hits[0].snippet
    # Turned off again, the session shows its client and is found by the name.
    with world.ctx.db.unit_of_work() as s:
        s.execute(update(TherapySession).where(TherapySession.id == world.anonymous).values(is_anonymous=False))
    hits = world.search("lonely")
    assert hits[0].client_display == "Mara Quill" and "Mara moved" in hits[0].snippet
    assert world.anonymous in {h.session_id for h in world.search("Quill")}


# -- the index follows the data -----------------------------------------------------------------------------


def indexed(world: World, fts_table: str, word: str) -> int:
    """How many entries of a SQLite FTS5 table hold ``word`` (the index itself, not joined to any row)."""
    from sqlalchemy import text

    with world.ctx.db.unit_of_work() as s:
        return int(s.scalar(text(f"SELECT count(*) FROM {fts_table} WHERE {fts_table} MATCH :w"), {"w": word}) or 0)


def test_deleted_transcript_no_longer_found(world: World) -> None:
    assert [h.session_id for h in world.search("zeppelin")] == [world.zeppelin]
    SessionService(world.ctx, world.me).delete_transcript_sync(world.zeppelin)
    assert world.search("zeppelin") == []
    # The words left the index with the lines: clearing the tombstone brings nothing back.
    with world.ctx.db.unit_of_work() as s:
        s.execute(update(TherapySession).where(TherapySession.id == world.zeppelin).values(transcript_deleted_at=None))
    assert world.search("zeppelin") == []
    if world.ctx.db.dialect == "sqlite":
        assert indexed(world, "fts_segments", "zeppelin") == 0


def test_tombstoned_transcript_gives_no_transcript_hits(world: World) -> None:
    # Even were a line left behind, a session whose transcript was deleted gives no transcript hits.
    with world.ctx.db.unit_of_work() as s:
        s.execute(
            update(TherapySession).where(TherapySession.id == world.jordan).values(transcript_deleted_at=utcnow())
        )
    assert world.search("nightmares") == []
    assert [h.kind for h in world.search("diaphragmatic")] == ["note"]  # the notes stay searchable


def test_index_follows_edits_and_deletes(world: World) -> None:
    db = world.ctx.db
    with db.unit_of_work() as s:
        s.execute(
            update(TranscriptSegment)
            .where(TranscriptSegment.session_id == world.jordan, TranscriptSegment.idx == 2)
            .values(text="Let's practise the box breathing exercise together.")
        )
        note = s.scalar(select(Note).where(Note.session_id == world.jordan, Note.version == 2))
        assert note is not None
        note.sections = sections({"plan": "Journal every morning."})
    assert world.search("grounding") == []
    assert [(h.kind, h.segment_idx) for h in world.search("box breathing")] == [("transcript", 2)]
    assert world.search("diaphragmatic") == []
    assert [(h.kind, h.note_version) for h in world.search("journal")] == [("note", 2)]
    with db.unit_of_work() as s:  # deleting the session takes its lines and notes out of the index
        s.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == world.jordan))
        s.execute(delete(Note).where(Note.session_id == world.jordan))
    assert world.search("nightmares") == []
    assert world.search("journal") == []
    if world.ctx.db.dialect == "sqlite":
        assert indexed(world, "fts_segments", "shaking") == 0
        assert indexed(world, "fts_notes", "journal") == 0
        assert indexed(world, "fts_notes", "isolated") == 1  # the other notes stay


def test_upgrade_indexes_existing_rows(db_url: str, make_settings: Any) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db.engine, "0003_notes")
        with db.unit_of_work() as s:
            user = User(display_name="Dana Reyes", role="therapist", settings={})
            s.add(user)
            s.flush()
            user_id = user.id
        sid = add_session(
            db, user_id, "Jordan Lee", date(2026, 11, 2),
            [(3.0, "client", "The heron came back to the pond.")],
            notes=[{"plan": "Walk by the estuary twice a week."}],
        )  # fmt: skip
        migrate.upgrade(db.engine)
        with db.unit_of_work() as s:
            repo = SearchRepository(s, user_id)
            assert [(r.session_id, r.kind) for r in repo.search("heron")] == [(sid, "transcript")]
            assert [(r.session_id, r.kind) for r in repo.search("estuary")] == [(sid, "note")]
        migrate.downgrade(db.engine, "0003_notes")
        migrate.upgrade(db.engine)
        with db.unit_of_work() as s:
            assert [r.kind for r in SearchRepository(s, user_id).search("heron")] == ["transcript"]
    finally:
        db.dispose()


# -- input ----------------------------------------------------------------------------------------------------

ODD = [
    '"', '""', "*", "AND", "OR", "NOT", "NEAR", "-", ":", "^", "(", ")", "{", "}", "[", "]", "+", "\\", "'", ";",
    "sleep*", '"nightmares', "nightmares AND", "OR nightmares", "-nightmares", "text:nightmares", "NEAR(a b)",
    "nightmares NOT flood", "^nightmares", "' OR 1=1 --", "%", "_", "%_%", "\x00", "nightmares\x00",
    "café ☃ 睡眠 🙂", "e\u0301", "\ud800", "the", "a", "a" * 200, " ".join(["nightmares"] * 18),
    " ".join("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
]  # fmt: skip


def test_odd_input_never_breaks_the_query(world: World) -> None:
    for query in ODD:
        hits = world.search(query)
        assert isinstance(hits, list), repr(query)
    # Syntax characters are dropped, the words still count.
    for query in (
        '"nightmares',
        "nightmares -",
        "-nightmares",
        ":nightmares",
        "nightmares*",
        "(nightmares)",
        "^nightmares",
    ):
        assert [h.session_id for h in world.search(query)] == [world.jordan], query
    assert world.search("") == [] and world.search("   \n\t") == []


def test_query_length_limit(world: World) -> None:
    assert world.search("n" * 200) == []
    with pytest.raises(ValidationError, match="200"):
        world.search("n" * 201)
    with pytest.raises(ValidationError):
        world.search("nightmares " * 30)


# -- the audit trail ------------------------------------------------------------------------------------------


def test_audit_trail_has_the_search_without_the_query(world: World) -> None:
    world.search("nightmares flood")
    world.search("Quentin", world.other)
    trail = AuditService(world.ctx, world.me).trail_sync()
    searches = [e for e in trail if e.action == "search"]
    assert len(searches) == 1
    assert searches[0].object_type == "search" and searches[0].object_id is None
    assert searches[0].user_name == "Dana Reyes"
    assert searches[0].workstation == world.ctx.workstation
    assert trail[0].action == "search"  # newest first
    # Only my events: the other therapist's profile creation and search are not in it.
    assert str(world.other.id) not in {e.object_id for e in trail}
    assert [e.object_id for e in trail if e.action == "profile.create"] == [str(world.me.id)]
    with world.ctx.db.unit_of_work() as s:
        stored = s.scalars(select(AuditEvent)).all()
        assert sum(e.action == "search" for e in stored) == 2
        for e in stored:
            assert not {"nightmares", "flood", "Quentin"} & set(" ".join(map(str, vars(e).values())).split())
    assert AuditService(world.ctx, world.me).trail_sync(limit=1) == trail[:1]
    with pytest.raises(ValidationError):
        AuditService(world.ctx, world.me).trail_sync(limit=0)


# -- the CLI ----------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--user", default=argparse.SUPPRESS)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="tbdesktop")
    parser.add_argument("--json", action="store_true", default=False)
    parser.add_argument("--user", default=None)
    sub = parser.add_subparsers(dest="command")
    cli_search.add_search_commands(sub, common)
    return parser


@pytest.fixture
def run_cli(
    world: World, make_settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    url = world.ctx.db.url
    monkeypatch.setattr(cli_common, "open_context", lambda args: AppContext.open(make_settings(url)))

    def run(*argv: str) -> str:
        args = _parser().parse_args(list(argv))
        capsys.readouterr()
        assert args.func(args) == 0
        return capsys.readouterr().out

    return run


def test_cli_search_and_audit(world: World, run_cli: Any) -> None:
    data = json.loads(run_cli("search", "nightmares", "--json", "--user", "Dana Reyes"))
    assert [(d["session_id"], d["kind"], d["timestamp_s"]) for d in data] == [(str(world.jordan), "transcript", 65.5)]
    assert data[0]["session_date"] == "2026-11-02" and data[0]["client_display"] == "Jordan Lee"

    out = run_cli("search", "nightmares", "--user", "Dana Reyes")
    assert out.startswith("2026-11-02  Jordan Lee  [01:05]  ") and "nightmares about the flood" in out
    assert run_cli("search", "unheard-of", "--user", "Dana Reyes").strip() == "No matches."
    note_line = run_cli("search", "diaphragmatic", "--user", "Dana Reyes")
    assert "[note v2]" in note_line
    assert len(json.loads(run_cli("search", "flood", "--limit", "1", "--json", "--user", "Dana Reyes"))) == 1

    events = json.loads(run_cli("audit", "--json", "--user", "Dana Reyes"))
    assert events[0]["action"] == "search" and events[0]["object_id"] is None
    assert {e["user_name"] for e in events} == {"Dana Reyes"}
    assert all("nightmares" not in json.dumps(e) for e in events)
    assert len(json.loads(run_cli("audit", "--json", "--limit", "2", "--user", "Dana Reyes"))) == 2
    lines = run_cli("audit", "--user", "Dana Reyes").splitlines()
    assert lines[0].split("  ")[1:4] == ["search", "search", "-"]
    assert lines[-1].split("  ")[1:4] == ["profile.create", "user", str(world.me.id)]


def test_postgres_search_expressions_match_the_gin_indexes(pg_url: str) -> None:
    """The repository's tsvector expressions are the indexed ones, so PostgreSQL can answer from the indexes."""
    from sqlalchemy import text

    from tbdesktop.store import search_repository as sr

    db = Database(pg_url)
    try:
        migrate.upgrade(db.engine)
        with db.unit_of_work() as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            for table, vector, index in (
                ("transcript_segments seg", sr._PG_SEGMENT_VECTOR, "ix_transcript_segments_fts"),
                ("notes n", sr._PG_NOTE_VECTOR, "ix_notes_fts"),
            ):
                sql = f"EXPLAIN SELECT 1 FROM {table} WHERE {vector} @@ plainto_tsquery('english', :words)"
                plan = "\n".join(str(r[0]) for r in s.execute(text(sql), {"words": "nightmares"}))
                assert index in plan, plan
    finally:
        db.dispose()
