"""`secret`: API keys in the OS keyring or the acting profile's passcode-encrypted store (never their values on
the command line: standard input or a prompt)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, signed_in
from tbdesktop.cli.passcodes import ask
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers

# Keys the clinic may store; the recordings' master keys are managed by the app alone.
SECRET_NAMES = {
    "openai_api_key": "API key of the OpenAI-compatible transcription (and notes) server",
    "notes_api_key": "API key of the notes server, when it differs from openai_api_key",
}


def _secret_value() -> str:
    if sys.stdin.isatty():
        value = ask("Value (not shown): ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")  # piped, so it never appears in the process list
    if not value.strip():
        raise TBError("No value given.")
    return value.strip()


def cmd_secret_set(args: argparse.Namespace) -> int:
    with signed_in(args) as (ctx, _user):
        ctx.secrets.set(args.name, _secret_value())
        where = "the OS keyring" if ctx.secrets.uses_os_keyring else "your encrypted secret store"
    emit(args, {"name": args.name, "stored": True}, lambda: echo(f"Saved {args.name} in {where}."))
    return EXIT_OK


def cmd_secret_delete(args: argparse.Namespace) -> int:
    with signed_in(args) as (ctx, _user):
        ctx.secrets.delete(args.name)
    emit(args, {"name": args.name, "deleted": True}, lambda: echo(f"Removed {args.name}."))
    return EXIT_OK


def cmd_secret_list(args: argparse.Namespace) -> int:
    """Which keys are set (never their values) and where secrets are kept."""
    with signed_in(args) as (ctx, _user):
        present = [name for name in SECRET_NAMES if ctx.secrets.get(name) is not None]
        store = ctx.secrets.mode

    def human() -> None:
        echo("Secrets are kept in " + ("the OS keyring." if store == "keyring" else "your encrypted store."))
        for name, text in SECRET_NAMES.items():
            echo(f"{name:<16} {'set' if name in present else 'not set':<8} {text}")

    emit(args, {"store": store, "set": present}, human)
    return EXIT_OK


def add_secret_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    secret = sub.add_parser("secret", help="API keys, kept in the OS keyring or the passcode-encrypted store")
    xsub = secret.add_subparsers(dest="secret_command", metavar="ACTION", required=True)
    p = xsub.add_parser("set", parents=[common], help="store a key (read from standard input or a prompt)")
    p.add_argument("name", choices=sorted(SECRET_NAMES))
    p.set_defaults(func=cmd_secret_set)
    p = xsub.add_parser("delete", parents=[common], help="remove a key")
    p.add_argument("name", choices=sorted(SECRET_NAMES))
    p.set_defaults(func=cmd_secret_delete)
    p = xsub.add_parser("list", parents=[common], help="which keys are set (never their values)")
    p.set_defaults(func=cmd_secret_list)
