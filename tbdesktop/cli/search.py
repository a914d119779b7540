"""`search` my sessions and read my `audit` trail (the same services the GUI uses)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, context_and_user, echo, emit, fmt_ts

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

    ctx, user = context_and_user(args)
    try:
        hits = SearchService(ctx, user).search_sync(args.query, args.limit)
    finally:
        ctx.close()

    def human() -> None:
        if not hits:
            echo("No matches.")
        for hit in hits:
            echo(search_line(hit))

    emit(args, [h.to_json() for h in hits], human)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from tbdesktop.services.audit import AuditService

    ctx, user = context_and_user(args)
    try:
        events = AuditService(ctx, user).trail_sync(args.limit)
    finally:
        ctx.close()

    def human() -> None:
        if not events:
            echo("No events yet.")
        for event in events:
            echo(audit_line(event))

    emit(args, [e.to_json() for e in events], human)
    return EXIT_OK


def add_search_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("search", parents=[common], help="search my transcripts, notes and client names")
    p.add_argument("query", help="words to find (all of them must occur)")
    p.add_argument("--limit", type=int, default=50, help="at most this many matches (default 50)")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("audit", parents=[common], help="my audit trail, newest first")
    p.add_argument("--limit", type=int, default=200, help="at most this many events (default 200)")
    p.set_defaults(func=cmd_audit)
