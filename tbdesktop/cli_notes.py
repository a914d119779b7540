"""CLI commands for note templates and progress notes (the same services the GUI uses)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError


def _cli() -> Any:
    from tbdesktop import cli

    return cli


def _read_template_file(path: str) -> tuple[str | None, dict[str, Any]]:
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise TBError(f"Cannot read {path}: {exc.strerror}.") from exc
    except ValueError as exc:
        raise TBError(f"{path} is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise TBError(f"{path} must hold a JSON object with a name and a list of sections.")
    name = data.get("name")
    return (str(name) if name is not None else None), {"sections": data.get("sections")}


def _with_services(args: argparse.Namespace) -> Any:
    return _cli().context_and_user(args)


# -- templates ----------------------------------------------------------------------------------------------


def _template_line(t: Any) -> str:
    flags = [t.scope] + (["default"] if t.is_default else []) + ([] if t.editable else ["read-only"])
    return f"{t.id}  {t.name}  [{', '.join(flags)}]  {len(t.sections)} sections"


def cmd_template_list(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    ctx, user = _with_services(args)
    try:
        templates = TemplateService(ctx, user).list_sync()
    finally:
        ctx.close()
    _cli()._emit(args, [t.to_json() for t in templates], lambda: [_cli()._print(_template_line(t)) for t in templates])
    return 0


def cmd_template_add(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    name, content = _read_template_file(args.file)
    ctx, user = _with_services(args)
    try:
        info = TemplateService(ctx, user).create_sync(args.name or name or "", content, clinic_wide=args.clinic)
    finally:
        ctx.close()
    _cli()._emit(args, info.to_json(), lambda: _cli()._print(f"Added template {info.id} ({info.name})"))
    return 0


def cmd_template_update(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    name, content = _read_template_file(args.file)
    ctx, user = _with_services(args)
    try:
        info = TemplateService(ctx, user).update_sync(args.id, name=args.name or name, content=content)
    finally:
        ctx.close()
    _cli()._emit(args, info.to_json(), lambda: _cli()._print(f"Updated template {info.id} ({info.name})"))
    return 0


def cmd_template_delete(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    ctx, user = _with_services(args)
    try:
        TemplateService(ctx, user).delete_sync(args.id)
    finally:
        ctx.close()
    _cli()._emit(args, {"deleted": args.id}, lambda: _cli()._print(f"Deleted template {args.id}"))
    return 0


def cmd_template_duplicate(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    ctx, user = _with_services(args)
    try:
        info = TemplateService(ctx, user).duplicate_sync(args.id, args.name, clinic_wide=args.clinic)
    finally:
        ctx.close()
    _cli()._emit(args, info.to_json(), lambda: _cli()._print(f"Created template {info.id} ({info.name})"))
    return 0


def cmd_template_default(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    ctx, user = _with_services(args)
    try:
        info = TemplateService(ctx, user).set_default_sync(args.id)
    finally:
        ctx.close()
    _cli()._emit(args, info.to_json(), lambda: _cli()._print(f"{info.name} is now your default template."))
    return 0


# -- notes --------------------------------------------------------------------------------------------------


def print_note(note: Any) -> None:
    out = _cli()._print
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
    from tbdesktop.services.notes import NoteService

    ctx, user = _with_services(args)
    try:
        service = NoteService(ctx, user)
        if action == "show":
            note = service.get_sync(args.id, args.version)
        elif action == "sign":
            note = service.sign_sync(args.id)
        elif action == "edit":
            note = service.update_section_sync(args.id, args.section, args.text)
        else:
            note = service.add_addendum_sync(args.id, args.text)
    finally:
        ctx.close()
    _cli()._emit(args, note.to_json(), lambda: print_note(note))
    return 0


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

    cli = _cli()
    ctx, user = _with_services(args)
    try:
        service = NoteService(ctx, user)
        job_id = service.regenerate_sync(args.id, args.template)
        session_id = service.session_id(args.id)
        if not args.wait:
            cli._emit(args, {"job_id": str(job_id)}, lambda: cli._print(f"Queued notes job {job_id}"))
            return 0
        final = cli.wait_for_session(ctx, user, session_id, quiet=args.json)
        if final.error:
            raise TBError(final.error)
        note = service.get_sync(session_id)
    finally:
        ctx.close()
    cli._emit(args, note.to_json(), lambda: print_note(note))
    return 0


def add_note_commands(sub: Any, ssub: Any, common: argparse.ArgumentParser) -> None:
    template = sub.add_parser("template", help="note templates")
    tsub = template.add_subparsers(dest="template_command", metavar="ACTION", required=True)
    p = tsub.add_parser("list", parents=[common], help="built-in, clinic-wide and my templates")
    p.set_defaults(func=cmd_template_list)
    p = tsub.add_parser("add", parents=[common], help="add a template from a JSON file")
    p.add_argument("file", help='{"name": …, "sections": [{"key", "title", "instructions", "max_words"?}, …]}')
    p.add_argument("--name", default=None, help="name (default: the file's)")
    p.add_argument("--clinic", action="store_true", help="clinic-wide (practice managers)")
    p.set_defaults(func=cmd_template_add)
    p = tsub.add_parser("update", parents=[common], help="replace a template's sections from a JSON file")
    p.add_argument("id", help="template id or name")
    p.add_argument("file")
    p.add_argument("--name", default=None)
    p.set_defaults(func=cmd_template_update)
    p = tsub.add_parser("delete", parents=[common], help="delete a template")
    p.add_argument("id", help="template id or name")
    p.set_defaults(func=cmd_template_delete)
    p = tsub.add_parser("duplicate", parents=[common], help="copy a template (e.g. a built-in) to customise it")
    p.add_argument("id", help="template id or name")
    p.add_argument("--name", default=None)
    p.add_argument("--clinic", action="store_true", help="make the copy clinic-wide (practice managers)")
    p.set_defaults(func=cmd_template_duplicate)
    p = tsub.add_parser("default", parents=[common], help="make a template my default")
    p.add_argument("id", help="template id or name")
    p.set_defaults(func=cmd_template_default)

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


# -- note models --------------------------------------------------------------------------------------------


def cmd_model_test_notes(args: argparse.Namespace) -> int:
    """Load a GGUF note model in a separate process and time a short answer."""
    from tbdesktop.services.notes_model import NotesModelService

    cli = _cli()
    settings = cli._settings(args)
    path = args.path or (settings.notes_model if settings.notes_backend == "llm" else "")
    if not path:
        raise TBError("Give the model file to test (a .gguf), or set the notes backend to llm with a model file.")
    threads = settings.notes_threads if args.threads is None else args.threads
    layers = settings.notes_gpu_layers if args.gpu_layers is None else args.gpu_layers
    context = settings.notes_context if args.context is None else args.context
    result = NotesModelService().test_model_sync(path, threads, layers, context, timeout=args.timeout)
    if not result.ok and not getattr(args, "json", False):
        raise TBError(result.error)
    cli._emit(args, result.to_json(), lambda: [cli._print(line) for line in result.lines()])
    return 0 if result.ok else 1


def add_model_commands(msub: Any, common: argparse.ArgumentParser) -> None:
    p = msub.add_parser(
        "test-notes", parents=[common], help="load a GGUF note model in a separate process and time a short answer"
    )
    p.add_argument("path", nargs="?", default=None, help="the .gguf file (default: the notes model in the settings)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads, 0 = every core (default: settings)")
    p.add_argument("--gpu-layers", type=int, default=None, help="layers on the GPU, 0 = CPU only (default: settings)")
    p.add_argument("--context", type=int, default=None, help="context size in tokens (default: settings)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    p.set_defaults(func=cmd_model_test_notes)
