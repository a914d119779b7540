"""Progress notes of a session: show, edit a draft section, sign, add an addendum, write a new version."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, signed_in, wait_for_session
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.dto import NoteInfo


def print_note(note: NoteInfo) -> None:
    out = echo
    signed = f", signed {note.signed_at:%Y-%m-%d %H:%M}" if note.signed_at else ""
    versions = ", ".join(str(v) for v in note.versions)
    out(f"{note.template_name or 'Note'} — version {note.version} of [{versions}] ({note.status}{signed})")
    out(note.written_by)
    for notice in note.notices:
        out(f"! {notice}")
    for section in note.sections:
        out("")
        out(section.title.upper() + (" (edited)" if section.edited else ""))
        if not section.sentences:
            out(f"  {section.text}")
        for sentence in section.sentences:
            refs = ", ".join(str(i) for i in sentence.evidence)
            out(f"  {sentence.text}" + (f"  [lines {refs}]" if refs else ""))
    for addendum in note.addenda:
        out("")
        out(f"ADDENDUM {addendum.created_at:%Y-%m-%d %H:%M} ({addendum.author_name or 'unknown'})")
        out(f"  {addendum.text}")


def _note_command(args: argparse.Namespace, action: str) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.notes import NoteService

    with signed_in(args) as (ctx, user):
        service = NoteService(ctx, user)
        if action == "show":
            note = service.get_sync(args.id, args.version)
        elif action == "sign":
            note = service.sign_sync(args.id)
        elif action == "edit":
            note = service.update_section_sync(args.id, args.section, args.text)
        else:
            note = service.add_addendum_sync(args.id, args.text)
    emit(args, note.to_json(), lambda: print_note(note))
    return EXIT_OK


def cmd_session_notes(args: argparse.Namespace) -> int:
    return _note_command(args, "show")


def cmd_session_sign(args: argparse.Namespace) -> int:
    return _note_command(args, "sign")


def cmd_session_edit_note(args: argparse.Namespace) -> int:
    return _note_command(args, "edit")


def cmd_session_addendum(args: argparse.Namespace) -> int:
    return _note_command(args, "addendum")


def cmd_session_regenerate(args: argparse.Namespace) -> int:
    from tbdesktop.services.notes import NoteService

    with signed_in(args) as (ctx, user):
        service = NoteService(ctx, user)
        job_id = service.regenerate_sync(args.id, args.template)
        session_id = service.session_id(args.id)
        if not args.wait:
            emit(args, {"job_id": str(job_id)}, lambda: echo(f"Queued notes job {job_id}"))
            return EXIT_OK
        final = wait_for_session(ctx, user, session_id, quiet=args.json)
        if final.error:
            raise TBError(final.error)
        note = service.get_sync(session_id)
    emit(args, note.to_json(), lambda: print_note(note))
    return EXIT_OK


def add_note_commands(ssub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = ssub.add_parser("notes", parents=[common], help="a session's progress note (latest version)")
    p.add_argument("id")
    p.add_argument("--version", type=int, default=None)
    p.set_defaults(func=cmd_session_notes)
    p = ssub.add_parser("regenerate-notes", parents=[common], help="write a new note version")
    p.add_argument("id")
    p.add_argument("--template", default=None, help="template id or name (default: my default)")
    p.add_argument("--wait", action="store_true", help="write it now and wait")
    p.set_defaults(func=cmd_session_regenerate)
    p = ssub.add_parser("edit-note", parents=[common], help="change a section of a draft note")
    p.add_argument("id")
    p.add_argument("section", help="section key, e.g. plan")
    p.add_argument("text")
    p.set_defaults(func=cmd_session_edit_note)
    p = ssub.add_parser("sign-note", parents=[common], help="sign the latest note (it becomes immutable)")
    p.add_argument("id")
    p.set_defaults(func=cmd_session_sign)
    p = ssub.add_parser("addendum", parents=[common], help="add an addendum to a signed note")
    p.add_argument("id")
    p.add_argument("text")
    p.set_defaults(func=cmd_session_addendum)
