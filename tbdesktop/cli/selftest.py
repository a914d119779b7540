"""`selftest`: check the engine, database, models, secret store, audio devices and clinic sync, each on its own."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tbdesktop import policy as managed
from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, emit, opened_context, settings_for
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_selftest(args: argparse.Namespace) -> int:
    checks: list[dict[str, str | bool]] = []

    def check(name: str, fn: Callable[[], str], required: bool = True) -> None:
        try:
            detail = fn()
            checks.append({"check": name, "ok": True, "required": required, "detail": detail})
        except Exception as exc:  # every failure is reported, none aborts the others
            message = exc.message if isinstance(exc, TBError) else f"{type(exc).__name__}: {exc}"
            checks.append({"check": name, "ok": False, "required": required, "detail": message})

    settings = settings_for(args)

    # each check imports what it checks: a missing or broken library fails that check alone
    def engine() -> str:
        import av
        import ctranslate2
        import faster_whisper

        import tbdesktop.engine.pipeline  # noqa: F401

        versions = (faster_whisper.__version__, ctranslate2.__version__, av.__version__)
        return "faster-whisper {}, ctranslate2 {}, av {}".format(*versions)

    def database() -> str:
        from tbdesktop.store import migrate

        with opened_context(args) as ctx:
            rev = migrate.current_revision(ctx.db.engine)
            if not migrate.is_up_to_date(ctx.db.engine):
                raise TBError(f"database at {rev}, expected {migrate.head_revision(ctx.db.engine)}")
            return f"{ctx.db.dialect} at revision {rev}"

    def model() -> str:
        from tbdesktop.engine.models import resolve_model
        from tbdesktop.services.model_packs import resolve_model_setting

        os.environ["HF_HUB_OFFLINE"] = "1"
        return str(
            resolve_model(resolve_model_setting(settings.model_dir, settings.asr_model, "speech"), settings.cache_dir)
        )

    def speaker_model() -> str:
        import numpy as np

        from tbdesktop.engine.diarization.speaker_model import SpeakerModel, install_speaker_model

        path = install_speaker_model(settings.cache_dir)
        if SpeakerModel(path).embed(np.zeros((1, 20, 80), dtype=np.float32)).shape != (1, 192):
            raise TBError("the speaker model gives embeddings of the wrong size")
        return str(path)

    def devices() -> str:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            raise TBError(f"audio library unavailable ({type(exc).__name__})") from exc
        inputs = [d for d in sounddevice.query_devices() if d.get("max_input_channels", 0) > 0]
        return f"{len(inputs)} input device(s)" + (": " + ", ".join(d["name"] for d in inputs) if inputs else "")

    def secret_store() -> str:
        from tbdesktop.services.secrets import SecretVault

        vault = SecretVault(settings.secrets_dir, settings.secret_store)
        if vault.uses_os_keyring:
            return "OS keyring"
        return f"no OS keyring: passcode-encrypted store per profile in {settings.secrets_dir}"

    def playback() -> str:
        from tbdesktop.ui.audio_player import playback_support

        return playback_support()

    def clinic() -> str:
        from tbdesktop.services.sync.service import SyncService

        with opened_context(args) as ctx:
            status = SyncService(ctx).status()
        if status.state == "off":
            return "not connected (this workstation works on its own)"
        last = status.last_sync_at.isoformat(timespec="seconds") if status.last_sync_at else "never"
        detail = f"{status.text}; server {status.server}; last sync {last}; {status.pending} change(s) waiting"
        if status.state in {"offline", "paused"}:
            raise TBError(detail)
        return detail

    def processing() -> str:
        from tbdesktop.services.processing import capacity

        plan = capacity.for_settings(settings)
        return f"{plan.jobs} recording(s) at once ({plan.reason})"

    def policy() -> str:
        # A broken policy file stopped every command before this point (settings_for): here it is valid.
        return policy_summary(settings.policy)

    check("clinic policy", policy)
    check("engine", engine)
    check("processing", processing)
    check("database", database)
    check("clinic sync", clinic, required=False)
    check("secret store", secret_store)
    check("model", model)
    check("speaker model", speaker_model)
    _check_packs(check, settings.model_dir, full=bool(getattr(args, "verify_packs", False)))
    check("audio devices", devices, required=False)
    check("audio playback", playback, required=False)
    ok = all(c["ok"] for c in checks if c["required"])

    def human() -> None:
        for c in checks:
            mark = "ok  " if c["ok"] else ("FAIL" if c["required"] else "warn")
            echo(f"[{mark}] {c['check']}: {c['detail']}")
        echo("selftest passed" if ok else "selftest FAILED")

    emit(args, {"ok": ok, "checks": checks}, human)
    return EXIT_OK if ok else EXIT_ERROR


def policy_summary(policy: managed.Policy) -> str:
    """One line on what the clinic's policy file manages on this machine."""
    if not policy.active:
        return f"none (IT would put it at {managed.machine_policy_file()})"
    parts = [f"{len(policy.settings)} setting(s) locked"] if policy.settings else []
    if policy.clinic_server is not None:
        parts.append("clinic server set")
    if policy.allowed_transcription is not None or policy.allowed_notes is not None:
        parts.append("backends limited")
    if policy.allowed_servers is not None:
        parts.append(f"{len(policy.allowed_servers)} server(s) allowed")
    if policy.min_recording_days is not None or policy.min_transcript_days is not None:
        parts.append("minimum retention")
    if policy.idle_lock_max_minutes is not None:
        parts.append(f"idle lock at most {policy.idle_lock_max_minutes} min")
    if policy.consent_required:
        parts.append("consent required")
    if policy.model_dir is not None:
        parts.append("model folder set")
    return f"{policy.source}: " + (", ".join(parts) if parts else "sets nothing")


def _check_packs(check: Callable[..., None], model_dir: Path, *, full: bool) -> None:
    """One check for the model pack list, then one per registered pack (re-hashed only when ``full``)."""
    from tbdesktop.services.model_packs import PackManifest, list_packs, verify_pack

    packs: tuple[PackManifest, ...] = ()

    def registry() -> str:
        nonlocal packs
        packs = list_packs(model_dir)
        return f"{len(packs)} registered in {model_dir}" if packs else f"none registered in {model_dir}"

    check("model packs", registry)
    for pack in packs:

        def one(pack: PackManifest = pack) -> str:
            result = verify_pack(model_dir, pack, full=full)
            if not result.ok:
                raise TBError(result.summary())
            return result.summary()

        check(f"model pack {pack.name}", one)


def add_selftest_command(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("selftest", parents=[common], help="check engine, database, model and audio devices")
    p.add_argument(
        "--verify-packs", action="store_true", help="re-hash every file of the model packs (slow for large models)"
    )
    p.set_defaults(func=cmd_selftest)
