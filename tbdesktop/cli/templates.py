"""`template`: note templates (built-in, clinic-wide and mine), from JSON files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbdesktop.cli.common import EXIT_OK, echo, emit, emit_list, signed_in
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.dto import TemplateInfo


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


def _template_line(t: TemplateInfo) -> str:
    flags = [t.scope] + (["default"] if t.is_default else []) + ([] if t.editable else ["read-only"])
    return f"{t.id}  {t.name}  [{', '.join(flags)}]  {len(t.sections)} sections"


def cmd_template_list(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService  # SQLAlchemy: loaded when the command runs

    with signed_in(args) as (ctx, user):
        templates = TemplateService(ctx, user).list_sync()
    emit_list(args, templates, _template_line)
    return EXIT_OK


def cmd_template_add(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    name, content = _read_template_file(args.file)
    with signed_in(args) as (ctx, user):
        info = TemplateService(ctx, user).create_sync(args.name or name or "", content, clinic_wide=args.clinic)
    emit(args, info.to_json(), lambda: echo(f"Added template {info.id} ({info.name})"))
    return EXIT_OK


def cmd_template_update(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    name, content = _read_template_file(args.file)
    with signed_in(args) as (ctx, user):
        info = TemplateService(ctx, user).update_sync(args.id, name=args.name or name, content=content)
    emit(args, info.to_json(), lambda: echo(f"Updated template {info.id} ({info.name})"))
    return EXIT_OK


def cmd_template_delete(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    with signed_in(args) as (ctx, user):
        TemplateService(ctx, user).delete_sync(args.id)
    emit(args, {"deleted": args.id}, lambda: echo(f"Deleted template {args.id}"))
    return EXIT_OK


def cmd_template_duplicate(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    with signed_in(args) as (ctx, user):
        info = TemplateService(ctx, user).duplicate_sync(args.id, args.name, clinic_wide=args.clinic)
    emit(args, info.to_json(), lambda: echo(f"Created template {info.id} ({info.name})"))
    return EXIT_OK


def cmd_template_default(args: argparse.Namespace) -> int:
    from tbdesktop.services.templates import TemplateService

    with signed_in(args) as (ctx, user):
        info = TemplateService(ctx, user).set_default_sync(args.id)
    emit(args, info.to_json(), lambda: echo(f"{info.name} is now your default template."))
    return EXIT_OK


def add_template_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
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
