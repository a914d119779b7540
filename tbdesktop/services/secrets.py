"""Secrets (API keys, the recordings' master keys): never in settings files, the database or plain text.

Where the computer has an OS keyring (macOS Keychain, Windows Credential Locker, Secret Service), secrets live
there. Where it has none (servers, CI, minimal Linux) — or where IT chooses ``secret_store = "file"`` — each
profile has its own encrypted secret file: AES-256-GCM under a key derived from the profile's passcode with
argon2id, so the file opens only once that profile's passcode is entered (the GUI asks at start; the CLI takes
``TB_PASSCODE`` or prompts).

Names: an API key is a workstation secret in the OS keyring and a profile secret in the file store; a name asked
for with ``user_id`` (a recordings master key) always belongs to that profile.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets as _random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError

log = logging.getLogger(__name__)

SERVICE = "TherapyBridge"
STORE_FORMAT = "tbdesktop-secrets"
STORE_VERSION = 1
STORE_SUFFIX = ".tbsecrets"
# argon2id: about a tenth of a second and 64 MiB on a workstation, per unlock.
KDF_TIME_COST = 3
KDF_MEMORY_KIB = 64 * 1024
KDF_PARALLELISM = 2

PasscodeProvider = Callable[[uuid.UUID], str | None]


class SecretStoreError(TBError):
    pass


class SecretsLockedError(SecretStoreError):
    """The profile's encrypted secret store needs its passcode first."""


class WrongPasscodeError(SecretStoreError):
    pass


def os_keyring_available() -> bool:
    """Whether keyring found a real backend (an OS keyring, or one a test or IT selected explicitly)."""
    import keyring
    from keyring.backends import chainer, fail

    try:
        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return type(backend).__module__ != "keyring.backends.null"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _derive_key(passcode: str, salt: bytes, kdf: dict[str, Any]) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    return bytes(
        hash_secret_raw(
            passcode.encode("utf-8"),
            salt,
            time_cost=int(kdf["time_cost"]),
            memory_cost=int(kdf["memory_cost"]),
            parallelism=int(kdf["parallelism"]),
            hash_len=32,
            type=Type.ID,
        )
    )


def try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows workstations
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def unlock_fd(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows workstations
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def file_lock(
    path: Path, timeout_s: float = 30.0, busy: Callable[[], Exception] | None = None, mode: int = 0o600
) -> Iterator[None]:
    """An exclusive lock between processes (the GUI and a CLI command may run at once); ``busy`` is the error
    raised when it is still held after ``timeout_s``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        deadline = time.monotonic() + timeout_s
        while not try_lock(fd):
            if time.monotonic() > deadline:
                raise busy() if busy is not None else SecretStoreError("The secret store is busy; try again.")
            time.sleep(0.05)
        try:
            yield
        finally:
            unlock_fd(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Atomically, readable by this account only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        try:
            path.parent.chmod(0o700)
        except OSError:
            pass
    tmp = path.with_name(f".{path.name}.{_random.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class EncryptedSecretFile:
    """One profile's secrets, in a file that only its passcode opens."""

    def __init__(self, path: Path, user_id: uuid.UUID, key: bytes, salt: bytes, kdf: dict[str, Any]) -> None:
        self.path = path
        self.user_id = user_id
        self._key = key
        self._salt = salt
        self._kdf = kdf

    # -- opening ----------------------------------------------------------------------------------------

    @staticmethod
    def _header(user_id: uuid.UUID, salt: bytes, kdf: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": STORE_FORMAT,
            "version": STORE_VERSION,
            "profile": str(user_id),
            "kdf": {**kdf, "salt": _b64(salt)},
        }

    @staticmethod
    def _aad(header: dict[str, Any]) -> bytes:
        return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def _read(cls, path: Path) -> dict[str, Any]:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretStoreError("The secret store on this computer cannot be read.") from exc
        if not isinstance(doc, dict) or doc.get("format") != STORE_FORMAT:
            raise SecretStoreError("The secret store on this computer is damaged.")
        if int(doc.get("version", 0)) > STORE_VERSION:
            raise SecretStoreError("The secret store was written by a newer TherapyBridge.")
        return doc

    @classmethod
    def open(cls, path: Path, user_id: uuid.UUID, passcode: str) -> EncryptedSecretFile:
        """Open the profile's store with its passcode; a missing store is created empty."""
        if not path.exists():
            kdf = {
                "name": "argon2id",
                "time_cost": KDF_TIME_COST,
                "memory_cost": KDF_MEMORY_KIB,
                "parallelism": KDF_PARALLELISM,
            }
            salt = os.urandom(16)
            store = cls(path, user_id, _derive_key(passcode, salt, kdf), salt, kdf)
            store._save({})
            return store
        doc = cls._read(path)
        kdf_doc = dict(doc.get("kdf") or {})
        salt = _unb64(str(kdf_doc.pop("salt", "")))
        store = cls(path, user_id, _derive_key(passcode, salt, kdf_doc), salt, kdf_doc)
        store._load()  # proves the passcode
        return store

    # -- content ----------------------------------------------------------------------------------------

    def _load(self) -> dict[str, str]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        doc = self._read(self.path)
        kdf_doc = dict(doc.get("kdf") or {})
        salt = _unb64(str(kdf_doc.pop("salt", "")))
        if salt != self._salt:
            raise SecretsLockedError("The passcode was changed elsewhere: enter it again to unlock.")
        header: dict[str, Any] = {k: doc[k] for k in ("format", "version", "profile", "kdf") if k in doc}
        if header.get("profile") != str(self.user_id):
            raise SecretStoreError("The secret store belongs to another profile.")
        try:
            plain = AESGCM(self._key).decrypt(_unb64(doc["nonce"]), _unb64(doc["ciphertext"]), self._aad(header))
        except InvalidTag:
            raise WrongPasscodeError("That passcode is not right.") from None
        except (KeyError, ValueError) as exc:
            raise SecretStoreError("The secret store on this computer is damaged.") from exc
        values = json.loads(plain.decode("utf-8")).get("secrets", {})
        return {str(k): str(v) for k, v in values.items()}

    def _save(self, values: dict[str, str]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        header = self._header(self.user_id, self._salt, self._kdf)
        nonce = os.urandom(12)
        plain = json.dumps({"secrets": values}).encode("utf-8")
        doc = {
            **header,
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(self._key).encrypt(nonce, plain, self._aad(header))),
        }
        _write_private(self.path, json.dumps(doc, indent=1).encode("utf-8"))

    def get(self, name: str) -> str | None:
        return self._load().get(name)

    def names(self) -> list[str]:
        return sorted(self._load())

    def set(self, name: str, value: str) -> None:
        values = self._load()  # re-read: another process may have written since
        values[name] = value
        self._save(values)

    def delete(self, name: str) -> None:
        values = self._load()
        if values.pop(name, None) is not None:
            self._save(values)

    def rekey(self, new_passcode: str) -> None:
        """The same secrets under a key derived from a new passcode (and a new salt)."""
        values = self._load()
        self._salt = os.urandom(16)
        self._key = _derive_key(new_passcode, self._salt, self._kdf)
        self._save(values)


class SecretVault:
    """Where this process reads and writes secrets: the OS keyring, or the profiles' encrypted files."""

    def __init__(self, directory: Path, mode: str = "auto") -> None:
        if mode not in {"auto", "keyring", "file"}:
            raise SecretStoreError(f"Unknown secret store '{mode}' (auto, keyring or file).")
        self.directory = Path(directory)
        if mode == "auto":
            mode = "keyring" if os_keyring_available() else "file"
        elif mode == "keyring" and not os_keyring_available():
            raise SecretStoreError("No OS keyring is available on this computer (secret_store = keyring).")
        self.mode = mode
        self._open: dict[uuid.UUID, EncryptedSecretFile] = {}
        self._current: uuid.UUID | None = None
        self.passcode_provider: PasscodeProvider | None = None

    @property
    def uses_os_keyring(self) -> bool:
        return self.mode == "keyring"

    def store_path(self, user_id: uuid.UUID) -> Path:
        return self.directory / f"{user_id}{STORE_SUFFIX}"

    def lock_path(self) -> Path:
        return self.directory / ".lock"

    # -- unlocking --------------------------------------------------------------------------------------

    def needs_passcode(self, user_id: uuid.UUID) -> bool:
        """True when secrets for this profile can only be reached once its passcode is entered."""
        return self.mode == "file" and user_id not in self._open

    def unlock(self, user_id: uuid.UUID, passcode: str) -> None:
        """Select the profile whose secrets are used; in file mode, open its store with the passcode."""
        self._current = user_id
        if self.mode != "file":
            return
        if not passcode:
            raise SecretsLockedError("A passcode is needed to open this profile's secret store.")
        with file_lock(self.lock_path()):
            self._open[user_id] = EncryptedSecretFile.open(self.store_path(user_id), user_id, passcode)
        log.info("secret store unlocked")

    def select(self, user_id: uuid.UUID) -> None:
        """The profile whose secrets unnamed lookups use (the signed-in one)."""
        self._current = user_id

    def lock(self, user_id: uuid.UUID | None = None) -> None:
        if user_id is None:
            self._open.clear()
        else:
            self._open.pop(user_id, None)

    def change_passcode(self, user_id: uuid.UUID, old: str | None, new: str) -> None:
        """Re-encrypt the profile's store under its new passcode (file mode; nothing to do with a keyring)."""
        if self.mode != "file":
            return
        with file_lock(self.lock_path()):
            store = self._open.get(user_id)
            path = self.store_path(user_id)
            if store is None and path.exists():
                if not old:
                    raise SecretsLockedError("Enter the current passcode first.")
                store = EncryptedSecretFile.open(path, user_id, old)
            if store is None:
                store = EncryptedSecretFile.open(path, user_id, new)
            else:
                store.rekey(new)
            self._open[user_id] = store

    def _store(self, user_id: uuid.UUID | None) -> EncryptedSecretFile:
        owner = user_id or self._current
        if owner is None:
            raise SecretsLockedError("Sign in to a profile to use its secret store.")
        store = self._open.get(owner)
        if store is None and self.passcode_provider is not None:
            passcode = self.passcode_provider(owner)
            if passcode:
                self.unlock(owner, passcode)
                if user_id is None:
                    self._current = owner
                store = self._open.get(owner)
        if store is None:
            raise SecretsLockedError(
                "This computer has no OS keyring, so keys are kept in an encrypted store that opens with your "
                "profile's passcode. Unlock the app (or set TB_PASSCODE for the command line)."
            )
        return store

    # -- reading and writing ----------------------------------------------------------------------------

    @staticmethod
    def _keyring_name(name: str, user_id: uuid.UUID | None) -> str:
        return f"{name}:{user_id}" if user_id is not None else name

    def get(self, name: str, *, user_id: uuid.UUID | None = None) -> str | None:
        if self.mode == "file":
            return self._store(user_id).get(name)
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, self._keyring_name(name, user_id))
        except KeyringError as exc:
            raise SecretStoreError("The OS keyring could not be read.") from exc
        return None if value is None else str(value)

    def set(self, name: str, value: str, *, user_id: uuid.UUID | None = None) -> None:
        if self.mode == "file":
            store = self._store(user_id)
            with file_lock(self.lock_path()):
                store.set(name, value)
            return
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(SERVICE, self._keyring_name(name, user_id), value)
        except KeyringError as exc:
            raise SecretStoreError("The OS keyring refused the key, so it was not saved.") from exc

    def delete(self, name: str, *, user_id: uuid.UUID | None = None) -> None:
        if self.mode == "file":
            store = self._store(user_id)
            with file_lock(self.lock_path()):
                store.delete(name)
            return
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, self._keyring_name(name, user_id))
        except PasswordDeleteError:
            pass
        except KeyringError as exc:
            raise SecretStoreError("The OS keyring could not be reached.") from exc

    def get_or_create(self, name: str, make: Callable[[], str], *, user_id: uuid.UUID | None = None) -> str:
        """The secret, created with ``make()`` when missing — once, even with two processes racing."""
        value = self.get(name, user_id=user_id)
        if value is not None:
            return value
        with file_lock(self.directory / ".create.lock"):
            value = self.get(name, user_id=user_id)
            if value is None:
                value = make()
                self.set(name, value, user_id=user_id)
            return value

    def optional(self, name: str) -> str | None:
        """An API key when one can be read; None when the store is locked or unreachable (logged)."""
        try:
            return self.get(name)
        except SecretStoreError as exc:
            log.warning("secret not available", extra={"error_type": type(exc).__name__})
            return None
