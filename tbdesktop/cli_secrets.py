"""Passcodes and secrets on the command line.

``TB_PASSCODE`` is the acting profile's passcode (headless use): it opens the profile's encrypted secret store
on a computer without an OS keyring, and is the passcode to set for a profile that has none yet.
``TB_NEW_PASSCODE`` is the new passcode when changing one. Without them, a terminal prompts.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tbdesktop.errors import TBError

# Keys the clinic may store; the recordings' master keys are managed by the app alone.
SECRET_NAMES = {
    "openai_api_key": "API key of the OpenAI-compatible transcription (and notes) server",
    "notes_api_key": "API key of the notes server, when it differs from openai_api_key",
}


def _cli() -> Any:
    from tbdesktop import cli

    return cli


def _ask(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt)


def new_passcode(env_name: str, *, required: bool) -> str | None:
    """A passcode to set: from ``env_name`` when set; else typed twice on a terminal; else none."""
    value = os.environ.get(env_name)
    if value:
        return value
    if not sys.stdin.isatty():
        if required:
            raise TBError(f"Set {env_name} or run this in a terminal to type the passcode.")
        return None
    first = _ask("New passcode (unlocks the app and this profile's keys): ")
    if not first and not required:
        return None
    if _ask("New passcode again: ") != first:
        raise TBError("The two passcodes differ.")
    return first


def current_passcode(display_name: str) -> str | None:
    """The acting profile's passcode: TB_PASSCODE, else a prompt on a terminal, else none."""
    value = os.environ.get("TB_PASSCODE")
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    return _ask(f"Passcode for {display_name}: ") or None


def install_unlock(ctx: Any, user: Any) -> None:
    """Let the secret store ask for the acting profile's passcode when (and only when) it is needed."""
    ctx.secrets.select(user.id)

    def provide(user_id: Any) -> str | None:
        if user_id != user.id:
            return None
        passcode = current_passcode(user.display_name)
        if passcode is None:
            raise TBError(
                "This computer has no OS keyring: your keys are in an encrypted store that opens with your "
                "profile's passcode. Set TB_PASSCODE, or run the command in a terminal."
            )
        return passcode

    ctx.secrets.passcode_provider = provide


def cmd_user_passcode(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    ctx, user = _cli().context_and_user(args)
    try:
        profiles = ProfileService(ctx)
        if profiles.has_passcode_sync(user.id):
            current = current_passcode(user.display_name)
            if not current:
                raise TBError("Set TB_PASSCODE (the current passcode) or run this in a terminal.")
            profiles.set_passcode_sync(user.id, new_passcode("TB_NEW_PASSCODE", required=True) or "", current)
        else:
            profiles.set_passcode_sync(user.id, new_passcode("TB_PASSCODE", required=True) or "")
    finally:
        ctx.close()
    _cli()._emit(args, {"passcode_set": True}, lambda: _cli()._print("Passcode saved."))
    return 0


def _secret_value() -> str:
    if sys.stdin.isatty():
        value = _ask("Value (not shown): ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")  # piped, so it never appears in the process list
    if not value.strip():
        raise TBError("No value given.")
    return value.strip()


def cmd_secret_set(args: argparse.Namespace) -> int:
    ctx, user = _cli().context_and_user(args)
    try:
        ctx.secrets.set(args.name, _secret_value())
        where = "the OS keyring" if ctx.secrets.uses_os_keyring else "your encrypted secret store"
    finally:
        ctx.close()
    _cli()._emit(args, {"name": args.name, "stored": True}, lambda: _cli()._print(f"Saved {args.name} in {where}."))
    return 0


def cmd_secret_delete(args: argparse.Namespace) -> int:
    ctx, user = _cli().context_and_user(args)
    try:
        ctx.secrets.delete(args.name)
    finally:
        ctx.close()
    _cli()._emit(args, {"name": args.name, "deleted": True}, lambda: _cli()._print(f"Removed {args.name}."))
    return 0


def cmd_secret_list(args: argparse.Namespace) -> int:
    """Which keys are set (never their values) and where secrets are kept."""
    ctx, user = _cli().context_and_user(args)
    try:
        present = [name for name in SECRET_NAMES if ctx.secrets.get(name) is not None]
        store = ctx.secrets.mode
    finally:
        ctx.close()

    def human() -> None:
        _cli()._print("Secrets are kept in " + ("the OS keyring." if store == "keyring" else "your encrypted store."))
        for name, text in SECRET_NAMES.items():
            _cli()._print(f"{name:<16} {'set' if name in present else 'not set':<8} {text}")

    _cli()._emit(args, {"store": store, "set": present}, human)
    return 0


def add_secret_commands(sub: Any, usub: Any, common: argparse.ArgumentParser) -> None:
    p = usub.add_parser(
        "passcode", parents=[common], help="set or change my passcode (TB_PASSCODE, TB_NEW_PASSCODE or a prompt)"
    )
    p.set_defaults(func=cmd_user_passcode)

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


def database_credentials(wanted: str | None) -> Any:
    """For an encrypted database without an OS keyring: the acting profile (TB_USER, else the first) and its
    passcode (TB_PASSCODE, else a prompt on a terminal). None or a wrong one opens nothing."""

    def pick(profiles: Any) -> tuple[Any, str | None]:
        from tbdesktop.services.database_keys import DatabaseLockedError

        chosen = _cli().choose_profile(profiles, wanted)
        passcode = current_passcode(chosen.display_name)
        if not passcode:
            raise DatabaseLockedError(
                "The database on this computer is encrypted and opens with your profile's passcode. Set "
                "TB_PASSCODE (and TB_USER for another profile), or run the command in a terminal."
            )
        return chosen.id, passcode

    return pick


def check_given_passcode(ctx: Any, user: Any) -> None:
    """A passcode given for the acting profile must be its passcode, even where the OS keyring opened the keys."""
    keys = ctx.database_keys
    if keys is not None and keys.unlocked_by == user.id:
        return  # its passcode just opened the database
    given = os.environ.get("TB_PASSCODE")
    if not given:
        return
    from tbdesktop.services.profiles import ProfileService

    profiles = ProfileService(ctx)
    if profiles.has_passcode_sync(user.id) and not profiles.verify_passcode_sync(user.id, given):
        raise TBError("That passcode is not right.")
