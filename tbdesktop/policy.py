"""The clinic's managed settings: one machine-wide policy file that IT writes once for every account.

Linux ``/etc/TherapyBridge/policy.json``, Windows ``%ProgramData%\\TherapyBridge\\policy.json``, macOS
``/Library/Application Support/TherapyBridge/policy.json``. What it sets is locked: user settings, environment
variables and command-line options cannot loosen it. ``TB_POLICY_FILE`` names a policy file to use only where the
machine has none (to try a policy before deploying it); it never replaces or weakens the machine's file.

A policy file that cannot be read or is not valid stops the app with a message naming the file and the mistake: a
typo must never silently drop a lock.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from tbdesktop.errors import TBError

POLICY_FILENAME = "policy.json"
POLICY_ENV = "TB_POLICY_FILE"
MAX_POLICY_BYTES = 1 << 20
LOCKED_TEXT = "Set by your clinic's IT"
TRANSCRIPTION_BACKENDS = ("local", "openai")
NOTES_BACKENDS = ("local", "llm", "openai")
# Settings a policy's "settings" object may not set: where each account keeps its own data and secrets.
NOT_POLICY_SETTINGS = frozenset({"data_dir", "secrets_dir", "policy"})
MAX_DAYS = 36500
MAX_IDLE_LOCK_MINUTES = 24 * 60


class PolicyError(TBError):
    """The policy file is unreadable or not valid; the message names the file and what to fix."""


@dataclass(frozen=True)
class ClinicServer:
    """The clinic database every profile on this machine joins (``clinic join`` / Settings → Clinic)."""

    url: str
    ca_file: str | None = None

    def names(self, url: str) -> bool:
        """Whether ``url`` (a postgresql:// address) is this server's database: same host, port and name."""
        return database_identity(url) == database_identity(self.url)


def database_identity(url: str) -> tuple[str, int, str] | None:
    """(host, port, database) of a postgresql:// address; None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 5432
    except ValueError:
        return None
    if not parts.scheme.startswith("postgres") or not parts.hostname:
        return None
    return parts.hostname.lower(), port, parts.path.lstrip("/")


@dataclass(frozen=True)
class Policy:
    """What IT set for this machine. A field left ``None`` is not managed (the user decides)."""

    source: Path | None = None  # the file it came from; None: this machine has no policy
    clinic_server: ClinicServer | None = None
    model_dir: Path | None = None  # where machine-wide model packs live
    allowed_transcription: tuple[str, ...] | None = None  # backends allowed; None: any
    allowed_notes: tuple[str, ...] | None = None
    allowed_servers: tuple[str, ...] | None = None  # http(s) origins an "openai" backend may use; None: any
    min_recording_days: int | None = None  # retention: a recording is kept at least this long after processing
    min_transcript_days: int | None = None  # retention: a transcript is kept at least this long after signing
    idle_lock_max_minutes: int | None = None  # the idle lock is on, after at most this many minutes
    consent_required: bool | None = None  # True: consent must be recorded before processing, for every profile
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # locked Settings values

    @property
    def active(self) -> bool:
        return self.source is not None

    def allows_backend(self, kind: str, backend: str) -> bool:
        """``kind`` is "transcription" or "notes"."""
        allowed = self.allowed_transcription if kind == "transcription" else self.allowed_notes
        return allowed is None or backend in allowed

    def allows_server(self, url: str) -> bool:
        """Whether an OpenAI-compatible server at ``url`` may be used (same scheme, host and port as one listed)."""
        if self.allowed_servers is None:
            return True
        origin = server_origin(url)
        return origin is not None and origin in self.allowed_servers

    # -- what applies: a user's own value, never looser than the policy ------------------------------------

    def requires_consent(self, user_setting: bool) -> bool:
        """Whether a session needs recorded consent before it is processed: the policy's or the user's setting."""
        return bool(self.consent_required) or bool(user_setting)

    def idle_lock_minutes(self, user_setting: int) -> int:
        """The idle lock in force: 0 (never) or a longer time than the maximum become the maximum."""
        limit = self.idle_lock_max_minutes
        if limit is None:
            return user_setting
        return limit if user_setting <= 0 else min(user_setting, limit)

    def retention_days(self, kind: str, user_setting: int | None) -> int | None:
        """``kind`` is "recordings" or "transcripts"; a user's value below the minimum is raised to it (None, keep
        them, stays None: keeping longer is never looser)."""
        minimum = self.min_recording_days if kind == "recordings" else self.min_transcript_days
        if user_setting is None or minimum is None:
            return user_setting
        return max(user_setting, minimum)

    def backends_text(self, kind: str) -> str:
        """What IT allows for ``kind``, in words: "local" or "local or openai"."""
        allowed = self.allowed_transcription if kind == "transcription" else self.allowed_notes
        return " or ".join(allowed) if allowed else "any"

    def servers_text(self) -> str:
        if self.allowed_servers is None:
            return "any"
        return ", ".join(self.allowed_servers) if self.allowed_servers else "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source) if self.source else None,
            "clinic_server": (
                {"url": self.clinic_server.url, "ca_file": self.clinic_server.ca_file} if self.clinic_server else None
            ),
            "model_dir": str(self.model_dir) if self.model_dir else None,
            "allowed_backends": {
                "transcription": list(self.allowed_transcription) if self.allowed_transcription is not None else None,
                "notes": list(self.allowed_notes) if self.allowed_notes is not None else None,
            },
            "allowed_servers": list(self.allowed_servers) if self.allowed_servers is not None else None,
            "min_retention_days": {"recordings": self.min_recording_days, "transcripts": self.min_transcript_days},
            "idle_lock_max_minutes": self.idle_lock_max_minutes,
            "consent_required": self.consent_required,
            "settings": dict(self.settings),
        }


NO_POLICY = Policy()


def program_data() -> Path:
    """Windows' machine-wide application data folder (``%ProgramData%``), asked of the system rather than read
    from the environment, which every user can change."""
    if sys.platform == "win32":
        import ctypes

        buffer = ctypes.create_unicode_buffer(1024)
        if ctypes.windll.shell32.SHGetFolderPathW(None, 0x23, None, 0, buffer) == 0 and buffer.value:  # COMMON_APPDATA
            return Path(buffer.value)
    return Path(r"C:\ProgramData")


def machine_policy_file() -> Path:
    """Where IT puts the policy on this platform."""
    if sys.platform == "win32":
        return program_data() / "TherapyBridge" / POLICY_FILENAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support/TherapyBridge") / POLICY_FILENAME
    return Path("/etc/TherapyBridge") / POLICY_FILENAME


def policy_file(env: Mapping[str, str] | None = None, machine_file: Path | None = None) -> Path | None:
    """The policy file in force: the machine's when it exists, else ``TB_POLICY_FILE`` when set, else none."""
    env = os.environ if env is None else env
    machine = machine_policy_file() if machine_file is None else machine_file
    if machine.exists():
        return machine
    named = (env.get(POLICY_ENV) or "").strip()
    return Path(named).expanduser() if named else None


def load_effective_policy(env: Mapping[str, str] | None = None, machine_file: Path | None = None) -> Policy:
    """The policy in force on this machine (``NO_POLICY`` when there is none); raises ``PolicyError``."""
    path = policy_file(env, machine_file)
    return NO_POLICY if path is None else load_policy(path)


def server_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, default ports dropped; None if not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


_KEYS = (
    "clinic_server",
    "model_dir",
    "allowed_backends",
    "allowed_servers",
    "min_retention_days",
    "idle_lock_max_minutes",
    "consent_required",
    "settings",
)


def load_policy(path: Path) -> Policy:
    """Read and check one policy file; every mistake is reported with the file's name."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(
            f"The clinic policy file {path} cannot be read ({exc.strerror or type(exc).__name__})."
        ) from exc
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"The clinic policy file {path} is too large to be a policy file.")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(f"The clinic policy file {path} is not valid JSON ({exc}).") from exc
    try:
        return parse_policy(data, path)
    except _Invalid as exc:
        raise PolicyError(f"The clinic policy file {path} is not valid: {exc}") from exc


class _Invalid(ValueError):
    pass


def parse_policy(data: Any, source: Path) -> Policy:
    if not isinstance(data, dict):
        raise _Invalid("it must be a JSON object.")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise _Invalid(f"unknown setting {', '.join(repr(k) for k in unknown)} (known: {', '.join(_KEYS)}).")
    policy = Policy(
        source=source,
        clinic_server=_clinic_server(data.get("clinic_server")),
        model_dir=_model_dir(data.get("model_dir")),
        allowed_transcription=_backends(data.get("allowed_backends"), "transcription", TRANSCRIPTION_BACKENDS),
        allowed_notes=_backends(data.get("allowed_backends"), "notes", NOTES_BACKENDS),
        allowed_servers=_servers(data.get("allowed_servers")),
        min_recording_days=_retention(data.get("min_retention_days"), "recordings"),
        min_transcript_days=_retention(data.get("min_retention_days"), "transcripts"),
        idle_lock_max_minutes=_int(
            data.get("idle_lock_max_minutes"), "idle_lock_max_minutes", 1, MAX_IDLE_LOCK_MINUTES
        ),
        consent_required=_consent(data.get("consent_required")),
        settings=MappingProxyType(_settings(data.get("settings"))),
    )
    if policy.allowed_servers == ():
        for kind, allowed in (("transcription", policy.allowed_transcription), ("notes", policy.allowed_notes)):
            if allowed == ("openai",):
                raise _Invalid(f'"allowed_backends.{kind}" allows openai only, and "allowed_servers" allows no server.')
    return policy


def _clinic_server(value: Any) -> ClinicServer | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict) or set(value) - {"url", "ca_file"}:
        raise _Invalid('"clinic_server" must be {"url": "postgresql://…", "ca_file": "/path/ca.pem"}.')
    url = value.get("url")
    if not isinstance(url, str) or not url.strip().startswith(
        ("postgresql://", "postgresql+psycopg://", "postgres://")
    ):
        raise _Invalid('"clinic_server.url" must be a postgresql:// address.')
    ca_file = value.get("ca_file")
    if ca_file is not None and (not isinstance(ca_file, str) or not ca_file.strip()):
        raise _Invalid('"clinic_server.ca_file" must be the path of the clinic\'s CA certificate.')
    return ClinicServer(url=url.strip(), ca_file=ca_file.strip() if ca_file else None)


def _model_dir(value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid('"model_dir" must be a folder path.')
    path = Path(value.strip()).expanduser()
    if not path.is_absolute():
        raise _Invalid('"model_dir" must be an absolute path.')
    return path


def _backends(value: Any, kind: str, known: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"transcription", "notes"}:
        raise _Invalid('"allowed_backends" must be {"transcription": [...], "notes": [...]}.')
    names = value.get(kind)
    if names is None:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Invalid(f'"allowed_backends.{kind}" must be a non-empty list of {", ".join(known)}.')
    bad = [n for n in names if n not in known]
    if bad:
        raise _Invalid(f'"allowed_backends.{kind}" has unknown backend {", ".join(bad)} (known: {", ".join(known)}).')
    return tuple(dict.fromkeys(names))


def _servers(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid('"allowed_servers" must be a list of http(s) addresses ([] allows none).')
    out = []
    for url in value:
        origin = server_origin(url)
        if origin is None:
            raise _Invalid(f'"allowed_servers" entry {url!r} is not an http:// or https:// address.')
        out.append(origin)
    return tuple(dict.fromkeys(out))


def _int(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(f'"{name}" must be a whole number from {low} to {high}.')
    return value


def _retention(value: Any, kind: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"recordings", "transcripts"}:
        raise _Invalid('"min_retention_days" must be {"recordings": days, "transcripts": days}.')
    return _int(value.get(kind), f"min_retention_days.{kind}", 0, MAX_DAYS)


def _consent(value: Any) -> bool | None:
    if value is None or value is False:
        return None  # false: not managed (each therapist decides)
    if value is True:
        return True
    raise _Invalid('"consent_required" must be true or false.')


def _settings(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid('"settings" must be an object of setting names and values.')
    # The names are checked against the settings by tbdesktop.config when it applies the policy.
    for name, v in value.items():
        if not isinstance(v, (str, int, float, bool)) or v is None:
            raise _Invalid(f'"settings.{name}" must be a text, number or true/false.')
    return dict(value)
