"""CLI commands to search my sessions and read my audit trail (the same services the GUI uses)."""

from __future__ import annotations

import argparse
from typing import Any


def _cli() -> Any:
    from tbdesktop import cli

    return cli


def _with_services(args: argparse.Namespace) -> Any:
    return _cli().context_and_user(args)


def _where(hit: Any) -> str:
    if hit.kind == "transcript" and hit.timestamp_s is not None:
        return f"[{_cli()._fmt_ts(hit.timestamp_s)}]"
    if hit.kind == "note":
        return f"[note v{hit.note_version}]"
    return "[name]"


def search_line(hit: Any) -> str:
    return f"{hit.session_date.isoformat()}  {hit.client_display}  {_where(hit)}  {hit.snippet}"


def audit_line(event: Any) -> str:
    return (
        f"{event.at:%Y-%m-%d %H:%M:%S}  {event.action}  {event.object_type}  {event.object_id or '-'}  "
        f"{event.workstation or '-'}"
    )


def cmd_search(args: argparse.Namespace) -> int:
    from tbdesktop.services.search import SearchService

    cli = _cli()
    ctx, user = _with_services(args)
    try:
        hits = SearchService(ctx, user).search_sync(args.query, args.limit)
    finally:
        ctx.close()

    def human() -> None:
        if not hits:
            cli._print("No matches.")
        for hit in hits:
            cli._print(search_line(hit))

    cli._emit(args, [h.to_json() for h in hits], human)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from tbdesktop.services.audit import AuditService

    cli = _cli()
    ctx, user = _with_services(args)
    try:
        events = AuditService(ctx, user).trail_sync(args.limit)
    finally:
        ctx.close()

    def human() -> None:
        if not events:
            cli._print("No events yet.")
        for event in events:
            cli._print(audit_line(event))

    cli._emit(args, [e.to_json() for e in events], human)
    return 0


def add_search_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("search", parents=[common], help="search my transcripts, notes and client names")
    p.add_argument("query", help="words to find (all of them must occur)")
    p.add_argument("--limit", type=int, default=50, help="at most this many matches (default 50)")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("audit", parents=[common], help="my audit trail, newest first")
    p.add_argument("--limit", type=int, default=200, help="at most this many events (default 200)")
    p.set_defaults(func=cmd_audit)
