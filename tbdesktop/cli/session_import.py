"""`session import`: one recording, several, or a folder's audio and video files, queued for processing (and
processed here with --wait)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tbdesktop.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    echo,
    echo_err,
    session_line,
    signed_in,
    wait_for_session,
    wait_for_sessions,
)
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_session_import(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.sessions import ImportRequest, SessionService

    try:
        session_date = date.fromisoformat(args.date) if args.date else None
    except ValueError as exc:
        raise TBError(f"'{args.date}' is not a date (use YYYY-MM-DD).") from exc
    if not args.audio and not args.folder:
        raise TBError("Name the recording(s) to import, or a folder with --folder DIR.")
    if args.recursive and not args.folder:
        raise TBError("--recursive goes with --folder DIR.")
    if args.folder or len(args.audio) > 1:
        return _import_batch(args, session_date)
    with signed_in(args) as (ctx, user):
        service = SessionService(ctx, user)
        info = service.import_recording_sync(
            ImportRequest(
                source=Path(args.audio[0]),
                client_name=args.client,
                session_date=session_date,
                consent_method=args.consent,
                session_type=args.type,
                allow_duplicate=args.allow_duplicate,
            )
        )
        if not args.json:
            echo(f"Imported session {info.id}")
            echo(session_line(info))
        if not args.wait:
            if args.json:
                echo(json.dumps(info.to_json(), indent=2))
            return EXIT_OK

        final = wait_for_session(ctx, user, info.id, quiet=args.json)
        info = service.get_sync(info.id)
        if args.json:
            echo(json.dumps(info.to_json(), indent=2))
        else:
            echo(session_line(info))
        return EXIT_OK if final.status == "completed" else EXIT_ERROR


def _import_batch(args: argparse.Namespace, session_date: date | None) -> int:
    """Several recordings (files, a folder's audio and video files): one line per file, every file tried."""
    from tbdesktop.services.batch_import import (
        FAILED,
        IMPORTED,
        BatchImportService,
        BatchItem,
        BatchResult,
        media_files,
        recording_date,
    )
    from tbdesktop.services.session_lifecycle import AWAITING_CONSENT as AWAITING
    from tbdesktop.services.sessions import ImportRequest, SessionService

    paths = [Path(a) for a in args.audio]
    if args.folder:
        found = media_files(Path(args.folder), recursive=args.recursive)
        if not found:
            where = " or its subfolders" if args.recursive else ""
            raise TBError(f"The folder '{Path(args.folder).name}'{where} holds no audio or video files.")
        paths += found
    items = []
    for path in paths:
        day = session_date
        if day is None and path.is_file():
            day = recording_date(path)[0]  # its tags, a date in its name, else its modification day
        request = ImportRequest(
            source=path,
            client_name=args.client,
            session_date=day,
            consent_method=args.consent,
            session_type=args.type,
            allow_duplicate=args.allow_duplicate,
        )
        items.append(BatchItem(request))

    def line(_index: int, result: BatchResult) -> None:
        if args.json:
            return
        if result.session is not None:
            echo(f"{result.session.id}  {result.source.name}  {result.session.status}")
        else:
            echo(f"{result.status}  {result.source.name}: {result.error}")
        sys.stdout.flush()

    with signed_in(args) as (ctx, user):
        service = SessionService(ctx, user)
        results = BatchImportService(service).import_all_sync(items, on_result=line)
        waiting = [r.session.id for r in results if r.session is not None and r.session.stage_detail == AWAITING]
        imported = [r.session.id for r in results if r.session is not None and r.session.id not in waiting]
        if args.wait and waiting and not args.json:
            for sid in waiting:  # kept, not processed: there is nothing to wait for until consent is recorded
                echo_err(f"{sid} waits for the client's consent: tbdesktop session update {sid} --consent METHOD")
        finished: dict[uuid.UUID, str] = {}
        if args.wait and imported:
            finished = wait_for_sessions(ctx, user, imported, quiet=args.json)
            results = [
                BatchResult(r.source, r.status, service.get_sync(r.session.id), r.error, r.existing_id)
                if r.session is not None
                else r
                for r in results
            ]
            if not args.json:
                for r in results:
                    if r.session is not None:
                        echo(f"{r.session.id}  {r.source.name}  {r.session.status}")
    if args.json:
        echo(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    counts = {s: sum(r.status == s for r in results) for s in (IMPORTED, FAILED, "skipped")}
    if not args.json:
        echo_err(f"{counts[IMPORTED]} imported, {counts[FAILED]} failed, {counts['skipped']} skipped")
    unfinished = any(status != "completed" for status in finished.values())
    return EXIT_ERROR if counts[FAILED] or unfinished else EXIT_OK


def add_import_command(ssub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = ssub.add_parser(
        "import",
        parents=[common],
        help="import recordings and queue them for processing",
        description="Import one recording, several (A B C …) or a folder's audio and video files (--folder), one "
        "session per file. With several, each file gets a line (its session id, or why it was not imported), "
        "--json prints a list, a recording imported before is skipped (--allow-duplicate imports it again) and the "
        "exit code is 1 if any file failed.",
    )
    p.add_argument("audio", nargs="*", help="the recording file(s)")
    p.add_argument("--folder", default=None, help="import the audio and video files of this folder")
    p.add_argument("--recursive", action="store_true", help="with --folder: its subfolders' files too")
    p.add_argument("--client", default=None, help="client name (created if new)")
    p.add_argument(
        "--date",
        default=None,
        help="session date, YYYY-MM-DD (default: today for one file; with several, each recording's own date: "
        "its metadata, else a date in its file name, else the day the file was last changed)",
    )
    p.add_argument("--consent", default=None, choices=["verbal", "written", "electronic"])
    p.add_argument(
        "--type", default="individual", choices=["individual", "couples", "family", "group"], help="session type"
    )
    p.add_argument("--wait", action="store_true", help="process now and wait until done")
    p.add_argument(
        "--allow-duplicate", action="store_true", help="import even if the same recording is in a session already"
    )
    p.set_defaults(func=cmd_session_import)
