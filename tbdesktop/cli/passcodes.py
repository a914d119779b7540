"""The acting profile and its passcode on the command line.

``TB_USER`` (or ``--user``) names the acting profile. ``TB_PASSCODE`` is its passcode (headless use): it opens the
profile's encrypted secret store on a computer without an OS keyring, and is the passcode to set for a profile that
has none yet. ``TB_NEW_PASSCODE`` is the new passcode when changing one. Without them, a terminal prompts.
"""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.database_keys import Credentials, ProfileEntry
    from tbdesktop.services.dto import UserInfo


class NamedProfile(Protocol):
    """What picking a profile by name needs: a signed-in profile or an entry of the database's key file."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str | None: ...
    @property
    def display_name(self) -> str: ...


P = TypeVar("P", bound=NamedProfile)


def ask(prompt: str) -> str:
    """A secret typed on the terminal, not echoed."""
    return getpass.getpass(prompt)


def choose_profile(profiles: Sequence[P], wanted: str | None) -> P:
    """The profile named by id, email or name (TB_USER / --user), else the first."""
    if not wanted:
        return profiles[0]
    for p in profiles:
        if wanted in {str(p.id), p.email or "", p.display_name}:
            return p
    raise TBError(f"No profile matches '{wanted}'.")


def new_passcode(env_name: str, *, required: bool) -> str | None:
    """A passcode to set: from ``env_name`` when set; else typed twice on a terminal; else none."""
    value = os.environ.get(env_name)
    if value:
        return value
    if not sys.stdin.isatty():
        if required:
            raise TBError(f"Set {env_name} or run this in a terminal to type the passcode.")
        return None
    first = ask("New passcode (unlocks the app and this profile's keys): ")
    if not first and not required:
        return None
    if ask("New passcode again: ") != first:
        raise TBError("The two passcodes differ.")
    return first


def current_passcode(display_name: str) -> str | None:
    """The acting profile's passcode: TB_PASSCODE, else a prompt on a terminal, else none."""
    value = os.environ.get("TB_PASSCODE")
    if value:
        return value
    if not sys.stdin.isatty():
        return None
    return ask(f"Passcode for {display_name}: ") or None


def install_unlock(ctx: AppContext, user: UserInfo) -> None:
    """Let the secret store ask for the acting profile's passcode when (and only when) it is needed."""
    ctx.secrets.select(user.id)

    def provide(user_id: uuid.UUID) -> str | None:
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


def database_credentials(wanted: str | None) -> Credentials:
    """For an encrypted database without an OS keyring: the acting profile (TB_USER, else the first) and its
    passcode (TB_PASSCODE, else a prompt on a terminal). None or a wrong one opens nothing."""

    def pick(profiles: Sequence[ProfileEntry]) -> tuple[uuid.UUID, str | None]:
        # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
        from tbdesktop.services.database_keys import DatabaseLockedError

        chosen = choose_profile(profiles, wanted)
        passcode = current_passcode(chosen.display_name)
        if not passcode:
            raise DatabaseLockedError(
                "The database on this computer is encrypted and opens with your profile's passcode. Set "
                "TB_PASSCODE (and TB_USER for another profile), or run the command in a terminal."
            )
        return chosen.id, passcode

    return pick


def check_given_passcode(ctx: AppContext, user: UserInfo) -> None:
    """A passcode given for the acting profile must be its passcode, even where the OS keyring opened the keys."""
    keys = ctx.database_keys
    if keys is not None and keys.unlocked_by == user.id:
        return  # its passcode just opened the database
    given = os.environ.get("TB_PASSCODE")
    if not given:
        return
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.profiles import ProfileService

    profiles = ProfileService(ctx)
    if profiles.has_passcode_sync(user.id) and not profiles.verify_passcode_sync(user.id, given):
        raise TBError("That passcode is not right.")
