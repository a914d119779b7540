"""Settings: a JSON file in the user config dir, overridden by TB_* environment variables."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from tbdesktop.policy import NO_POLICY, Policy

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
        return Path(os.environ.get("ProgramData") or r"C:\ProgramData") / "TherapyBridge" / "models"
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


def load_settings(
    *,
    data_dir: Path | None = None,
    config_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Defaults < settings file < environment < explicit arguments."""
    env = dict(os.environ) if env is None else env
    base = Settings()
    values: dict[str, Any] = {}
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
    for name in setting_fields():
        key = _ENV_PREFIX + name.upper()
        if env.get(key):
            values[name] = _coerce(name, env[key], base)
    if data_dir is not None:
        values["data_dir"] = Path(data_dir).expanduser()
    return replace(base, **values)


def save_settings(settings: Settings, config_dir: Path | None = None) -> Path:
    path = settings_file(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.to_json()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
