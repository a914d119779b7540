"""`tbdesktop stats`: the Insights page's figures in the terminal (tables as text, or JSON with every series)."""

from __future__ import annotations

import argparse
import re
from datetime import date
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, signed_in
from tbdesktop.errors import ValidationError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.stats import PracticeStats

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(text: str | None, option: str) -> date | None:
    """A YYYY-MM-DD date, or None when the option was not given."""
    if text is None:
        return None
    value = text.strip()
    try:
        if not _ISO_DAY.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{option} '{text}' is not a date: use YYYY-MM-DD, e.g. 2026-11-30.") from exc


def text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell: the first one left-aligned, the figures right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        parts = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def describe(stats: PracticeStats) -> str:
    """What the figures cover, in one line (a client's name only for the therapist's own filter)."""
    who = "Practice figures (counts only)" if stats.scope == "practice" else "Your figures"
    start = stats.start.isoformat() if stats.start else "the first session"
    end = stats.end.isoformat() if stats.end else "today"
    parts = [who, f"{start} to {end}"]
    if stats.client:
        parts.append(f"client: {stats.client}")
    parts.append(f"from {stats.source}")
    return " · ".join(parts)


def cmd_stats(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.stats import StatsQuery, StatsService
    from tbdesktop.services.stats_tables import figure_tables, total_lines

    start = parse_day(args.start, "--from")
    end = parse_day(args.end, "--to")
    if start is not None and end is not None and start > end:
        raise ValidationError("--from is after --to.")
    query = StatsQuery(start=start, end=end, client_name=args.client)
    with signed_in(args) as (ctx, user):
        stats = StatsService(ctx, user).figures_sync(query)

    def human() -> None:
        echo(describe(stats))
        echo()
        width = max(len(label) for label, _ in total_lines(stats.totals))
        for label, value in total_lines(stats.totals):
            echo(f"  {label.ljust(width)}  {value}")
        for table in figure_tables(stats):
            echo()
            echo(table.title)
            if not table.rows:
                echo("  (nothing in this range)")
                continue
            for row in text_table(table.headers, table.rows):
                echo(f"  {row}")

    emit(args, stats.to_json(), human)
    return EXIT_OK


def add_stats_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "stats",
        parents=[common],
        help="practice figures: sessions, hours, notes, processing speed, risk flags",
        description=(
            "Sessions and hours per week, notes signed and in draft, days to sign, processing speed and risk flags "
            "raised per month. A therapist sees their own figures; a practice manager the whole practice, in counts."
        ),
    )
    p.add_argument("--from", dest="start", default=None, metavar="YYYY-MM-DD", help="first session date")
    p.add_argument("--to", dest="end", default=None, metavar="YYYY-MM-DD", help="last session date")
    p.add_argument("--client", default=None, metavar="NAME", help="one of my clients (not for practice figures)")
    p.set_defaults(func=cmd_stats)
