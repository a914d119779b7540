"""What every command shares: printing (text or JSON), opening the context as the acting profile, the session
service, waiting for processing, and errors turned into exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from tbdesktop.cli.passcodes import check_given_passcode, choose_profile, database_credentials, install_unlock
from tbdesktop.config import Settings, load_settings
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from typing import TypeAlias

    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import ProgressEvent, SessionInfo, UserInfo
    from tbdesktop.services.sessions import SessionService

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# A command: the parsed arguments in, the exit code out.
Command = Callable[[argparse.Namespace], int]

if TYPE_CHECKING:
    # what add_subparsers() returns: each command module adds its commands to one
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


# -- output -------------------------------------------------------------------------------------------------


def echo(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def echo_err(text: str) -> None:
    sys.stderr.write(text + "\n")


def emit(args: argparse.Namespace, data: object, human: Callable[[], None]) -> None:
    """``data`` as JSON with --json, else whatever ``human`` prints."""
    if getattr(args, "json", False):
        echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


class _Jsonable(Protocol):
    def to_json(self) -> object: ...


_J = TypeVar("_J", bound=_Jsonable)


def emit_list(
    args: argparse.Namespace, items: Sequence[_J], line: Callable[[_J], str], empty: str | None = None
) -> None:
    """The items' JSON with --json, else a line for each (``empty`` when there are none)."""

    def human() -> None:
        if not items and empty is not None:
            echo(empty)
        for item in items:
            echo(line(item))

    emit(args, [item.to_json() for item in items], human)


def fmt_ts(seconds: float) -> str:
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def session_line(info: SessionInfo) -> str:
    dur = f"{info.duration_mins:.1f} min" if info.duration_mins is not None else "-"
    extra = f" — {info.error}" if info.status == "failed" and info.error else ""
    return (
        f"{info.id}  {info.session_date.isoformat()}  {info.display_client:<24}  {dur:>9}  "
        f"{info.status} {info.progress}%{extra}"
    )


# -- context ------------------------------------------------------------------------------------------------


def settings_for(args: argparse.Namespace) -> Settings:
    data_dir = getattr(args, "data_dir", None)
    return load_settings(data_dir=Path(data_dir) if data_dir else None)


def wanted_user(args: argparse.Namespace) -> str | None:
    return getattr(args, "user", None) or os.environ.get("TB_USER") or None


def open_context(args: argparse.Namespace) -> AppContext:
    """The context; an encrypted database opens with the acting profile's passcode (TB_USER, TB_PASSCODE)."""
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.context import AppContext

    return AppContext.open(settings_for(args), credentials=database_credentials(wanted_user(args)))


def acting_user(ctx: AppContext, args: argparse.Namespace) -> UserInfo:
    """The profile the command acts as (--user / TB_USER, else the first), its passcode checked and installed."""
    from tbdesktop.services.profiles import ProfileService

    profiles = ProfileService(ctx).list_profiles_sync()
    if not profiles:
        raise TBError("There is no therapist profile yet: create one with `tbdesktop user add NAME`.")
    chosen = choose_profile(profiles, wanted_user(args))
    check_given_passcode(ctx, chosen)
    install_unlock(ctx, chosen)
    return chosen


@contextmanager
def opened_context(args: argparse.Namespace) -> Iterator[AppContext]:
    """The opened context, closed afterwards."""
    ctx = open_context(args)
    try:
        yield ctx
    finally:
        ctx.close()


@contextmanager
def signed_in(args: argparse.Namespace) -> Iterator[tuple[AppContext, UserInfo]]:
    """An opened context and the acting profile; the context is closed afterwards, also when the profile fails."""
    with opened_context(args) as ctx:
        yield ctx, acting_user(ctx, args)


@contextmanager
def session_service(args: argparse.Namespace) -> Iterator[SessionService]:
    """The signed-in user's SessionService over an opened context, closed afterwards."""
    from tbdesktop.services.sessions import SessionService

    with signed_in(args) as (ctx, user):
        yield SessionService(ctx, user)


# -- processing here ----------------------------------------------------------------------------------------


def wait_for_sessions(
    ctx: AppContext, user: UserInfo, session_ids: Sequence[uuid.UUID], *, quiet: bool
) -> dict[uuid.UUID, str]:
    """Process queued jobs here until each session's processing has finished; its final status by session."""
    # the runner brings the engine's worker machinery: loaded only by the commands that process
    from tbdesktop.services.processing import ProcessingRunner

    runner = ProcessingRunner(ctx, owner_ids=[user.id])
    if not quiet:
        last: dict[uuid.UUID, int] = {}

        def show(ev: ProgressEvent) -> None:
            step = ev.progress // 10
            if ev.session_id in session_ids and (last.get(ev.session_id) != step or ev.finished):
                last[ev.session_id] = step
                echo_err(f"{ev.session_id}  {ev.stage_detail or ev.status} {ev.progress}%")

        runner.add_listener(show)

    async def wait() -> dict[uuid.UUID, str]:
        try:
            return {sid: (await runner.wait_for_session(sid)).status for sid in session_ids}
        finally:
            await runner.stop()

    return asyncio.run(wait())


def wait_for_session(ctx: AppContext, user: UserInfo, session_id: uuid.UUID, *, quiet: bool) -> ProgressEvent:
    """Process queued jobs here until the session's processing has finished; progress lines on stderr."""
    from tbdesktop.services.processing import ProcessingRunner

    runner = ProcessingRunner(ctx, owner_ids=[user.id])
    if not quiet:
        last: tuple[str, int] = ("", -1)  # the stage shown last, and its 5 % step

        def show(ev: ProgressEvent) -> None:
            nonlocal last
            # a line for each new stage and each 5 % step passed (progress may jump over a multiple of 5)
            stage = ev.stage_detail or ev.status
            line = f"{stage} {ev.progress}%"
            step = ev.progress // 5
            if ev.session_id == session_id and (stage != last[0] or step != last[1] or ev.finished):
                last = (stage, step)
                eta = f" (about {ev.eta_seconds} s left)" if ev.eta_seconds else ""
                echo_err(line + eta)

        runner.add_listener(show)

    async def wait() -> ProgressEvent:
        try:
            return await runner.wait_for_session(session_id)
        finally:
            await runner.stop()

    return asyncio.run(wait())


# -- errors -------------------------------------------------------------------------------------------------


def run_command(func: Command, args: argparse.Namespace) -> int:
    """The command's exit code; a TBError is its message on stderr and exit code 1, Ctrl+C is 130."""
    try:
        return int(func(args))
    except TBError as exc:
        echo_err(f"error: {exc.message}")
        existing = getattr(exc, "existing_id", None)
        if existing is not None:  # a recording imported before
            echo_err(f"  the session: tbdesktop session show {existing}; to import it again: --allow-duplicate")
        return EXIT_ERROR
    except KeyboardInterrupt:
        echo_err("interrupted")
        return EXIT_INTERRUPTED
