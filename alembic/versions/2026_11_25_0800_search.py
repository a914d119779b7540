"""Full-text search over transcript lines and note text, kept in sync by the database itself.

SQLite (FTS5, porter stemming, diacritics folded):
- ``fts_segments``: an external-content FTS5 table over ``transcript_segments.text`` keyed on the table's implicit
  rowid. It stores no copy of the text: snippets are cut from the live row, and triggers on insert, delete and
  update of ``text`` keep the index in step (deleting a transcript removes its terms in the same statement).
- ``fts_notes``: a standalone FTS5 table holding the flattened section texts of each note (JSON1: the "text" of
  every section, in position order), its rowid the note's rowid, with ``session_id`` as an UNINDEXED column that
  queries join on as well, so an index entry can only ever be read together with the note it came from. Triggers
  on insert, delete and update of ``sections``. (External content over a view would avoid the copy, but a view on
  ``notes`` makes SQLite refuse the table rebuilds of later batch migrations.)
- Implicit rowids change when a table is rebuilt (a batch migration or VACUUM), and a rebuilt table loses its
  triggers: whatever rebuilds ``transcript_segments`` or ``notes`` recreates the triggers below and repopulates the
  two tables (``_REBUILD_SEGMENTS`` and ``_FILL_NOTES`` below).

PostgreSQL: GIN expression indexes, nothing to maintain —
``to_tsvector('english', text)`` on ``transcript_segments`` and
``to_tsvector('english', jsonb_path_query_array(sections, '$.*.text'))`` on ``notes``. The search queries use the
very same expressions, so the planner picks the indexes.

Every object here is named ``fts_*`` (SQLite) or ``ix_*_fts`` (PostgreSQL); schema comparisons skip those names
(``tbdesktop.store.search_repository.is_search_index_object``). Existing rows are indexed by the upgrade.

Revision ID: 0004_search
Revises: 0003_notes
Create Date: 2026-11-25 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_search"
down_revision: str | None = "0003_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOKENIZE = "porter unicode61 remove_diacritics 2"


def _note_body(ref: str) -> str:
    """The "text" of every section of a note (``ref`` = new/old/notes), in position order, one per line."""
    return (
        "(SELECT group_concat(t, char(10)) FROM ("
        "SELECT CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.text') END AS t "
        f"FROM json_each(CASE WHEN json_valid({ref}.sections) THEN {ref}.sections ELSE '{{}}' END) AS j "
        "ORDER BY CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.position') END, j.key))"
    )


# Index the rows that exist already.
_REBUILD_SEGMENTS = "INSERT INTO fts_segments(fts_segments) VALUES ('rebuild')"
_FILL_NOTES = (
    f"INSERT INTO fts_notes(rowid, body, session_id) SELECT notes.rowid, {_note_body('notes')}, notes.session_id "
    "FROM notes"
)

_SQLITE_UP = [
    f"CREATE VIRTUAL TABLE fts_segments USING fts5("
    f"text, content='transcript_segments', content_rowid='rowid', tokenize='{_TOKENIZE}')",
    """CREATE TRIGGER fts_segments_ai AFTER INSERT ON transcript_segments BEGIN
        INSERT INTO fts_segments(rowid, text) VALUES (new.rowid, new.text);
    END""",
    """CREATE TRIGGER fts_segments_ad AFTER DELETE ON transcript_segments BEGIN
        INSERT INTO fts_segments(fts_segments, rowid, text) VALUES ('delete', old.rowid, old.text);
    END""",
    """CREATE TRIGGER fts_segments_au AFTER UPDATE OF text ON transcript_segments BEGIN
        INSERT INTO fts_segments(fts_segments, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO fts_segments(rowid, text) VALUES (new.rowid, new.text);
    END""",
    _REBUILD_SEGMENTS,
    f"CREATE VIRTUAL TABLE fts_notes USING fts5(body, session_id UNINDEXED, tokenize='{_TOKENIZE}')",
    f"""CREATE TRIGGER fts_notes_ai AFTER INSERT ON notes BEGIN
        INSERT INTO fts_notes(rowid, body, session_id) VALUES (new.rowid, {_note_body("new")}, new.session_id);
    END""",
    """CREATE TRIGGER fts_notes_ad AFTER DELETE ON notes BEGIN
        DELETE FROM fts_notes WHERE rowid = old.rowid;
    END""",
    f"""CREATE TRIGGER fts_notes_au AFTER UPDATE OF sections, session_id ON notes BEGIN
        DELETE FROM fts_notes WHERE rowid = old.rowid;
        INSERT INTO fts_notes(rowid, body, session_id) VALUES (new.rowid, {_note_body("new")}, new.session_id);
    END""",
    _FILL_NOTES,
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS fts_notes_au",
    "DROP TRIGGER IF EXISTS fts_notes_ad",
    "DROP TRIGGER IF EXISTS fts_notes_ai",
    "DROP TABLE IF EXISTS fts_notes",
    "DROP TRIGGER IF EXISTS fts_segments_au",
    "DROP TRIGGER IF EXISTS fts_segments_ad",
    "DROP TRIGGER IF EXISTS fts_segments_ai",
    "DROP TABLE IF EXISTS fts_segments",
]

_POSTGRES_UP = [
    "CREATE INDEX ix_transcript_segments_fts ON transcript_segments "
    "USING gin (to_tsvector('english'::regconfig, text))",
    "CREATE INDEX ix_notes_fts ON notes "
    "USING gin (to_tsvector('english'::regconfig, jsonb_path_query_array(sections, '$.*.text'::jsonpath)))",
]

_POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_notes_fts",
    "DROP INDEX IF EXISTS ix_transcript_segments_fts",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(_SQLITE_UP)
    elif dialect == "postgresql":
        _run(_POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(_SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(_POSTGRES_DOWN)
