"""`retention`: how long recordings and transcripts are kept, and deleting what is past it now."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, opened_context, signed_in
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_retention_apply(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.retention import RetentionService

    with opened_context(args) as ctx:
        report = RetentionService(ctx).apply_sync()
    data = {"recordings_deleted": report.recordings_deleted, "transcripts_deleted": report.transcripts_deleted}
    emit(
        args,
        data,
        lambda: echo(
            f"Deleted {report.recordings_deleted} recording(s) and {report.transcripts_deleted} transcript(s)."
        ),
    )
    return EXIT_OK


def cmd_retention_set(args: argparse.Namespace) -> int:
    from tbdesktop.services.retention import RetentionService

    def days(value: str) -> int | None:
        if value in ("", "keep"):
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise TBError(f"'{value}' is not a number of days (or 'keep').") from exc

    with signed_in(args) as (ctx, user):
        settings = RetentionService(ctx).set_retention_sync(
            user.id, recording_days=days(args.recordings), transcript_days=days(args.transcripts)
        )
    keys = ("retention_recording_days", "retention_transcript_days")
    emit(args, {k: settings.get(k) for k in keys}, lambda: echo("Retention settings saved."))
    return EXIT_OK


def add_retention_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    retention = sub.add_parser("retention", help="how long recordings and transcripts are kept")
    rsub = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    p = rsub.add_parser("apply", parents=[common], help="delete what is past its retention now")
    p.set_defaults(func=cmd_retention_apply)
    p = rsub.add_parser("set", parents=[common], help="my retention settings")
    p.add_argument("--recordings", required=True, help="days after processing (0 = at once), or 'keep'")
    p.add_argument("--transcripts", required=True, help="days after the note is signed, or 'keep'")
    p.set_defaults(func=cmd_retention_set)
