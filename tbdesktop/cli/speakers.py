"""`tbdesktop session speakers …`: correct who said what (the same service methods the window uses)."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, echo_err, emit, session_service, signed_in, wait_for_session
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.sessions import SessionService
    from tbdesktop.services.speakers.service import SpeakersChange

ROLE_NAMES = ["therapist", "client", "partner", "participant", "other"]


def _regenerate_hint(needed: bool, session_id: uuid.UUID) -> str:
    if not needed:
        return ""
    return (
        "\nThe note and risk flags were written before this change; write them again with "
        f"`tbdesktop session regenerate-notes {session_id}`."
    )


def _show(args: argparse.Namespace, change: SpeakersChange, message: str) -> int:
    hint = _regenerate_hint(change.needs_regeneration, change.session.id)
    emit(args, change.to_json(), lambda: echo(message + hint))
    return EXIT_OK


def _run(args: argparse.Namespace, action: Callable[[SessionService], SpeakersChange]) -> SpeakersChange:
    with session_service(args) as service:
        return action(service)


def cmd_split(args: argparse.Namespace) -> int:
    if args.to != "new" and (args.role or args.name):
        raise TBError("--role and --name describe a new speaker; use them with --to new.")
    change = _run(
        args,
        lambda s: s.split_line_sync(args.id, args.line, args.word - 1, args.to, role=args.role, name=args.name),
    )
    message = f"Line {args.line} split: from word {args.word} on, it is line {max(change.lines)}"
    return _show(args, change, f"{message}, said by {change.speaker}.")


def cmd_merge(args: argparse.Namespace) -> int:
    change = _run(args, lambda s: s.merge_speakers_sync(args.id, args.source, args.into))
    count = len(change.lines)
    return _show(args, change, f"{args.source} merged into {args.into}: {count} line{'' if count == 1 else 's'} moved.")


def cmd_add(args: argparse.Namespace) -> int:
    change = _run(args, lambda s: s.add_speaker_sync(args.id, args.role, args.name))
    return _show(args, change, f"Added {change.speaker} ({args.role}). Move or split lines to them.")


def _voices(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise TBError(f"'{value}' is not a number of voices (1 to 6, or auto).") from exc


def cmd_rediarize(args: argparse.Namespace) -> int:
    voices = _voices(args.voices)
    with signed_in(args) as (ctx, user):
        # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
        from tbdesktop.services.sessions import SessionService

        service = SessionService(ctx, user)
        change = service.rediarize_sync(args.id, voices)
        if not args.wait:
            return _show(args, change, "Speaker separation queued; it runs when the app (or --wait) processes it.")
        wait_for_session(ctx, user, change.session.id, quiet=args.json)
        info = service.get_sync(change.session.id)
        data = {**change.to_json(), "session": info.to_json(), "needs_regeneration": info.needs_regeneration}
        if info.error:
            emit(args, data, lambda: echo_err(info.error or ""))
            return EXIT_ERROR
        hint = _regenerate_hint(info.needs_regeneration, info.id)
        emit(args, data, lambda: echo(f"{info.stage_detail or 'Done'}.{hint}"))
        return EXIT_OK


def add_speaker_commands(ssub: SubParsers, common: argparse.ArgumentParser) -> None:
    speakers = ssub.add_parser("speakers", help="correct who said what: split, merge, add, separate again")
    sp = speakers.add_subparsers(dest="speakers_command", metavar="ACTION", required=True)
    p = sp.add_parser("split", parents=[common], help="give the end of a line, from a word on, to another speaker")
    p.add_argument("id")
    p.add_argument("--line", type=int, required=True, help="the line (its idx, as in `session transcript --json`)")
    p.add_argument("--word", type=int, required=True, help="the new line starts at this word, counting from 1")
    p.add_argument("--to", required=True, help="a speaker label (e.g. SPEAKER_01), or 'new'")
    p.add_argument("--role", choices=ROLE_NAMES, default=None, help="the new speaker's role (with --to new)")
    p.add_argument("--name", default=None, help="the new speaker's name (with --to new)")
    p.set_defaults(func=cmd_split)
    p = sp.add_parser("merge", parents=[common], help="every line of one speaker becomes another's")
    p.add_argument("id")
    p.add_argument("--from", dest="source", required=True, help="the speaker that goes away")
    p.add_argument("--into", required=True, help="the speaker that stays")
    p.set_defaults(func=cmd_merge)
    p = sp.add_parser("add", parents=[common], help="add a speaker (the next SPEAKER_NN)")
    p.add_argument("id")
    p.add_argument("--role", choices=ROLE_NAMES, required=True)
    p.add_argument("--name", default=None)
    p.set_defaults(func=cmd_add)
    p = sp.add_parser("rediarize", parents=[common], help="separate the voices again from the recording")
    p.add_argument("id")
    p.add_argument("--voices", default="auto", help="how many voices: 1 to 6, or auto (default)")
    p.add_argument("--wait", action="store_true", help="process now and wait until done")
    p.set_defaults(func=cmd_rediarize)
