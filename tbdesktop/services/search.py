"""Search my sessions: words said in a transcript, words in the latest note, a client's name. Audited, never the
query itself (it may hold a name or a symptom)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import ANONYMOUS_CLIENT, JsonMixin, UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.store.repositories import AuditRepository
from tbdesktop.store.search_repository import SearchRepository, SearchRow, search_terms

log = logging.getLogger(__name__)

MAX_QUERY = 200
MAX_SNIPPET = 200
MAX_LIMIT = 500
NO_CLIENT = "No client"


@dataclass(frozen=True)
class SearchHit(JsonMixin):
    session_id: uuid.UUID
    session_date: date
    client_display: str  # "Anonymous individual" when the session is anonymous
    kind: str  # "transcript" | "note" | "client"
    snippet: str  # the text around the match (the client's name masked in an anonymous session)
    timestamp_s: float | None = None  # where the line starts in the recording (transcript hits)
    segment_idx: int | None = None
    note_version: int | None = None
    # Where the snippet shows the searched words: (start, end) character offsets, for highlighting.
    highlights: tuple[tuple[int, int], ...] = ()


def _clip(text: str, limit: int = MAX_SNIPPET) -> str:
    """One line of at most ``limit`` characters, cut at a word where possible."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" .,;:…") + "…"


_WORD = re.compile(r"[^\W_]+")


def match_spans(text: str, terms: list[str]) -> tuple[tuple[int, int], ...]:
    """The words of ``text`` that a search term matches (a word starting with the term, as the search does)."""
    if not terms:
        return ()
    return tuple(
        (m.start(), m.end()) for m in _WORD.finditer(text) if any(m.group().casefold().startswith(t) for t in terms)
    )


def _hit(row: SearchRow, terms: list[str] | None = None) -> SearchHit:
    if row.is_anonymous:
        client_display = ANONYMOUS_CLIENT
        snippet = mask_name(row.snippet, row.client_name)
    else:
        client_display = row.client_name or NO_CLIENT
        snippet = row.snippet
    snippet = _clip(snippet)
    return SearchHit(
        session_id=row.session_id,
        session_date=row.session_date,
        client_display=client_display,
        kind=row.kind,
        snippet=snippet,
        timestamp_s=row.timestamp_s if row.kind == "transcript" else None,
        segment_idx=row.segment_idx if row.kind == "transcript" else None,
        note_version=row.note_version if row.kind == "note" else None,
        highlights=match_spans(snippet, terms or []),
    )


class SearchService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    def search_sync(self, query: str, limit: int = 50) -> list[SearchHit]:
        """My sessions matching ``query``, most relevant first, then the newest; [] for an empty query."""
        query = (query or "").strip()
        if len(query) > MAX_QUERY:
            raise ValidationError(f"The search text is too long ({MAX_QUERY} characters at most).")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"The number of results must be between 1 and {MAX_LIMIT}.")
        if not query:
            return []
        started = time.perf_counter()
        with self.ctx.db.unit_of_work() as s:
            rows = SearchRepository(s, self.user.id).search(query, limit)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("search", "search", None)
        terms = search_terms(query)
        hits = [_hit(r, terms) for r in rows]
        log.info("search", extra={"hits": len(hits), "ms": round((time.perf_counter() - started) * 1000, 1)})
        return hits

    search = off_loop(search_sync)
