"""`policy`: the clinic's managed settings — what is in force here and where each setting came from (``show``),
and a policy file checked before IT deploys it (``check``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbdesktop import policy as managed
from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, emit
from tbdesktop.config import check_policy_settings, mask_url, settings_provenance
from tbdesktop.errors import TBError
from tbdesktop.policy import POLICY_ENV, Policy, load_policy

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def _days(value: int | None) -> str:
    return "not set" if value is None else f"at least {value} days"


def constraints(policy: Policy) -> list[tuple[str, str]]:
    """What the policy itself sets, as (label, text) lines."""
    server = policy.clinic_server
    return [
        (
            "clinic server",
            (mask_url(server.url) + (f" (CA file {server.ca_file})" if server.ca_file else ""))
            if server
            else "not set",
        ),
        ("model folder", str(policy.model_dir) if policy.model_dir else "not set"),
        ("transcription backends", policy.backends_text("transcription")),
        ("notes backends", policy.backends_text("notes")),
        ("servers (openai backends)", policy.servers_text()),
        ("keep recordings", _days(policy.min_recording_days)),
        ("keep transcripts", _days(policy.min_transcript_days)),
        (
            "idle lock",
            "not set" if policy.idle_lock_max_minutes is None else f"at most {policy.idle_lock_max_minutes} minutes",
        ),
        ("consent required", "yes, for every profile" if policy.consent_required else "not set"),
        ("locked settings", ", ".join(policy.settings) if policy.settings else "none"),
    ]


def policy_json(policy: Policy) -> dict[str, Any]:
    data = policy.to_json()
    if data["clinic_server"]:
        data["clinic_server"]["url"] = mask_url(data["clinic_server"]["url"])
    if "database_url" in data["settings"]:
        data["settings"]["database_url"] = mask_url(str(data["settings"]["database_url"]))
    return data


def _print_constraints(policy: Policy) -> None:
    for label, text in constraints(policy):
        echo(f"  {label + ':':<28}{text}")


def cmd_policy_show(args: argparse.Namespace) -> int:
    data_dir = getattr(args, "data_dir", None)
    settings, sources = settings_provenance(data_dir=Path(data_dir) if data_dir else None)
    policy = settings.policy
    machine = managed.machine_policy_file()
    in_force = managed.policy_file()
    data = {
        "policy_file": str(policy.source) if policy.source else None,
        "machine_policy_file": str(machine),
        "policy": policy_json(policy) if policy.active else None,
        "settings": [s.to_json() for s in sources],
    }

    def human() -> None:
        if policy.active:
            via = f" (named by {POLICY_ENV})" if in_force is not None and in_force != machine else ""
            echo(f"Clinic policy: {policy.source}{via}")
            _print_constraints(policy)
        else:
            echo(f"Clinic policy: none (IT puts it at {machine})")
        echo()
        echo("Settings:")
        for s in sources:
            echo(f"  {s.name} = {s.shown_value}    [{s.source}]")
            for note in s.notes:
                echo(f"      note: {note}")

    emit(args, data, human)
    return EXIT_OK


def cmd_policy_check(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser()
    try:
        policy = load_policy(path)
        check_policy_settings(policy)
    except TBError as exc:
        if getattr(args, "json", False):
            emit(args, {"file": str(path), "valid": False, "error": exc.message}, lambda: None)
            return EXIT_ERROR
        raise

    def human() -> None:
        echo(f"The policy file {path} is valid. Where it is in force:")
        _print_constraints(policy)

    emit(args, {"file": str(path), "valid": True, "policy": policy_json(policy)}, human)
    return EXIT_OK


def add_policy_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    policy = sub.add_parser("policy", help="the clinic's managed settings (IT)")
    psub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    p = psub.add_parser("show", parents=[common], help="the settings in force and where each came from")
    p.set_defaults(func=cmd_policy_show)
    p = psub.add_parser("check", parents=[common], help="check a policy file before deploying it")
    p.add_argument("file", help="the policy file (JSON)")
    p.set_defaults(func=cmd_policy_check)
