"""The application context: settings, database and workstation identity, wired once per process."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbdesktop.config import Settings
from tbdesktop.errors import TBError
from tbdesktop.services import leftovers, upgrade
from tbdesktop.services.database_keys import Credentials, DatabaseKeys
from tbdesktop.services.recording_vault import RecordingVault
from tbdesktop.services.secrets import SecretVault
from tbdesktop.store import builtin_templates, sync_capture
from tbdesktop.store.db import Database, sqlite_file

log = logging.getLogger(__name__)


def engine_options(settings: Settings, secrets: SecretVault | None = None, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of ``engine.pipeline.PipelineOptions`` from the settings (plain data).

    The API key of a remote transcription service comes from the secret store, never from a settings file.
    """
    from tbdesktop.services.model_packs import resolve_model_setting

    s = settings
    options: dict[str, Any] = {
        "cache_dir": str(s.cache_dir),
        "model": s.asr_model,
        "device": s.asr_device,
        "compute_type": s.asr_compute_type,
        "language": s.asr_language or None,
        "cpu_threads": s.asr_threads,
        "beam_size": s.asr_beam_size,
        "max_duration_s": s.max_duration_s,
        "asr_backend": s.asr_backend,
        "diarization_backend": s.diarization_backend,
        "pyannote_model_dir": s.pyannote_model_dir,
    }
    if s.asr_backend == "openai":
        options["openai_base_url"] = s.openai_base_url
        options["openai_model"] = s.openai_model
        options["openai_api_key"] = secrets.optional(OPENAI_KEY_NAME) if secrets is not None else None
    options.update({k: v for k, v in overrides.items() if v is not None})
    # a model pack's name (tbdesktop model add) stands for its folder in the machine-wide model folder
    if options["asr_backend"] == "local" and isinstance(options.get("model"), str):
        options["model"] = resolve_model_setting(s.model_dir, options["model"], "speech")
    if options["diarization_backend"] == "pyannote" and isinstance(options.get("pyannote_model_dir"), str):
        options["pyannote_model_dir"] = resolve_model_setting(s.model_dir, options["pyannote_model_dir"], "diarization")
    return options


OPENAI_KEY_NAME = "openai_api_key"
NOTES_KEY_NAME = "notes_api_key"


def notes_options(settings: Settings, secrets: SecretVault) -> dict[str, Any]:
    """How the worker writes notes: ``local`` (offline draft), ``llm`` (a GGUF model on this workstation) or an
    OpenAI-compatible chat server.

    The key is read from the secret store (``notes_api_key``, else ``openai_api_key``) and only sent to the
    worker."""
    if settings.notes_backend == "llm":
        from tbdesktop.services.model_packs import resolve_model_setting

        model = resolve_model_setting(settings.model_dir, settings.notes_model, "notes")  # a pack's name, or a path
        return {
            "backend": "llm",
            "model_path": str(Path(model).expanduser()) if model else "",
            "threads": settings.notes_threads,
            "gpu_layers": settings.notes_gpu_layers,
            "context_tokens": settings.notes_context,
        }
    if settings.notes_backend != "openai":
        return {"backend": "local"}
    return {
        "backend": "openai",
        "base_url": settings.notes_base_url or settings.openai_base_url,
        "model": settings.notes_model,
        "api_key": secrets.optional(NOTES_KEY_NAME) or secrets.optional(OPENAI_KEY_NAME),
    }


def workstation_name() -> str:
    """How this computer is named to colleagues (e.g. "Recording kept on Room 2"); TB_WORKSTATION_NAME sets it."""
    return os.environ.get("TB_WORKSTATION_NAME", "").strip()[:200] or socket.gethostname() or "workstation"


@dataclass
class AppContext:
    settings: Settings
    db: Database
    workstation: str
    secrets: SecretVault
    recordings: RecordingVault
    database_keys: DatabaseKeys | None = None  # the local SQLite database's key (None on PostgreSQL)

    @staticmethod
    def database_keys_for(settings: Settings, secrets: SecretVault) -> DatabaseKeys | None:
        """Who can open the local database, readable before it is open (the profile list, the key slots)."""
        path = sqlite_file(settings.effective_database_url)
        return DatabaseKeys(path, secrets) if path is not None else None

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        run_migrations: bool = True,
        secrets: SecretVault | None = None,
        keys: DatabaseKeys | None = None,
        credentials: Credentials | None = None,
    ) -> AppContext:
        """The context over an open database. A local SQLite database is encrypted (ADR 0016): its key comes from
        ``keys`` once unlocked, the OS keyring, or ``credentials`` (a profile and its passcode)."""
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TBError(f"Cannot use the data folder {settings.data_dir}: {exc.strerror}.") from exc
        if os.name == "posix":
            # Recordings are PHI: keep the data folder private to this account.
            for path in (settings.data_dir, settings.recordings_dir):
                try:
                    path.chmod(0o700)
                except OSError:
                    pass
        if secrets is None:
            secrets = keys.vault if keys is not None else SecretVault(settings.secrets_dir, settings.secret_store)
        vault = secrets
        if keys is None:
            keys = cls.database_keys_for(settings, vault)
        backups = upgrade.backups_dir(settings.data_dir)
        if keys is not None:
            # a migration cut short by a crash or a power cut: its copy goes back before anything opens the file
            upgrade.recover_interrupted(keys.database, backups)
        key = keys.resolve(credentials) if keys is not None else None
        if keys is not None and keys.notice:
            log.warning("database not encrypted yet")
        db = Database(settings.effective_database_url, key)
        if run_migrations:

            def for_this_release() -> None:
                with db.unit_of_work() as s:
                    builtin_templates.sync(s)  # a new release may reword a built-in template
                sync_capture.install(db.engine)  # clinic sync: outbox triggers for this release's tables

            try:
                # an older database is copied first, migrated, and put back as it was if anything fails
                upgrade.migrate_database(
                    db, backups, companions=[keys.path] if keys is not None else [], then=for_this_release
                )
                if keys is not None:
                    keys.refresh(_profile_rows(db))
            except TBError:
                db.dispose()
                raise
            except Exception as exc:
                db.dispose()
                raise TBError(f"The database could not be prepared: {type(exc).__name__}.") from exc
        log.info("database ready", extra={"dialect": db.dialect, "encrypted": db.encrypted})
        # What a killed process left (and its jobs): removed by every entry point, before any work.
        leftovers.clean(settings, db, workstation_name())
        return cls(
            settings=settings,
            db=db,
            workstation=workstation_name(),
            secrets=vault,
            recordings=RecordingVault(settings.recordings_dir, vault),
            database_keys=keys,
        )

    @property
    def database_notice(self) -> str | None:
        """Something the user should know about the database's encryption (it had to wait), else None."""
        return self.database_keys.notice if self.database_keys is not None else None

    def refresh_database_keys(self) -> None:
        """The key file follows the profiles (names for signing in, one key slot per passcode)."""
        if self.database_keys is not None:
            self.database_keys.refresh(_profile_rows(self.db))

    def close(self) -> None:
        self.db.dispose()

    def pipeline_options(self) -> dict[str, Any]:
        """What the worker process needs to build its engine pipeline (plain data: it crosses processes)."""
        return engine_options(self.settings, self.secrets)


def _profile_rows(db: Database) -> list[tuple[Any, str, str | None, str, str | None]]:
    from tbdesktop.store.repositories import UserRepository

    with db.unit_of_work() as s:
        return [(u.id, u.display_name, u.email, u.role, u.password_hash) for u in UserRepository(s).all()]
