"""Full-text search over the signed-in user's sessions: transcript lines, the latest note and client names.

The indexes come from migration 0004 (FTS5 tables kept by triggers on SQLite, GIN expression indexes on
PostgreSQL). Whatever the user types is reduced to plain words before it reaches the database, so no input can
break a query, and every query is scoped to sessions the user owns.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Date, Float, Integer, String, TextualSelect, Uuid, bindparam, select, text
from sqlalchemy.orm import Session

from tbdesktop.store.models import Client, TherapySession

MAX_TERMS = 32
CLIENT_SCORE = float("inf")  # a client's name is the most specific thing a user can type: those hits come first
_SNIPPET_TOKENS = 18
_HEADLINE = 'StartSel="", StopSel="", MaxWords=24, MinWords=10, ShortWord=3, MaxFragments=1'
# Letters and digits only: FTS5 and tsquery syntax characters ("*", ":", "-", quotes, brackets …) never pass.
_WORD = re.compile(r"[^\W_]+")


def is_search_index_object(name: str | None) -> bool:
    """Whether a table or index is part of the search machinery (migration 0004) and not of the models.

    For schema comparisons (``include_name`` of Alembic's autogenerate): FTS5 tables and their shadow tables on
    SQLite, the GIN expression indexes on PostgreSQL."""
    return bool(name) and (str(name).startswith("fts_") or str(name).endswith("_fts"))


def search_terms(query: str) -> list[str]:
    """The words of a query (at most ``MAX_TERMS``), lower-cased, in order, without duplicates."""
    words = _WORD.findall(unicodedata.normalize("NFKC", query or "").casefold())
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _fold(value: str) -> str:
    """Case- and accent-insensitive form for matching names ("Núñez" ~ "nunez")."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def mentions_name(terms: list[str], name: str | None) -> bool:
    """Whether the query words name the client: the whole name, or a word starting with a part of it (3+ letters)."""
    if not name or not terms:
        return False
    words = [_fold(t) for t in terms]
    parts = _WORD.findall(_fold(name))
    if parts and f" {' '.join(parts)} " in f" {' '.join(words)} ":
        return True
    return any(w.startswith(p) for w in words for p in parts if len(p) >= 3)


SQLITE_INDEXES = ("fts_segments", "fts_notes")


def drop_deleted_from_index(session: Session) -> None:
    """SQLite's full-text indexes keep a deleted row's words until their segments are merged: merge them now, so
    deleted transcripts and notes leave nothing searchable or readable in the index (PostgreSQL's GIN index has
    no such residue once the row is vacuumed)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for table in SQLITE_INDEXES:
        session.execute(text(f"INSERT INTO {table}({table}) VALUES('optimize')"))


@dataclass(frozen=True)
class SearchRow:
    """One match as the database found it (the client's name unmasked: the service decides what is shown)."""

    kind: str  # "transcript" | "note" | "client"
    session_id: uuid.UUID
    session_date: date
    is_anonymous: bool
    client_name: str | None
    snippet: str
    score: float  # higher is better, comparable within one database
    timestamp_s: float | None = None
    segment_idx: int | None = None
    note_version: int | None = None


_RESULT_TYPES: dict[str, Any] = {
    "session_id": Uuid(),
    "session_date": Date(),
    "is_anonymous": Boolean(),
    "client_name": String(),
    "snippet": String(),
    "score": Float(),
    "timestamp_s": Float(),
    "segment_idx": Integer(),
    "note_version": Integer(),
}

_SESSION_COLUMNS = (
    "s.id AS session_id, s.session_date AS session_date, s.is_anonymous AS is_anonymous, c.name AS client_name"
)
# Only my clients' names: a session can never show a name from someone else's client list.
_CLIENT_JOIN = "LEFT JOIN clients c ON c.id = s.client_id AND c.owner_id = s.owner_id"
_LATEST_NOTE = "n.version = (SELECT max(n2.version) FROM notes n2 WHERE n2.session_id = n.session_id)"

_SQLITE_TRANSCRIPT = f"""
SELECT {_SESSION_COLUMNS}, seg.idx AS segment_idx, seg.start_s AS timestamp_s, NULL AS note_version,
       snippet(fts_segments, 0, '', '', '…', {_SNIPPET_TOKENS}) AS snippet,
       -bm25(fts_segments) AS score
FROM fts_segments
JOIN transcript_segments seg ON seg.rowid = fts_segments.rowid
JOIN therapy_sessions s ON s.id = seg.session_id
{_CLIENT_JOIN}
WHERE fts_segments MATCH :match AND s.owner_id = :owner_id AND s.transcript_deleted_at IS NULL
ORDER BY bm25(fts_segments), s.session_date DESC, seg.idx
LIMIT :limit
"""

_SQLITE_NOTE = f"""
SELECT {_SESSION_COLUMNS}, NULL AS segment_idx, NULL AS timestamp_s, n.version AS note_version,
       snippet(fts_notes, 0, '', '', '…', {_SNIPPET_TOKENS}) AS snippet,
       -bm25(fts_notes) AS score
FROM fts_notes
JOIN notes n ON n.rowid = fts_notes.rowid AND n.session_id = fts_notes.session_id
JOIN therapy_sessions s ON s.id = n.session_id
{_CLIENT_JOIN}
WHERE fts_notes MATCH :match AND s.owner_id = :owner_id AND {_LATEST_NOTE}
ORDER BY bm25(fts_notes), s.session_date DESC
LIMIT :limit
"""

# The tsvector expressions are those of the GIN indexes (migration 0004), so the planner uses them.
_PG_SEGMENT_VECTOR = "to_tsvector('english'::regconfig, seg.text)"
_PG_NOTE_TEXTS = "jsonb_path_query_array(n.sections, '$.*.text'::jsonpath)"
_PG_NOTE_VECTOR = f"to_tsvector('english'::regconfig, {_PG_NOTE_TEXTS})"

_PG_TRANSCRIPT = f"""
SELECT {_SESSION_COLUMNS}, seg.idx AS segment_idx, seg.start_s AS timestamp_s, NULL::integer AS note_version,
       ts_headline('english'::regconfig, seg.text, q.query, '{_HEADLINE}') AS snippet,
       ts_rank({_PG_SEGMENT_VECTOR}, q.query)::float8 AS score
FROM (SELECT plainto_tsquery('english'::regconfig, :words) AS query) q
JOIN transcript_segments seg ON {_PG_SEGMENT_VECTOR} @@ q.query
JOIN therapy_sessions s ON s.id = seg.session_id
{_CLIENT_JOIN}
WHERE s.owner_id = :owner_id AND s.transcript_deleted_at IS NULL
ORDER BY score DESC, s.session_date DESC, seg.idx
LIMIT :limit
"""

_PG_NOTE = f"""
SELECT {_SESSION_COLUMNS}, NULL::integer AS segment_idx, NULL::float8 AS timestamp_s, n.version AS note_version,
       ts_headline('english'::regconfig,
                   array_to_string(ARRAY(SELECT jsonb_array_elements_text({_PG_NOTE_TEXTS})), E'\\n'),
                   q.query, '{_HEADLINE}') AS snippet,
       ts_rank({_PG_NOTE_VECTOR}, q.query)::float8 AS score
FROM (SELECT plainto_tsquery('english'::regconfig, :words) AS query) q
JOIN notes n ON {_PG_NOTE_VECTOR} @@ q.query
JOIN therapy_sessions s ON s.id = n.session_id
{_CLIENT_JOIN}
WHERE s.owner_id = :owner_id AND {_LATEST_NOTE}
ORDER BY score DESC, s.session_date DESC
LIMIT :limit
"""


class SearchRepository:
    """Searches the sessions ``user_id`` owns — and nothing else."""

    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.s = session
        self.user_id = user_id

    @property
    def _dialect(self) -> str:
        return self.s.get_bind().dialect.name

    def search(self, query: str, limit: int = 50) -> list[SearchRow]:
        """Matches of ``query`` ordered by relevance, then newest session first; at most ``limit`` of them.

        All words must occur (stemmed: "sleeping" finds "sleep"). A session marked anonymous is never found by
        its client's name: not as a client match, and not through its transcript or note when the query names
        the client."""
        terms = search_terms(query)
        if not terms or limit < 1:
            return []
        if self._dialect == "postgresql":
            params: dict[str, Any] = {"words": " ".join(terms)}
            statements = (("transcript", _PG_TRANSCRIPT), ("note", _PG_NOTE))
        else:
            # Each word a quoted FTS5 string: operators (AND, OR, NOT, NEAR) and syntax lose their meaning.
            params = {"match": " ".join(f'"{t}"' for t in terms)}
            statements = (("transcript", _SQLITE_TRANSCRIPT), ("note", _SQLITE_NOTE))
        rows: list[SearchRow] = []
        for kind, sql in statements:
            rows.extend(self._run(kind, self._statement(sql), {**params, "owner_id": self.user_id, "limit": limit}))
        rows = [r for r in rows if not (r.is_anonymous and mentions_name(terms, r.client_name))]
        rows.extend(self._client_matches(query, limit))
        rows.sort(key=lambda r: (-r.score, -r.session_date.toordinal(), r.segment_idx or 0))
        return rows[:limit]

    @staticmethod
    def _statement(sql: str) -> TextualSelect:
        return (
            text(sql)
            .bindparams(bindparam("owner_id", type_=Uuid()), bindparam("limit", type_=Integer()))
            .columns(**_RESULT_TYPES)
        )

    def _run(self, kind: str, statement: TextualSelect, params: dict[str, Any]) -> list[SearchRow]:
        return [
            SearchRow(
                kind=kind,
                session_id=row.session_id,
                session_date=row.session_date,
                is_anonymous=bool(row.is_anonymous),
                client_name=row.client_name,
                snippet=row.snippet or "",
                score=float(row.score or 0.0),
                timestamp_s=row.timestamp_s,
                segment_idx=row.segment_idx,
                note_version=row.note_version,
            )
            for row in self.s.execute(statement, params)
        ]

    def _client_matches(self, query: str, limit: int) -> list[SearchRow]:
        """Sessions of my clients whose name contains the query (case and accents ignored), anonymous ones never.

        Names are compared here rather than with LIKE: SQLite's lower() folds ASCII only."""
        wanted = _fold(unicodedata.normalize("NFKC", query or ""))
        if len(wanted) < 2:
            return []
        clients = self.s.execute(select(Client.id, Client.name).where(Client.owner_id == self.user_id)).all()
        names = {cid: name for cid, name in clients if wanted in _fold(name)}
        if not names:
            return []
        sessions = self.s.execute(
            select(TherapySession.id, TherapySession.session_date, TherapySession.client_id)
            .where(
                TherapySession.owner_id == self.user_id,
                TherapySession.client_id.in_(list(names)),
                TherapySession.is_anonymous.is_(False),
            )
            .order_by(TherapySession.session_date.desc(), TherapySession.created_at.desc())
            .limit(limit)
        ).all()
        return [
            SearchRow(
                kind="client",
                session_id=sid,
                session_date=session_date,
                is_anonymous=False,
                client_name=names[client_id],
                snippet=names[client_id],
                score=CLIENT_SCORE,
            )
            for sid, session_date, client_id in sessions
            if client_id is not None
        ]
