"""Settings: a JSON file in the user config dir, overridden by TB_* environment variables, under the clinic's
managed settings (tbdesktop.policy), which nothing here can loosen."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from tbdesktop.policy import (
    NO_POLICY,
    NOT_POLICY_SETTINGS,
    NOTES_BACKENDS,
    TRANSCRIPTION_BACKENDS,
    Policy,
    PolicyError,
    load_effective_policy,
    program_data,
)

APP_NAME = "TherapyBridge"
APP_AUTHOR = "TherapyBridge"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def default_secrets_dir() -> Path:
    """The profiles' encrypted secret stores (machines without an OS keyring): beside the settings, not the data."""
    return default_config_dir() / "secrets"


def default_model_dir() -> Path:
    """Machine-wide model packs (``tbdesktop model add``): shared by every account, written by IT."""
    import sys

    if sys.platform == "win32":
        return program_data() / "TherapyBridge" / "models"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/TherapyBridge/models")
    return Path("/var/lib/TherapyBridge/models")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    secrets_dir: Path = field(default_factory=default_secrets_dir)
    secret_store: str = "auto"  # auto: the OS keyring when there is one, else the passcode-encrypted store
    database_url: str = ""
    asr_backend: str = "local"
    asr_model: str = "base"
    asr_device: str = "auto"
    asr_compute_type: str = "auto"
    asr_language: str = ""
    asr_threads: int = 0
    asr_beam_size: int = 0
    diarization_backend: str = "local"
    pyannote_model_dir: str = ""
    notes_backend: str = "local"  # local (transcript draft) | llm (a GGUF model here) | openai (a chat server)
    notes_base_url: str = ""  # an OpenAI-compatible chat server; empty: openai_base_url
    notes_model: str = ""  # llm: the GGUF file's path; openai: the server's model name
    notes_threads: int = 0  # llm: CPU threads (0: every core)
    notes_gpu_layers: int = 999  # llm: layers offloaded when the runtime has a GPU (0: CPU only)
    notes_context: int = 8192  # llm: the context size in tokens
    openai_base_url: str = ""
    openai_model: str = ""
    max_duration_min: float = 240.0
    workers: int = 0  # jobs processed at once; 0: as many as this workstation runs well (processing/capacity.py)
    model_dir: Path = field(default_factory=default_model_dir)  # machine-wide model packs
    # The clinic's managed settings in force (tbdesktop.policy); never written to a settings file.
    policy: Policy = field(default=NO_POLICY, compare=False, repr=False)

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tbdesktop.sqlite3').as_posix()}"

    @property
    def max_duration_s(self) -> float:
        return float(self.max_duration_min) * 60.0

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "policy"}
        out["model_dir"] = str(self.model_dir)
        out["data_dir"] = str(self.data_dir)
        out["cache_dir"] = str(self.cache_dir)
        out["secrets_dir"] = str(self.secrets_dir)
        return out


_ENV_PREFIX = "TB_"


def setting_fields() -> tuple[str, ...]:
    """The names a settings file, a TB_* variable or a policy's "settings" may set."""
    return tuple(f.name for f in fields(Settings) if f.name != "policy")


def _coerce(name: str, raw: Any, template: Settings) -> Any:
    current = getattr(template, name)
    if isinstance(current, Path):
        return Path(str(raw)).expanduser()
    if isinstance(current, bool):
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return str(raw)


def settings_file(config_dir: Path | None = None) -> Path:
    return (config_dir or default_config_dir()) / "settings.json"


@dataclass(frozen=True)
class SettingSource:
    """One setting as it applies: its value, where that came from, and what was overridden on the way."""

    name: str
    value: Any
    source: str  # "default", "settings file <path>", "environment TB_X", "command line", "clinic policy <path>"
    notes: tuple[str, ...] = ()

    @property
    def shown_value(self) -> str:
        """The value as text, a database password masked."""
        text = mask_url(str(self.value)) if self.name == "database_url" else str(self.value)
        return text if text else "(empty)"

    def to_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Path):
            value = str(value)
        elif self.name == "database_url":
            value = mask_url(str(value))
        return {"name": self.name, "value": value, "source": self.source, "notes": list(self.notes)}


def mask_url(url: str) -> str:
    """A URL with its password replaced by ``***`` (``postgresql://user:***@host/db``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{tail}"


def load_settings(
    *,
    data_dir: Path | None = None,
    config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    machine_file: Path | None = None,
) -> Settings:
    """Defaults < settings file < environment < explicit arguments < the clinic's policy.

    ``policy``: the policy to apply; by default the one in force on this machine (``machine_file`` or the
    platform's policy file, else ``TB_POLICY_FILE`` of ``env``), which raises ``PolicyError`` when it is broken.
    Pass ``NO_POLICY`` for a settings file's own values.
    """
    return _resolve(data_dir, config_dir, env, policy, machine_file)[0]


def settings_provenance(
    *,
    data_dir: Path | None = None,
    config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    machine_file: Path | None = None,
) -> tuple[Settings, list[SettingSource]]:
    """The settings ``load_settings`` gives, and for every setting its value and where it came from."""
    settings, sources = _resolve(data_dir, config_dir, env, policy, machine_file)
    return settings, [sources[name] for name in setting_fields()]


def _describe(value: Any, name: str) -> str:
    return mask_url(str(value)) if name == "database_url" else str(value)


def _resolve(
    data_dir: Path | None,
    config_dir: Path | None,
    env: Mapping[str, str] | None,
    policy: Policy | None,
    machine_file: Path | None,
) -> tuple[Settings, dict[str, SettingSource]]:
    env = dict(os.environ) if env is None else dict(env)
    if policy is None:
        policy = load_effective_policy(env, machine_file)
    base = Settings()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    attempts: dict[str, list[str]] = {}  # name → who set it before the policy, as "TB_X=value" / "--data-dir"
    path = settings_file(config_dir)
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict):
            for name in setting_fields():
                if name in stored and stored[name] not in (None, ""):
                    values[name] = _coerce(name, stored[name], base)
                    sources[name] = f"settings file {path}"
                    attempts[name] = [f"the settings file's {name}={_describe(stored[name], name)}"]
    for name in setting_fields():
        key = _ENV_PREFIX + name.upper()
        if env.get(key):
            values[name] = _coerce(name, env[key], base)
            sources[name] = f"environment {key}"
            attempts.setdefault(name, []).append(f"{key}={_describe(env[key], name)}")
    if data_dir is not None:
        values["data_dir"] = Path(data_dir).expanduser()
        sources["data_dir"] = "command line"
        attempts.setdefault("data_dir", []).append(f"--data-dir {data_dir}")
    notes: dict[str, list[str]] = {}
    if policy.active:
        _apply_policy(policy, base, values, sources, attempts, notes)
    settings = replace(base, **values, policy=policy)
    out = {
        name: SettingSource(name, getattr(settings, name), sources.get(name, "default"), tuple(notes.get(name, ())))
        for name in setting_fields()
    }
    return settings, out


def _policy_value(policy: Policy, name: str, raw: Any, base: Settings) -> Any:
    """A policy "settings" value checked against the setting's type; PolicyError names the file."""
    where = f"The clinic policy file {policy.source} is not valid:"
    if name not in setting_fields() or name in NOT_POLICY_SETTINGS:
        allowed = ", ".join(n for n in setting_fields() if n not in NOT_POLICY_SETTINGS)
        raise PolicyError(f'{where} "settings.{name}" is not a setting a policy can set (known: {allowed}).')
    current = getattr(base, name)
    if isinstance(current, bool):
        ok, kind = isinstance(raw, bool), "true or false"
    elif isinstance(current, int):
        ok, kind = isinstance(raw, int) and not isinstance(raw, bool), "a whole number"
    elif isinstance(current, float):
        ok, kind = isinstance(raw, (int, float)) and not isinstance(raw, bool), "a number"
    else:
        ok, kind = isinstance(raw, str), "a text"
    if not ok:
        raise PolicyError(f'{where} "settings.{name}" must be {kind}, not {json.dumps(raw)}.')
    if isinstance(current, Path):
        path = Path(raw).expanduser()
        if not path.is_absolute():
            raise PolicyError(f'{where} "settings.{name}" must be an absolute path.')
        return path
    if name in _BACKEND_KINDS:
        kind_name, known = _BACKEND_KINDS[name]
        if raw not in known:
            raise PolicyError(f'{where} "settings.{name}" must be one of {", ".join(known)}.')
        if not policy.allows_backend(kind_name, raw):
            raise PolicyError(
                f'{where} "settings.{name}" is {raw}, which its "allowed_backends.{kind_name}" does not allow.'
            )
    return float(raw) if isinstance(current, float) else raw


def check_policy_settings(policy: Policy) -> None:
    """Raise ``PolicyError`` when the policy's "settings" name a setting it cannot set or a value of the wrong
    type (``tbdesktop policy check``: the same checks every start makes)."""
    base = Settings()
    for name, raw in policy.settings.items():
        _policy_value(policy, name, raw, base)


_BACKEND_KINDS = {
    "asr_backend": ("transcription", TRANSCRIPTION_BACKENDS),
    "notes_backend": ("notes", NOTES_BACKENDS),
}


def _apply_policy(
    policy: Policy,
    base: Settings,
    values: dict[str, Any],
    sources: dict[str, str],
    attempts: dict[str, list[str]],
    notes: dict[str, list[str]],
) -> None:
    label = f"clinic policy {policy.source}"

    def override(name: str, value: Any, why: str) -> None:
        before = values.get(name, getattr(base, name))
        for who in attempts.get(name, []) if before != value else []:
            notes.setdefault(name, []).append(f"{who} ignored: {why}")
        values[name] = value
        sources[name] = label

    for name, raw in policy.settings.items():
        override(name, _policy_value(policy, name, raw, base), "the clinic policy sets it")
    if policy.model_dir is not None:
        override("model_dir", policy.model_dir, "the clinic policy sets the model folder")
    current = replace(base, **values)
    clinic = policy.clinic_server
    if clinic is not None and current.database_url and not clinic.names(current.database_url):
        raise PolicyError(
            f"The clinic policy {policy.source} sets the clinic server to {mask_url(clinic.url)}, and this "
            f"workstation's database setting ({sources.get('database_url', 'default')}) names another server: "
            "remove that setting (profiles join the clinic's server from Settings → Clinic), or ask IT."
        )
    for name, kind in (("asr_backend", "transcription"), ("notes_backend", "notes")):
        backend = getattr(current, name)
        server = (
            current.openai_base_url if name == "asr_backend" else (current.notes_base_url or current.openai_base_url)
        )
        if policy.allows_backend(kind, backend) and (backend != "openai" or policy.allows_server(server)):
            continue
        if not policy.allows_backend(kind, backend):
            why = f"the clinic policy allows {policy.backends_text(kind)} only"
        else:
            why = f"the clinic policy allows {policy.servers_text()} only as a server"
        fallback = _fallback_backend(policy, kind, current)
        if fallback is None:
            raise PolicyError(
                f"The clinic policy {policy.source} allows {kind} with {policy.backends_text(kind)} only, through "
                f"the servers {policy.servers_text()}, and this workstation's settings name none of them: set the "
                f"{kind} server to one it allows (or ask IT)."
            )
        override(name, fallback, why)
        changed: dict[str, Any] = {name: fallback}
        current = replace(current, **changed)


def _fallback_backend(policy: Policy, kind: str, current: Settings) -> str | None:
    """What a forbidden backend becomes: local where allowed, else another allowed one that sends nothing to a
    server the policy does not list; None when there is none."""
    known = TRANSCRIPTION_BACKENDS if kind == "transcription" else NOTES_BACKENDS
    server = current.openai_base_url if kind == "transcription" else (current.notes_base_url or current.openai_base_url)
    for backend in known:
        if policy.allows_backend(kind, backend) and (backend != "openai" or policy.allows_server(server)):
            return backend
    return None


def save_settings(settings: Settings, config_dir: Path | None = None) -> Path:
    path = settings_file(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.to_json()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
