"""`session`: the group, and reading sessions: list, show, status (processing here with --wait), transcript, and
a speaker's role."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import (
    EXIT_OK,
    echo,
    emit,
    emit_list,
    fmt_ts,
    session_line,
    session_service,
    signed_in,
    wait_for_session,
)

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.services.dto import SegmentInfo


def cmd_session_list(args: argparse.Namespace) -> int:
    with session_service(args) as service:
        sessions = service.list_sessions_sync()
    emit_list(args, sessions, session_line, empty="No sessions yet. Import one with `tbdesktop session import AUDIO`.")
    return EXIT_OK


def cmd_session_show(args: argparse.Namespace) -> int:
    # services pull in SQLAlchemy: loaded when a command opens the database, not at start-up
    from tbdesktop.services.notes import NoteService

    with session_service(args) as service:
        info = service.get_sync(args.id)
        flags = NoteService(service.ctx, service.user).risk_flags_sync(info.id)
    data = info.to_json()
    data["client_display"] = info.display_client
    data["risk_flags"] = [f.to_json() for f in flags]

    def human() -> None:
        echo(f"Session   {info.id}")
        echo(f"Client    {info.display_client}")
        echo(f"Date      {info.session_date.isoformat()}")
        echo(f"Duration  {info.duration_mins:.1f} min" if info.duration_mins is not None else "Duration  -")
        echo(f"Status    {info.status} ({info.progress}%)")
        if info.stage_detail and info.status not in ("completed", "failed"):
            echo(f"Stage     {info.stage_detail}")
        if info.error:
            echo(f"Reason    {info.error}")
        if info.consent_method:
            echo(f"Consent   {info.consent_method}")
        echo(f"Type      {info.session_type}")
        for speaker, entry in sorted(info.speakers.items()):
            talk = entry.get("talk_time_s")
            share = f", {talk / 60:.1f} min" if isinstance(talk, (int, float)) else ""
            echo(f"Speaker   {speaker}: {entry.get('role') or 'unknown'}{share}")
        if info.ai_summary:
            echo(f"Summary   {info.ai_summary}")
        if info.needs_regeneration:
            echo(f"Notes     written before who-said-what changed: `tbdesktop session regenerate-notes {info.id}`")
        for flag in flags:
            where = f"line {flag.segment_idx}; " if flag.segment_idx is not None else ""
            detail = f" — {flag.detail}" if flag.detail else ""
            kind = flag.kind.replace("_", " ")
            echo(f"Risk      {kind}, {flag.severity}{detail} ({where}{flag.source_label}): “{flag.quote}”")

    emit(args, data, human)
    return EXIT_OK


def cmd_session_set_role(args: argparse.Namespace) -> int:
    with session_service(args) as service:
        info = service.set_speaker_role_sync(args.id, args.speaker, args.role)
    emit(args, info.to_json(), lambda: echo(f"{args.speaker} is now the {args.role}."))
    return EXIT_OK


def cmd_session_status(args: argparse.Namespace) -> int:
    if getattr(args, "wait", False):
        from tbdesktop.services.sessions import SessionService

        with signed_in(args) as (ctx, user):
            service = SessionService(ctx, user)
            session_id = service.status_sync(args.id).session_id  # refused here when it is not mine
            wait_for_session(ctx, user, session_id, quiet=args.json)
    with session_service(args) as service:
        st = service.status_sync(args.id)

    def human() -> None:
        eta = f", about {st.eta_seconds} s left" if st.eta_seconds else ""
        echo(f"{st.status} {st.progress}% {st.stage_detail or ''}{eta}".rstrip())
        if st.error:
            echo(f"Reason: {st.error}")

    emit(args, st.to_json(), human)
    return EXIT_OK


def _segment_line(seg: SegmentInfo) -> str:
    who = f"{seg.role.title()} ({seg.speaker})" if seg.role else seg.speaker
    return f"{seg.idx:>4}  [{fmt_ts(seg.start_s)}] {who}: {seg.text}"  # the line number commands take


def cmd_session_transcript(args: argparse.Namespace) -> int:
    with session_service(args) as service:
        segments = service.transcript_sync(args.id)
    emit_list(args, segments, _segment_line, empty="No transcript (yet).")
    return EXIT_OK


def add_session_commands(ssub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = ssub.add_parser("list", parents=[common], help="list my sessions")
    p.set_defaults(func=cmd_session_list)
    for name, fn, text in (
        ("show", cmd_session_show, "show a session"),
        ("status", cmd_session_status, "processing status of a session"),
        ("transcript", cmd_session_transcript, "print a session's transcript"),
    ):
        p = ssub.add_parser(name, parents=[common], help=text)
        p.add_argument("id")
        if name == "status":
            p.add_argument(
                "--wait", action="store_true", help="process queued work now (resuming interrupted work) until done"
            )
        p.set_defaults(func=fn)
    p = ssub.add_parser("set-role", parents=[common], help="correct a speaker's role (therapist, client, …)")
    p.add_argument("id")
    p.add_argument("speaker", help="speaker label, e.g. SPEAKER_01")
    p.add_argument("role", choices=["therapist", "client", "partner", "participant", "other"])
    p.set_defaults(func=cmd_session_set_role)
