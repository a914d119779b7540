"""CLI commands that change or delete what a session keeps (the same service methods the GUI uses)."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError


def _cli() -> Any:
    from tbdesktop import cli

    return cli


def _run(args: argparse.Namespace, action: Any) -> Any:
    cli = _cli()
    with cli._session_service(args) as service:
        return action(service)


def _show(args: argparse.Namespace, info: Any, message: str) -> int:
    cli = _cli()
    cli._emit(args, info.to_json(), lambda: cli._print(message))
    return 0


def cmd_delete_recording(args: argparse.Namespace) -> int:
    info = _run(args, lambda s: s.delete_recording_sync(args.id))
    return _show(args, info, "Recording deleted. The transcript and notes are kept.")


def cmd_delete_transcript(args: argparse.Namespace) -> int:
    info = _run(args, lambda s: s.delete_transcript_sync(args.id))
    return _show(args, info, "Transcript deleted. The notes are kept; they can no longer be regenerated.")


def cmd_delete_session(args: argparse.Namespace) -> int:
    if not args.yes:
        raise TBError("Deleting a session removes its recording, transcript and notes for good; add --yes to confirm.")
    _run(args, lambda s: s.delete_session_sync(args.id))
    cli = _cli()
    cli._emit(args, {"deleted": args.id}, lambda: cli._print("Session deleted."))
    return 0


def cmd_anonymous(args: argparse.Namespace) -> int:
    on = args.state == "on"
    info = _run(args, lambda s: s.set_anonymous_sync(args.id, on))
    return _show(
        args, info, "The client's name is now hidden for this session." if on else "The client's name is shown."
    )


def cmd_reassign(args: argparse.Namespace) -> int:
    info = _run(args, lambda s: s.reassign_sync(args.id, client_name=args.client))
    return _show(args, info, f"Session moved to {info.display_client}.")


def cmd_update(args: argparse.Namespace) -> int:
    try:
        session_date = date.fromisoformat(args.date) if args.date else None
    except ValueError as exc:
        raise TBError(f"'{args.date}' is not a date (use YYYY-MM-DD).") from exc
    names: dict[str, str | None] = {}
    for item in args.speaker_name or []:
        speaker, sep, name = item.partition("=")
        if not sep or not speaker.strip():
            raise TBError(f"'{item}' should look like SPEAKER_00=Name.")
        names[speaker.strip()] = name.strip() or None
    if session_date is None and args.consent is None and not names:
        raise TBError("Nothing to change: give --date, --consent or --speaker-name.")
    info = _run(
        args,
        lambda s: s.update_sync(
            args.id, session_date=session_date, consent_method=args.consent, speaker_names=names or None
        ),
    )
    return _show(args, info, "Session updated.")


def cmd_fix_segment(args: argparse.Namespace) -> int:
    segment = _run(args, lambda s: s.fix_segment_sync(args.id, args.index, text=args.text, speaker=args.speaker))
    cli = _cli()
    cli._emit(args, segment.to_json(), lambda: cli._print(f"Line {segment.idx} corrected."))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    cancelled = _run(args, lambda s: s.cancel_sync(args.id))
    cli = _cli()
    message = "Processing cancelled." if cancelled else "Nothing was waiting to be processed for this session."
    cli._emit(args, {"cancelled": cancelled}, lambda: cli._print(message))
    return 0 if cancelled else 1


def _pdf_renderer() -> Any:
    """Qt's PDF writer, with the (offscreen, where there is no display) application its fonts need."""
    try:
        from tbdesktop.ui.export_pdf import ensure_gui, render_pdf

        ensure_gui()
    except (ImportError, OSError) as exc:
        raise TBError(f"PDF export needs Qt's libraries, which could not be loaded ({type(exc).__name__}).") from exc
    return render_pdf


def cmd_export(args: argparse.Namespace) -> int:
    from tbdesktop.services.export import ExportService

    renderer = _pdf_renderer() if args.format == "pdf" else None
    cli = _cli()
    ctx, user = cli.context_and_user(args)
    try:
        service = ExportService(ctx, user)
        out = Path(args.out).expanduser() if args.out else Path.cwd()
        if out.is_dir():  # a folder: the file takes the name with no PHI in it
            out = out / service.suggested_name_sync(args.id, args.format)
        result = service.write_sync(
            args.id, args.format, out, transcript=args.transcript, version=args.note_version, renderer=renderer
        )
    finally:
        ctx.close()
    state = "signed" if result.signed else "draft"
    cli._emit(
        args,
        result.to_json(),
        lambda: cli._print(
            f"Wrote {result.path} ({result.format.upper()}, {result.bytes} bytes; note version {result.version}, "
            f"{state}{', with the transcript' if result.transcript else ''})"
        ),
    )
    return 0


def cmd_retention_apply(args: argparse.Namespace) -> int:
    from tbdesktop.services.retention import RetentionService

    cli = _cli()
    ctx = cli._open(args)
    try:
        report = RetentionService(ctx).apply_sync()
    finally:
        ctx.close()
    data = {"recordings_deleted": report.recordings_deleted, "transcripts_deleted": report.transcripts_deleted}
    cli._emit(
        args,
        data,
        lambda: cli._print(
            f"Deleted {report.recordings_deleted} recording(s) and {report.transcripts_deleted} transcript(s)."
        ),
    )
    return 0


def cmd_retention_set(args: argparse.Namespace) -> int:
    from tbdesktop.services.retention import RetentionService

    def days(value: str) -> int | None:
        if value in ("", "keep"):
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise TBError(f"'{value}' is not a number of days (or 'keep').") from exc

    cli = _cli()
    ctx = cli._open(args)
    try:
        user = cli._acting_user(ctx, args)
        settings = RetentionService(ctx).set_retention_sync(
            user.id, recording_days=days(args.recordings), transcript_days=days(args.transcripts)
        )
    finally:
        ctx.close()
    keys = ("retention_recording_days", "retention_transcript_days")
    cli._emit(args, {k: settings.get(k) for k in keys}, lambda: cli._print("Retention settings saved."))
    return 0


def add_session_commands(ssub: Any, common: argparse.ArgumentParser) -> None:
    for name, func, text in (
        ("delete-recording", cmd_delete_recording, "delete the audio file (transcript and notes stay)"),
        ("delete-transcript", cmd_delete_transcript, "delete the transcript (notes stay)"),
        ("cancel", cmd_cancel, "cancel processing that has not started"),
    ):
        p = ssub.add_parser(name, parents=[common], help=text)
        p.add_argument("id")
        p.set_defaults(func=func)
    p = ssub.add_parser("delete", parents=[common], help="delete a session and everything of it")
    p.add_argument("id")
    p.add_argument("--yes", action="store_true", help="confirm")
    p.set_defaults(func=cmd_delete_session)
    p = ssub.add_parser("anonymous", parents=[common], help="hide (on) or show (off) the client's name")
    p.add_argument("id")
    p.add_argument("state", choices=["on", "off"])
    p.set_defaults(func=cmd_anonymous)
    p = ssub.add_parser("reassign", parents=[common], help="move a session to another client")
    p.add_argument("id")
    p.add_argument("client", help="client name (created if new)")
    p.set_defaults(func=cmd_reassign)
    p = ssub.add_parser("update", parents=[common], help="change the date, record consent, name speakers")
    p.add_argument("id")
    p.add_argument("--date", default=None, help="YYYY-MM-DD")
    p.add_argument("--consent", default=None, choices=["verbal", "written", "electronic"])
    p.add_argument("--speaker-name", action="append", metavar="SPEAKER=NAME", help="may be repeated")
    p.set_defaults(func=cmd_update)
    p = ssub.add_parser("fix-segment", parents=[common], help="correct one transcript line")
    p.add_argument("id")
    p.add_argument("index", type=int, help="line number (as in --json output's idx)")
    p.add_argument("--text", default=None)
    p.add_argument("--speaker", default=None, help="speaker label, e.g. SPEAKER_01")
    p.set_defaults(func=cmd_fix_segment)
    p = ssub.add_parser("export", parents=[common], help="write the note to a PDF, DOCX or text file")
    p.add_argument("id")
    p.add_argument("--format", required=True, choices=["pdf", "docx", "txt"])
    p.add_argument("--transcript", action="store_true", help="append the transcript (speaker, time, words)")
    p.add_argument(
        "--out", default=None, help="file or folder (default: session-DATE-ID.FORMAT in the current folder)"
    )
    p.add_argument("--note-version", type=int, default=None, help="a note version (default: the latest)")
    p.set_defaults(func=cmd_export)


def add_retention_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    retention = sub.add_parser("retention", help="how long recordings and transcripts are kept")
    rsub = retention.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    p = rsub.add_parser("apply", parents=[common], help="delete what is past its retention now")
    p.set_defaults(func=cmd_retention_apply)
    p = rsub.add_parser("set", parents=[common], help="my retention settings")
    p.add_argument("--recordings", required=True, help="days after processing (0 = at once), or 'keep'")
    p.add_argument("--transcripts", required=True, help="days after the note is signed, or 'keep'")
    p.set_defaults(func=cmd_retention_set)
