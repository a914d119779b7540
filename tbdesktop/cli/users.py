"""`user`: therapist profiles on this computer, and a profile's passcode."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, emit, emit_list, opened_context, signed_in
from tbdesktop.cli.passcodes import current_passcode, new_passcode
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_user_add(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.profiles import ProfileService

    with opened_context(args) as ctx:
        # Without an OS keyring the profile's keys open with its passcode, so it needs one from the start. Where
        # TB_PASSCODE opened the encrypted database (an existing profile's), the new one is TB_NEW_PASSCODE.
        keys = ctx.database_keys
        opened_with_passcode = keys is not None and keys.unlocked_by is not None
        passcode = new_passcode(
            "TB_NEW_PASSCODE" if opened_with_passcode else "TB_PASSCODE", required=not ctx.secrets.uses_os_keyring
        )
        user = ProfileService(ctx).create_profile_sync(args.name, args.email, args.role, passcode)
    emit(args, user.to_json(), lambda: echo(f"Created profile {user.display_name} ({user.role}) {user.id}"))
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    with opened_context(args) as ctx:
        users = ProfileService(ctx).list_profiles_sync()
    emit_list(args, users, lambda u: f"{u.id}  {u.display_name}  {u.email or ''}  {u.role}")
    return EXIT_OK


def cmd_user_passcode(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    with signed_in(args) as (ctx, user):
        profiles = ProfileService(ctx)
        if profiles.has_passcode_sync(user.id):
            current = current_passcode(user.display_name)
            if not current:
                raise TBError("Set TB_PASSCODE (the current passcode) or run this in a terminal.")
            profiles.set_passcode_sync(user.id, new_passcode("TB_NEW_PASSCODE", required=True) or "", current)
        else:
            profiles.set_passcode_sync(user.id, new_passcode("TB_PASSCODE", required=True) or "")
    emit(args, {"passcode_set": True}, lambda: echo("Passcode saved."))
    return EXIT_OK


def add_user_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="therapist profiles")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    p = usub.add_parser("add", parents=[common], help="create a profile")
    p.add_argument("name")
    p.add_argument("--email", default=None)
    p.add_argument("--role", default="therapist", choices=["therapist", "practice_manager", "admin"])
    p.set_defaults(func=cmd_user_add)
    p = usub.add_parser("list", parents=[common], help="list profiles")
    p.set_defaults(func=cmd_user_list)
    p = usub.add_parser(
        "passcode", parents=[common], help="set or change my passcode (TB_PASSCODE, TB_NEW_PASSCODE or a prompt)"
    )
    p.set_defaults(func=cmd_user_passcode)
