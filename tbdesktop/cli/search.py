"""`search` my sessions and read my `audit` trail (the same services the GUI uses)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, emit_list, fmt_ts, signed_in

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.audit import AuditInfo
    from tbdesktop.services.search import SearchHit


def _where(hit: SearchHit) -> str:
    if hit.kind == "transcript" and hit.timestamp_s is not None:
        return f"[{fmt_ts(hit.timestamp_s)}]"
    if hit.kind == "note":
        return f"[note v{hit.note_version}]"
    return "[name]"


def search_line(hit: SearchHit) -> str:
    return f"{hit.session_date.isoformat()}  {hit.client_display}  {_where(hit)}  {hit.snippet}"


def audit_line(event: AuditInfo) -> str:
    return (
        f"{event.at:%Y-%m-%d %H:%M:%S}  {event.action}  {event.object_type}  {event.object_id or '-'}  "
        f"{event.workstation or '-'}"
    )


def cmd_search(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.search import SearchService

    with signed_in(args) as (ctx, user):
        hits = SearchService(ctx, user).search_sync(args.query, args.limit)
    emit_list(args, hits, search_line, empty="No matches.")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from tbdesktop.services.audit import AuditService

    with signed_in(args) as (ctx, user):
        events = AuditService(ctx, user).trail_sync(args.limit)
    emit_list(args, events, audit_line, empty="No events yet.")
    return EXIT_OK


def add_search_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("search", parents=[common], help="search my transcripts, notes and client names")
    p.add_argument("query", help="words to find (all of them must occur)")
    p.add_argument("--limit", type=int, default=50, help="at most this many matches (default 50)")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("audit", parents=[common], help="my audit trail, newest first")
    p.add_argument("--limit", type=int, default=200, help="at most this many events (default 200)")
    p.set_defaults(func=cmd_audit)
