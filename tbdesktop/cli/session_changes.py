"""Commands that change, export or delete what a session keeps (the same service methods the GUI uses)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, emit, session_service, signed_in
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.dto import SessionInfo
    from tbdesktop.services.export.service import Renderer
    from tbdesktop.services.sessions import SessionService

T = TypeVar("T")


def _run(args: argparse.Namespace, action: Callable[[SessionService], T]) -> T:
    with session_service(args) as service:
        return action(service)


def _show(args: argparse.Namespace, info: SessionInfo, message: str) -> int:
    emit(args, info.to_json(), lambda: echo(message))
    return EXIT_OK


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
    emit(args, {"deleted": args.id}, lambda: echo("Session deleted."))
    return EXIT_OK


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
    emit(args, segment.to_json(), lambda: echo(f"Line {segment.idx} corrected."))
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    cancelled = _run(args, lambda s: s.cancel_sync(args.id))
    message = "Processing cancelled." if cancelled else "Nothing was waiting to be processed for this session."
    emit(args, {"cancelled": cancelled}, lambda: echo(message))
    return EXIT_OK if cancelled else EXIT_ERROR


def _pdf_renderer() -> Renderer:
    """Qt's PDF writer, with the (offscreen, where there is no display) application its fonts need."""
    try:
        # Qt is loaded only for a PDF: the other commands never import it
        from tbdesktop.ui.export_pdf import ensure_gui, render_pdf

        ensure_gui()
    except (ImportError, OSError) as exc:
        raise TBError(f"PDF export needs Qt's libraries, which could not be loaded ({type(exc).__name__}).") from exc
    return render_pdf


def cmd_export(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.export import ExportService

    renderer = _pdf_renderer() if args.format == "pdf" else None
    with signed_in(args) as (ctx, user):
        service = ExportService(ctx, user)
        out = Path(args.out).expanduser() if args.out else Path.cwd()
        if out.is_dir():  # a folder: the file takes the name with no PHI in it
            out = out / service.suggested_name_sync(args.id, args.format)
        result = service.write_sync(
            args.id, args.format, out, transcript=args.transcript, version=args.note_version, renderer=renderer
        )
    state = "signed" if result.signed else "draft"
    emit(
        args,
        result.to_json(),
        lambda: echo(
            f"Wrote {result.path} ({result.format.upper()}, {result.bytes} bytes; note version {result.version}, "
            f"{state}{', with the transcript' if result.transcript else ''})"
        ),
    )
    return EXIT_OK


def add_session_change_commands(ssub: SubParsers, common: argparse.ArgumentParser) -> None:
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
    p.add_argument("--out", default=None, help="file or folder (default: session-DATE-ID.FORMAT in the current folder)")
    p.add_argument("--note-version", type=int, default=None, help="a note version (default: the latest)")
    p.set_defaults(func=cmd_export)
