"""Settings the Settings page edits: this workstation's processing backends and API keys, my privacy settings.

Workstation settings live in the settings file of the user config dir (``config.save_settings``); API keys only
in the secret store; privacy settings (consent, retention, idle lock) in my profile, through the services that
own them. Backends are read when the processing worker starts, so processing changes apply after a restart.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from tbdesktop.config import Settings, default_config_dir, load_settings, save_settings, settings_file
from tbdesktop.engine.remote import http_base
from tbdesktop.errors import TBError, ValidationError
from tbdesktop.policy import LOCKED_TEXT, NO_POLICY, Policy
from tbdesktop.services.about import AboutInfo, load_about
from tbdesktop.services.context import NOTES_KEY_NAME, OPENAI_KEY_NAME, AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.notes_model import MAX_GPU_LAYERS, model_file_problem, options_problem
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.profiles import DEFAULT_IDLE_LOCK_MINUTES, ProfileService
from tbdesktop.services.retention import MAX_DAYS, RetentionService
from tbdesktop.services.secrets import SecretStoreError
from tbdesktop.services.sessions import SessionService
from tbdesktop.store.repositories import AuditRepository, UserRepository

BACKENDS = ("local", "openai")
NOTES_BACKENDS = ("local", "llm", "openai")  # llm: a GGUF model run on this workstation
API_KEY_NAMES = (OPENAI_KEY_NAME, NOTES_KEY_NAME)
MAX_IDLE_LOCK_MINUTES = 24 * 60
MAX_MODEL_LEN = 200
MAX_URL_LEN = 2000
MAX_KEY_LEN = 4096
ENV_PREFIX = "TB_"
NUMBER_FIELDS = ("notes_threads", "notes_gpu_layers", "notes_context")


class SettingsValidationError(ValidationError):
    """One or more fields are not right; ``errors`` maps each field name to what to fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class ProcessingSettings:
    """The workstation's processing backends (the worker reads them when it starts)."""

    asr_backend: str = "local"
    openai_base_url: str = ""
    openai_model: str = ""
    notes_backend: str = "local"
    notes_base_url: str = ""  # empty: the transcription server's address
    notes_model: str = ""  # llm: the GGUF file's path; openai: the server's model name
    notes_threads: int = 0  # llm: CPU threads (0: every core)
    notes_gpu_layers: int = MAX_GPU_LAYERS  # llm: layers offloaded when the runtime has a GPU (0: CPU only)
    notes_context: int = 8192  # llm: the context size in tokens

    @classmethod
    def of(cls, settings: Settings) -> ProcessingSettings:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def normalised(self) -> ProcessingSettings:
        """Text stripped, numbers as ints (a number that is not one becomes -1, which validation refuses)."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in NUMBER_FIELDS:
                try:
                    values[f.name] = int(value)
                except (TypeError, ValueError):
                    values[f.name] = -1
            else:
                values[f.name] = str(value or "").strip()
        return ProcessingSettings(**values)


@dataclass(frozen=True)
class PrivacySettings:
    """My own settings, kept in my profile."""

    consent_required: bool = True
    retention_recording_days: int | None = None  # after processing; 0 = right after; None = kept
    retention_transcript_days: int | None = None  # after the note is signed; None = kept
    idle_lock_minutes: int = DEFAULT_IDLE_LOCK_MINUTES  # 0 = never


@dataclass(frozen=True)
class SettingsView:
    """What the Settings page shows; API keys only as whether one is stored, never their value."""

    # Fields that take effect when TherapyBridge next starts (the processing worker reads them at start).
    APPLIES_AFTER_RESTART: ClassVar[frozenset[str]] = frozenset(f.name for f in fields(ProcessingSettings))

    processing: ProcessingSettings  # as saved for this workstation
    running: ProcessingSettings  # what processing uses until the next start
    next_start: ProcessingSettings  # what the next start uses: the saved settings under TB_* overrides
    env_overrides: tuple[str, ...]  # processing fields set by TB_* environment variables (they win)
    privacy: PrivacySettings
    openai_key_stored: bool | None  # None: the secret store could not be read (see secrets_problem)
    notes_key_stored: bool | None
    secrets_problem: str | None
    secrets_in_os_keyring: bool
    secrets_dir: Path
    data_dir: Path
    settings_path: Path
    # The clinic's managed settings (tbdesktop.policy). Keys are ProcessingSettings / PrivacySettings field names,
    # or "clinic_server". locked: the field cannot be changed here (the text to show, "Set by your clinic's IT");
    # limits: the field can be changed within a bound IT set (the text says the bound).
    policy: Policy = NO_POLICY
    locked: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)

    @property
    def restart_pending(self) -> bool:
        """Saved processing changes that wait for a restart."""
        return self.next_start != self.running

    def key_stored(self, name: str) -> bool | None:
        return self.openai_key_stored if name == OPENAI_KEY_NAME else self.notes_key_stored


# -- the clinic's policy ------------------------------------------------------------------------------------

BY_IT = "set by your clinic's IT"
# How the Settings page names each backend where it says what IT allows.
BACKEND_WORDS = {
    "transcription": {"local": "on this computer", "openai": "a transcription server"},
    "notes": {"local": "the offline draft", "llm": "a language model on this computer", "openai": "a notes server"},
}


def backends_in_words(kind: str, allowed: tuple[str, ...]) -> str:
    words = [BACKEND_WORDS[kind].get(name, name) for name in allowed]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def policy_marks(policy: Policy) -> tuple[dict[str, str], dict[str, str]]:
    """(locked, limits) for the Settings page: field name (or "clinic_server") → the text to show."""
    locked: dict[str, str] = {}
    limits: dict[str, str] = {}
    if not policy.active:
        return locked, limits
    processing = {f.name for f in fields(ProcessingSettings)}
    for name in policy.settings:
        if name in processing:
            locked[name] = LOCKED_TEXT
    for name, kind in (("asr_backend", "transcription"), ("notes_backend", "notes")):
        allowed = policy.allowed_transcription if kind == "transcription" else policy.allowed_notes
        if allowed is None or name in locked:
            continue
        if len(allowed) == 1:
            locked[name] = LOCKED_TEXT
        else:
            limits[name] = f"Allowed by your clinic's IT: {backends_in_words(kind, allowed)}"
    if policy.allowed_servers is not None:
        text = (
            f"Allowed by your clinic's IT: {', '.join(policy.allowed_servers)}"
            if policy.allowed_servers
            else "No server is allowed by your clinic's IT"
        )
        for name in ("openai_base_url", "notes_base_url"):
            if name not in locked:
                limits[name] = text
    if policy.consent_required:
        locked["consent_required"] = LOCKED_TEXT
    if policy.idle_lock_max_minutes is not None:
        limits["idle_lock_minutes"] = f"At most {policy.idle_lock_max_minutes} minutes ({BY_IT})"
    for name, days in (
        ("retention_recording_days", policy.min_recording_days),
        ("retention_transcript_days", policy.min_transcript_days),
    ):
        if days is not None:
            limits[name] = f"At least {days} days ({BY_IT})"
    if policy.clinic_server is not None:
        locked["clinic_server"] = LOCKED_TEXT
    return locked, limits


def _same(value: Any, other: Any) -> bool:
    return str(value).strip() == str(other).strip()


def locked_processing(policy: Policy) -> dict[str, Any]:
    """Processing fields the policy locks → the value it gives them (its "settings", or the one backend it
    allows)."""
    locks: dict[str, Any] = {n: v for n, v in policy.settings.items() if n in ProcessingSettings.__dataclass_fields__}
    for name, allowed in (("asr_backend", policy.allowed_transcription), ("notes_backend", policy.allowed_notes)):
        if allowed is not None and len(allowed) == 1:
            locks.setdefault(name, allowed[0])
    return locks


def _apply_policy(
    p: ProcessingSettings, policy: Policy, saved: ProcessingSettings | None
) -> tuple[ProcessingSettings, dict[str, str]]:
    """The settings as they will apply (each locked field at the policy's value) and what the policy refuses. A
    locked field may come back as shown, at the policy's value or the saved one; another value is refused."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    kinds = {"asr_backend": "transcription", "notes_backend": "notes"}
    for name, value in locked_processing(policy).items():
        mine = getattr(p, name)
        if _same(mine, value) or (saved is not None and _same(mine, getattr(saved, name))):
            values[name] = value
        elif name in kinds:
            errors[name] = f"Your clinic's IT allows {kinds[name]} with {policy.backends_text(kinds[name])} only."
        else:
            errors[name] = f"Your clinic's IT sets this to {value}."
    p = dataclasses.replace(p, **values)
    for name, kind in kinds.items():
        backend = getattr(p, name)
        if name not in errors and not policy.allows_backend(kind, backend):
            errors[name] = f"Your clinic's IT allows {kind} with {policy.backends_text(kind)} only."
    servers = f"Your clinic's IT allows these servers only: {policy.servers_text()}."
    if p.asr_backend == "openai" and p.openai_base_url and not policy.allows_server(p.openai_base_url):
        errors.setdefault("openai_base_url", servers)
    notes_server = p.notes_base_url or p.openai_base_url
    if p.notes_backend == "openai" and notes_server and not policy.allows_server(notes_server):
        errors.setdefault("notes_base_url" if p.notes_base_url else "openai_base_url", servers)
    return p, errors


# -- validation (pure) ------------------------------------------------------------------------------------


def validate_processing(
    p: ProcessingSettings, policy: Policy = NO_POLICY, saved: ProcessingSettings | None = None
) -> dict[str, str]:
    """Field name → what to fix; empty when the settings can be saved. Under a clinic policy a forbidden backend
    or server is refused, and so is a field it locks unless it keeps the policy's value or the one ``saved``."""
    p = p.normalised()
    errors: dict[str, str] = {}
    if policy.active:  # the rest is checked as it will apply
        p, refused = _apply_policy(p, policy, saved)
        errors.update(refused)
    if p.asr_backend not in BACKENDS:
        errors["asr_backend"] = f"Unknown transcription backend '{p.asr_backend}' (local or openai)."
    if p.notes_backend not in NOTES_BACKENDS:
        errors["notes_backend"] = f"Unknown notes backend '{p.notes_backend}' (local, llm or openai)."
    for name, label in (("openai_base_url", "transcription"), ("notes_base_url", "notes")):
        value = getattr(p, name)
        if value and (len(value) > MAX_URL_LEN or http_base(value) is None):
            errors[name] = f"The {label} server address must be an http:// or https:// URL."
    for name in ("openai_model", "notes_model"):
        path_field = p.notes_backend == "llm" and name == "notes_model"  # a file path, not a model name
        if len(getattr(p, name)) > (MAX_URL_LEN if path_field else MAX_MODEL_LEN):
            errors[name] = f"A model name has at most {MAX_MODEL_LEN} characters."
    if p.asr_backend == "openai" and not p.openai_base_url and "openai_base_url" not in errors:
        errors["openai_base_url"] = "Enter the address of the transcription server."
    if p.notes_backend == "openai":
        if not (p.notes_base_url or p.openai_base_url) and "notes_base_url" not in errors:
            errors["notes_base_url"] = "Enter the address of the notes server."
        if not p.notes_model and "notes_model" not in errors:
            errors["notes_model"] = "Enter the model the notes server should use."
    if p.notes_backend == "llm" and "notes_model" not in errors:
        problem = model_file_problem(p.notes_model)
        if problem:
            errors["notes_model"] = problem
    for name, (threads, layers, context) in (
        ("notes_threads", (p.notes_threads, 0, 8192)),
        ("notes_gpu_layers", (0, p.notes_gpu_layers, 8192)),
        ("notes_context", (0, 0, p.notes_context)),
    ):
        problem = options_problem(threads, layers, context)
        if problem:
            errors.setdefault(name, problem)
    return errors


def validate_privacy(p: PrivacySettings, policy: Policy = NO_POLICY) -> dict[str, str]:
    """Field name → what to fix; a value looser than the clinic policy is refused."""
    errors: dict[str, str] = {}
    if policy.consent_required and not p.consent_required:
        errors["consent_required"] = "Your clinic's IT requires recorded consent before a session is processed."
    limit = policy.idle_lock_max_minutes
    if limit is not None and not 0 < p.idle_lock_minutes <= limit:
        errors["idle_lock_minutes"] = f"Your clinic's IT requires the idle lock, after at most {limit} minutes."
    for name, what, minimum in (
        ("retention_recording_days", "recordings", policy.min_recording_days),
        ("retention_transcript_days", "transcripts", policy.min_transcript_days),
    ):
        value = getattr(p, name)
        if minimum is not None and value is not None and value < minimum:
            errors[name] = f"Your clinic's IT requires keeping {what} at least {minimum} days."
    for name, what in (("retention_recording_days", "recordings"), ("retention_transcript_days", "transcripts")):
        value = getattr(p, name)
        if value is not None and not 0 <= value <= MAX_DAYS:
            errors[name] = f"Keep {what} between 0 and {MAX_DAYS} days, or leave it empty to keep them."
    if not 0 <= p.idle_lock_minutes <= MAX_IDLE_LOCK_MINUTES:
        errors["idle_lock_minutes"] = f"The idle lock takes 0 (never) to {MAX_IDLE_LOCK_MINUTES} minutes."
    return errors


def _days(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


class SettingsService:
    def __init__(
        self,
        ctx: AppContext,
        user: UserInfo,
        config_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.user = user
        self.config_dir = config_dir if config_dir is not None else default_config_dir()
        self._env = env

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ if self._env is None else self._env)

    # -- reading ------------------------------------------------------------------------------------------

    async def about(self) -> AboutInfo:
        """The version, the models this workstation runs with their licences, and the bundled licence texts."""
        return await load_about(self.ctx.settings)

    @property
    def policy(self) -> Policy:
        """The clinic policy in force (read when TherapyBridge started)."""
        return self.ctx.settings.policy

    def _saved(self) -> Settings:
        """The settings file's own values: no TB_* variable, no policy value."""
        return load_settings(config_dir=self.config_dir, env={}, policy=NO_POLICY)

    def view_sync(self) -> SettingsView:
        env = self.env
        saved = self._saved()
        upcoming = load_settings(config_dir=self.config_dir, env=env, policy=self.policy)
        locks = locked_processing(self.policy)
        overrides = tuple(
            f.name
            for f in fields(ProcessingSettings)
            if env.get(ENV_PREFIX + f.name.upper()) and f.name not in locks  # a lock wins
        )
        stored: dict[str, bool | None] = {}
        problem: str | None = None
        for name in API_KEY_NAMES:
            try:
                stored[name] = self.ctx.secrets.get(name) is not None
            except SecretStoreError as exc:
                stored[name] = None
                problem = exc.message
        locked, limits = policy_marks(self.policy)
        return SettingsView(
            processing=ProcessingSettings.of(saved),
            running=ProcessingSettings.of(self.ctx.settings),
            next_start=ProcessingSettings.of(upcoming),
            env_overrides=overrides,
            privacy=self.privacy_sync(),
            openai_key_stored=stored[OPENAI_KEY_NAME],
            notes_key_stored=stored[NOTES_KEY_NAME],
            secrets_problem=problem,
            secrets_in_os_keyring=self.ctx.secrets.uses_os_keyring,
            secrets_dir=self.ctx.secrets.directory,
            data_dir=self.ctx.settings.data_dir,
            settings_path=settings_file(self.config_dir),
            policy=self.policy,
            locked=locked,
            limits=limits,
        )

    view = off_loop(view_sync)

    def privacy_sync(self) -> PrivacySettings:
        """What applies: my profile's values, made no looser than the clinic policy."""
        with self.ctx.db.unit_of_work() as s:
            stored = dict(UserRepository(s).get(self.user.id).settings or {})
        idle = stored.get("idle_lock_minutes")
        policy = self.policy
        return PrivacySettings(
            consent_required=policy.requires_consent(bool(stored.get("consent_required", True))),
            retention_recording_days=policy.retention_days("recordings", _days(stored.get("retention_recording_days"))),
            retention_transcript_days=policy.retention_days(
                "transcripts", _days(stored.get("retention_transcript_days"))
            ),
            idle_lock_minutes=policy.idle_lock_minutes(
                DEFAULT_IDLE_LOCK_MINUTES if idle is None else max(0, int(idle))
            ),
        )

    def _errors(self, processing: ProcessingSettings | None, privacy: PrivacySettings | None) -> dict[str, str]:
        errors: dict[str, str] = {}
        if processing is not None:
            errors.update(validate_processing(processing, self.policy, ProcessingSettings.of(self._saved())))
        if privacy is not None:
            errors.update(validate_privacy(privacy, self.policy))
        return errors

    # -- saving -------------------------------------------------------------------------------------------

    def save_sync(self, processing: ProcessingSettings, privacy: PrivacySettings) -> SettingsView:
        """Both parts, validated together first so that a mistake in one writes neither."""
        errors = self._errors(processing, privacy)
        if errors:
            raise SettingsValidationError(errors)
        self._write_processing(processing.normalised())
        self._write_privacy(privacy)
        return self.view_sync()

    save = off_loop(save_sync)

    def save_processing_sync(self, processing: ProcessingSettings) -> SettingsView:
        """This workstation's backends, written to the settings file; they apply when TherapyBridge next starts."""
        errors = self._errors(processing, None)
        if errors:
            raise SettingsValidationError(errors)
        self._write_processing(processing.normalised())
        return self.view_sync()

    save_processing = off_loop(save_processing_sync)

    def save_privacy_sync(self, privacy: PrivacySettings) -> SettingsView:
        errors = self._errors(None, privacy)
        if errors:
            raise SettingsValidationError(errors)
        self._write_privacy(privacy)
        return self.view_sync()

    save_privacy = off_loop(save_privacy_sync)

    def _write_processing(self, processing: ProcessingSettings) -> None:
        # The file's own values, not the running ones: TB_* overrides, start-up arguments and the clinic policy's
        # values stay out of it (a field the policy locks keeps what the file had).
        saved = self._saved()
        kept = {name: getattr(saved, name) for name in locked_processing(self.policy)}
        processing = dataclasses.replace(processing, **kept)
        if ProcessingSettings.of(saved) == processing:
            return
        try:
            save_settings(dataclasses.replace(saved, **dataclasses.asdict(processing)), self.config_dir)
        except OSError as exc:
            raise TBError(f"The settings file could not be written ({exc.strerror or type(exc).__name__}).") from exc
        with self.ctx.db.unit_of_work() as s:
            AuditRepository(s, self.user.id, self.ctx.workstation).record(
                "settings.processing", "workstation", self.ctx.workstation
            )

    def _write_privacy(self, privacy: PrivacySettings) -> None:
        current = self.privacy_sync()
        if privacy.consent_required != current.consent_required:
            SessionService(self.ctx, self.user).set_consent_required_sync(privacy.consent_required)
        if (privacy.retention_recording_days, privacy.retention_transcript_days) != (
            current.retention_recording_days,
            current.retention_transcript_days,
        ):
            RetentionService(self.ctx).set_retention_sync(
                self.user.id,
                recording_days=privacy.retention_recording_days,
                transcript_days=privacy.retention_transcript_days,
            )
        if privacy.idle_lock_minutes != current.idle_lock_minutes:
            ProfileService(self.ctx).set_idle_lock_minutes_sync(self.user.id, privacy.idle_lock_minutes)

    # -- API keys -----------------------------------------------------------------------------------------

    def set_api_key_sync(self, name: str, value: str) -> SettingsView:
        """Store an API key in the secret store (never in the settings file)."""
        self._check_key_name(name)
        key = (value or "").strip()
        if not key:
            raise ValidationError("Enter the API key to store.")
        if len(key) > MAX_KEY_LEN or any(c.isspace() for c in key):
            raise ValidationError("That does not look like an API key (no spaces, at most 4096 characters).")
        self.ctx.secrets.set(name, key)
        self._audit("settings.api_key_set", name)
        return self.view_sync()

    set_api_key = off_loop(set_api_key_sync)

    def clear_api_key_sync(self, name: str) -> SettingsView:
        self._check_key_name(name)
        self.ctx.secrets.delete(name)
        self._audit("settings.api_key_clear", name)
        return self.view_sync()

    clear_api_key = off_loop(clear_api_key_sync)

    @staticmethod
    def _check_key_name(name: str) -> None:
        if name not in API_KEY_NAMES:
            raise ValidationError(f"Unknown API key '{name}' ({' or '.join(API_KEY_NAMES)}).")

    def _audit(self, action: str, key_name: str) -> None:
        with self.ctx.db.unit_of_work() as s:
            AuditRepository(s, self.user.id, self.ctx.workstation).record(action, "secret", key_name)
