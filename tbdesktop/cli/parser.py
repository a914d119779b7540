"""The command tree (argparse) and the entry point: parse, set up logging, run the command, map its errors to an
exit code. With no command, the window opens."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from tbdesktop.cli import (
    clinic,
    database,
    gui,
    models,
    notes,
    policy,
    process,
    record,
    retention,
    search,
    secrets,
    selftest,
    session_changes,
    session_import,
    sessions,
    speakers,
    stats,
    templates,
    users,
)
from tbdesktop.cli.common import run_command
from tbdesktop.logs import configure


def _version() -> str:
    """The installed release (the bundle carries the package's metadata)."""
    try:
        return importlib.metadata.version("tbdesktop")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="data folder (overrides TB_DATA_DIR)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print data as JSON")
    common.add_argument("--user", default=argparse.SUPPRESS, help="act as this profile (id, email or name)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="tbdesktop",
        description="TherapyBridge Desktop. Without a command, opens the app window.",
    )
    parser.add_argument("--data-dir", default=None, help="data folder (overrides TB_DATA_DIR)")
    parser.add_argument("--json", action="store_true", default=False, help="print data as JSON")
    parser.add_argument("--user", default=None, help="act as this profile (id, email or name)")
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="log progress details")
    parser.add_argument("--version", action="version", version=f"TherapyBridge Desktop {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # the order here is the order of `tbdesktop --help` and of each group's actions
    gui.add_gui_command(sub, common)
    process.add_process_command(sub, common)
    database.add_migrate_command(sub, common)
    selftest.add_selftest_command(sub, common)
    models.add_model_commands(sub, common)
    users.add_user_commands(sub, common)

    session = sub.add_parser("session", help="therapy sessions")
    ssub = session.add_subparsers(dest="session_command", metavar="ACTION", required=True)
    session_import.add_import_command(ssub, common)
    sessions.add_session_commands(ssub, common)

    templates.add_template_commands(sub, common)
    notes.add_note_commands(ssub, common)
    session_changes.add_session_change_commands(ssub, common)
    speakers.add_speaker_commands(ssub, common)
    retention.add_retention_commands(sub, common)
    search.add_search_commands(sub, common)
    secrets.add_secret_commands(sub, common)
    record.add_record_commands(sub, common)
    clinic.add_clinic_commands(sub, common)
    stats.add_stats_commands(sub, common)
    policy.add_policy_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    configure(bool(args.verbose))
    func = getattr(args, "func", None)
    if func is None:
        if args.command:
            parser.parse_args([args.command, "--help"])
        func = gui.cmd_gui
    return run_command(func, args)
