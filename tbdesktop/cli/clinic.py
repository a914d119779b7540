"""Clinic mode on the command line: set up the clinic server (IT), join it from a workstation, sync.

Passwords are never arguments: ``TB_CLINIC_PASSWORD`` or a prompt. The administrator connection of ``clinic init``
and ``clinic add-user`` takes its password from ``PGPASSWORD`` or ``~/.pgpass``, as every PostgreSQL tool does.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, echo_err, emit, emit_list, opened_context, signed_in
from tbdesktop.cli.passcodes import ask, current_passcode
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.sync.service import ConflictInfo, SyncService


def clinic_password(*, confirm: bool) -> str:
    value = os.environ.get("TB_CLINIC_PASSWORD")
    if value:
        return value
    if not sys.stdin.isatty():
        raise TBError("Set TB_CLINIC_PASSWORD or run this in a terminal to type the clinic password.")
    first = ask("Clinic password: ")
    if confirm and ask("Clinic password again: ") != first:
        raise TBError("The two passwords differ.")
    return first


def cmd_clinic_init(args: argparse.Namespace) -> int:
    # the clinic server code brings SQLAlchemy and the PostgreSQL driver: loaded when a command runs
    from tbdesktop.services.sync.server import init_clinic

    result = init_clinic(args.url, ca_file=args.ca_file)
    data = result.to_json() if hasattr(result, "to_json") else {"ok": True}
    emit(args, data, lambda: echo("The clinic database is ready (roles, row-level security, sync)."))
    return EXIT_OK


def cmd_clinic_add_user(args: argparse.Namespace) -> int:
    from tbdesktop.services.sync.server import add_user

    password = clinic_password(confirm=True)
    user_id = add_user(args.url, args.email, args.name, args.role, password)
    emit(
        args,
        {"id": str(user_id), "email": args.email.lower(), "role": args.role},
        lambda: echo(f"Added {args.email.lower()} ({args.role}). They join with `tbdesktop clinic join`."),
    )
    return EXIT_OK


def cmd_clinic_set_password(args: argparse.Namespace) -> int:
    from tbdesktop.services.sync.server import set_password

    set_password(args.url, args.email, clinic_password(confirm=True), ca_file=args.ca_file)
    emit(args, {"email": args.email.lower(), "password_set": True}, lambda: echo("Password changed."))
    return EXIT_OK


def cmd_clinic_disable_user(args: argparse.Namespace) -> int:
    from tbdesktop.services.sync.server import disable_user, enable_user

    (enable_user if args.enable else disable_user)(args.url, args.email, ca_file=args.ca_file)
    state = "enabled" if args.enable else "disabled (their rows are kept)"
    emit(args, {"email": args.email.lower(), "login": bool(args.enable)}, lambda: echo(f"Login {state}."))
    return EXIT_OK


def _sync_service(ctx: AppContext) -> SyncService:
    from tbdesktop.services.sync.service import SyncService

    return SyncService(ctx)


def _any_profile_passcode(ctx: AppContext) -> None:
    """Without an OS keyring the clinic password is kept in the profile's passcode-encrypted store."""

    def provide(_user_id: uuid.UUID) -> str | None:
        return current_passcode("this profile")

    ctx.secrets.passcode_provider = provide


def cmd_clinic_join(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    password = clinic_password(confirm=False)
    with _clinic_context(args, unlock=True) as (ctx, svc):
        if ctx.secrets.mode == "file" and not current_passcode("this profile"):
            # without an OS keyring the profile's passcode opens the encrypted database and the clinic password
            raise TBError(
                "This computer has no OS keyring: set TB_PASSCODE to the passcode your profile uses (or will use) "
                "on this workstation, then join again."
            )
        info = svc.join(args.url, args.email, password, remember=not args.no_remember, ca_file=args.ca_file)
        profiles = ProfileService(ctx)
        if ctx.secrets.mode == "file" and not args.no_remember and not profiles.has_passcode_sync(info.user_id):
            passcode = os.environ.get("TB_PASSCODE")
            if passcode:
                profiles.set_passcode_sync(info.user_id, passcode)
        try:
            report = svc.sync_now(info.user_id)
        except TBError as exc:
            why = exc.message
            emit(
                args,
                {"joined": info.to_json(), "synced": False, "error": why},
                lambda: echo(f"Joined the clinic as {info.email}; the first sync did not run: {why}"),
            )
            return EXIT_ERROR
        emit(
            args,
            {"joined": info.to_json(), "synced": True, "report": report.to_json()},
            lambda: echo(
                f"Joined the clinic as {info.email} ({info.role}). Pushed {report.pushed}, pulled {report.pulled}."
            ),
        )
        return EXIT_OK


@contextmanager
def _clinic_context(args: argparse.Namespace, *, unlock: bool = False) -> Iterator[tuple[AppContext, SyncService]]:
    """An opened context and its SyncService, closed afterwards; ``unlock`` lets the secret store ask for the
    profile's passcode (TB_PASSCODE or a prompt) where there is no OS keyring."""
    with opened_context(args) as ctx:
        if unlock:
            _any_profile_passcode(ctx)
        yield ctx, _sync_service(ctx)


def _account_user(ctx: AppContext, args: argparse.Namespace, svc: SyncService) -> uuid.UUID | None:
    wanted = getattr(args, "user", None) or os.environ.get("TB_USER")
    if not wanted:
        return None
    for a in svc.accounts():
        if wanted in {str(a.user_id), a.email, a.display_name}:
            return a.user_id
    raise TBError(f"No profile joined to a clinic matches '{wanted}'.")


def cmd_clinic_leave(args: argparse.Namespace) -> int:
    with _clinic_context(args, unlock=True) as (ctx, svc):
        user_id = _account_user(ctx, args, svc)
        if user_id is None:
            accounts = svc.accounts()
            if len(accounts) != 1:
                raise TBError(
                    "Say which profile leaves the clinic with --user."
                    if accounts
                    else "No profile on this workstation has joined a clinic."
                )
            user_id = accounts[0].user_id
        from tbdesktop.services.sync.service import ChangesWaitingError

        try:
            dropped = svc.leave(user_id, wipe=args.wipe, force=args.force)
        except ChangesWaitingError as exc:
            raise TBError(f"{exc.message} Run `tbdesktop sync` first, or leave with --force to drop them.") from exc
        emit(
            args,
            {"left": str(user_id), "wiped": bool(args.wipe), "dropped_changes": dropped},
            lambda: echo(
                "Left the clinic" + (" and removed this profile's data from this workstation." if args.wipe else ".")
            ),
        )
        return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from tbdesktop.services.sync.service import ClinicUnreachableError

    with _clinic_context(args, unlock=True) as (ctx, svc):
        user_id = _account_user(ctx, args, svc)
        try:
            report = svc.sync_now(user_id)
        except ClinicUnreachableError as exc:
            pending = svc.pending(user_id, audit=False)
            why = exc.message
            emit(
                args,
                {"ok": False, "error": why, "pending": pending},
                lambda: echo_err(f"error: {why} {pending} change(s) kept here; they sync when it is back."),
            )
            return EXIT_ERROR
        emit(
            args,
            report.to_json(),
            lambda: echo(
                f"Pushed {report.pushed}, pulled {report.pulled}, deleted {report.deleted}, "
                f"conflicts {report.conflicts}, pending {report.pending}"
                + (f", refused {report.rejected}" if report.rejected else "")
                + (f" — {report.message}" if report.message else "")
            ),
        )
        return EXIT_OK if report.ok else EXIT_ERROR


def cmd_sync_status(args: argparse.Namespace) -> int:
    with _clinic_context(args) as (ctx, svc):
        status = svc.status(_account_user(ctx, args, svc))

        def human() -> None:
            echo(status.text)
            if status.server:
                echo(f"  server: {status.server} as {status.login}")
                last = status.last_sync_at.isoformat(timespec="seconds") if status.last_sync_at else "never"
                echo(f"  last sync: {last}; waiting: {status.pending}; conflicts: {status.conflicts}")
                if status.last_error:
                    echo(f"  last error: {status.last_error}")

        emit(args, status.to_json(), human)
        return EXIT_OK


def _conflict_line(c: ConflictInfo) -> str:
    what = "edit of a note signed elsewhere" if c.kind == "signed_elsewhere" else "overwritten text"
    return f"{c.id}  {c.table_name} {c.field}: {what} ({c.created_at:%Y-%m-%d %H:%M})"


def cmd_sync_conflicts(args: argparse.Namespace) -> int:
    with signed_in(args) as (ctx, user):
        svc = _sync_service(ctx)
        session = uuid.UUID(args.session) if args.session else None
        items = svc.conflicts(user.id, session, open_only=not args.all)
        emit_list(args, items, _conflict_line, empty="No conflicts.")
        return EXIT_OK


def cmd_sync_resolve(args: argparse.Namespace) -> int:
    with signed_in(args) as (ctx, user):
        info = _sync_service(ctx).resolve_conflict(user.id, uuid.UUID(args.id), args.action)
        emit(args, info.to_json(), lambda: echo(f"Conflict {args.action}: done."))
        return EXIT_OK


def add_clinic_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    clinic = sub.add_parser("clinic", help="clinic mode: the shared PostgreSQL server (IT) and joining it")
    csub = clinic.add_subparsers(dest="clinic_command", metavar="ACTION", required=True)
    p = csub.add_parser("init", parents=[common], help="set up or upgrade the clinic database (administrator URL)")
    p.add_argument("url", help="postgresql://admin@host:5432/clinic (password from PGPASSWORD or ~/.pgpass)")
    p.add_argument("--ca-file", default=None, help="the clinic's CA certificate (sslmode=verify-full)")
    p.set_defaults(func=cmd_clinic_init)
    p = csub.add_parser("add-user", parents=[common], help="add a clinician (password: TB_CLINIC_PASSWORD or prompt)")
    p.add_argument("url")
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=["therapist", "practice_manager", "admin"], default="therapist")
    p.set_defaults(func=cmd_clinic_add_user)
    p = csub.add_parser("set-password", parents=[common], help="a clinician's new password (IT)")
    p.add_argument("url")
    p.add_argument("email")
    p.add_argument("--ca-file", default=None)
    p.set_defaults(func=cmd_clinic_set_password)
    p = csub.add_parser("disable-user", parents=[common], help="stop a clinician's login; --enable restores it (IT)")
    p.add_argument("url")
    p.add_argument("email")
    p.add_argument("--enable", action="store_true")
    p.add_argument("--ca-file", default=None)
    p.set_defaults(func=cmd_clinic_disable_user)
    p = csub.add_parser("join", parents=[common], help="sign in to the clinic from this workstation and sync")
    p.add_argument(
        "url",
        nargs="?",
        default=None,
        help="postgresql://host:5432/clinic?sslmode=verify-full (optional where the clinic policy names the server)",
    )
    p.add_argument("--email", required=True)
    p.add_argument("--ca-file", default=None, help="the clinic's CA certificate (default: the clinic policy's)")
    p.add_argument("--no-remember", action="store_true", help="do not keep the password on this workstation")
    p.set_defaults(func=cmd_clinic_join)
    p = csub.add_parser("leave", parents=[common], help="stop syncing this profile on this workstation")
    p.add_argument("--wipe", action="store_true", help="also remove its data from this workstation")
    p.add_argument("--force", action="store_true", help="leave even with changes not yet sent")
    p.set_defaults(func=cmd_clinic_leave)

    sync = sub.add_parser("sync", parents=[common], help="sync with the clinic server now (push, then pull)")
    sync.set_defaults(func=cmd_sync)
    ysub = sync.add_subparsers(dest="sync_command", metavar="ACTION")
    p = ysub.add_parser("status", parents=[common], help="where sync stands")
    p.set_defaults(func=cmd_sync_status)
    p = ysub.add_parser("conflicts", parents=[common], help="text that lost a concurrent edit")
    p.add_argument("session", nargs="?", default=None)
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.set_defaults(func=cmd_sync_conflicts)
    p = ysub.add_parser("resolve", parents=[common], help="restore lost text, dismiss, or add it as an addendum")
    p.add_argument("id")
    p.add_argument("action", choices=["restore", "dismiss", "addendum"])
    p.set_defaults(func=cmd_sync_resolve)
