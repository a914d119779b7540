"""The key of the local SQLite database (ADR 0016): where it is kept, and who can open it.

Each local database has one random 256-bit key. With an OS keyring, that key is a workstation secret in the
keyring. Without one, it is kept in key slots, one per profile, in the key file next to the database: the key
sealed with AES-256-GCM under a key derived with argon2id from the profile's passcode (the same derivation, salt
and cost as the profile's passcode hash), so each profile's passcode opens it and nothing else does.

The key file (``tbdesktop.keys``, 0600) also lists the profiles — id, name, email, role: no client data — so the
window can offer the profile to sign in to before the database is open.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets as _random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.services.secrets import SecretVault, WrongPasscodeError, _write_private, file_lock
from tbdesktop.store import cipher

log = logging.getLogger(__name__)

KEYFILE_FORMAT = "tbdesktop-database-keys"
KEYFILE_VERSION = 1
KEYRING_NAME = "database_key"
SLOT_INFO = b"tbdesktop database key slot v1"
PREVIOUS = "/previous"  # a profile's slot under its previous passcode, until the new one is committed


class DatabaseLockedError(TBError):
    """The database is encrypted and no profile's passcode has opened it yet."""


@dataclass(frozen=True)
class ProfileEntry:
    id: uuid.UUID
    display_name: str
    email: str | None
    role: str


# Which profile signs in, and its passcode, once the profiles are known (the CLI: TB_USER and TB_PASSCODE).
Credentials = Callable[[Sequence[ProfileEntry]], tuple[uuid.UUID, str | None]]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


# -- key slots ----------------------------------------------------------------------------------------------


def _parse_hash(encoded: str) -> tuple[dict[str, int], bytes, bytes]:
    """``$argon2id$v=19$m=..,t=..,p=..$salt$hash`` → parameters, salt, raw hash."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[1] != "argon2id":
        raise ValueError("not an argon2id hash")
    params = {k: int(v) for k, v in (item.split("=") for item in parts[3].split(","))}
    params["v"] = int(parts[2].split("=")[1])
    return params, _unb64(parts[4]), _unb64(parts[5])


def _slot_key(raw_hash: bytes, database_id: str, profile_id: uuid.UUID) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = SLOT_INFO + f":{database_id}:{profile_id}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw_hash)


def _aad(database_id: str, profile_id: uuid.UUID) -> bytes:
    return f"{KEYFILE_FORMAT}:{database_id}:{profile_id}".encode()


def make_slot(key: bytes, password_hash: str, database_id: str, profile_id: uuid.UUID) -> dict[str, Any]:
    """The database key sealed under the profile's passcode (through its argon2id hash, which holds the derived
    bytes; the hash itself lives only inside the encrypted database)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    params, salt, raw = _parse_hash(password_hash)
    nonce = os.urandom(12)
    sealed = AESGCM(_slot_key(raw, database_id, profile_id)).encrypt(nonce, key, _aad(database_id, profile_id))
    return {
        "kdf": {"name": "argon2id", **params, "salt": _b64(salt), "length": len(raw)},
        "hash_salt": _b64(salt),
        "nonce": _b64(nonce),
        "sealed": _b64(sealed),
    }


def open_slot(slot: dict[str, Any], passcode: str, database_id: str, profile_id: uuid.UUID) -> bytes:
    from argon2.low_level import Type, hash_secret_raw
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kdf = slot["kdf"]
    raw = hash_secret_raw(
        passcode.encode("utf-8"),
        _unb64(kdf["salt"]),
        time_cost=int(kdf["t"]),
        memory_cost=int(kdf["m"]),
        parallelism=int(kdf["p"]),
        hash_len=int(kdf["length"]),
        type=Type.ID,
        version=int(kdf.get("v", 19)),
    )
    try:
        return bytes(
            AESGCM(_slot_key(raw, database_id, profile_id)).decrypt(
                _unb64(slot["nonce"]), _unb64(slot["sealed"]), _aad(database_id, profile_id)
            )
        )
    except InvalidTag:
        raise WrongPasscodeError("That passcode is not right.") from None


# -- the key file -------------------------------------------------------------------------------------------


@dataclass
class KeyFile:
    database_id: str
    profiles: list[ProfileEntry] = field(default_factory=list)
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> KeyFile | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise TBError(f"The database key file {path.name} cannot be read.") from exc
        if not isinstance(doc, dict) or doc.get("format") != KEYFILE_FORMAT:
            raise TBError(f"The database key file {path.name} is damaged.")
        if int(doc.get("version", 0)) > KEYFILE_VERSION:
            raise TBError("The database was encrypted by a newer TherapyBridge.")
        profiles = [
            ProfileEntry(uuid.UUID(p["id"]), str(p["display_name"]), p.get("email"), str(p["role"]))
            for p in doc.get("profiles", [])
        ]
        return cls(str(doc["database_id"]), profiles, dict(doc.get("slots") or {}))

    def save(self, path: Path) -> None:
        doc = {
            "format": KEYFILE_FORMAT,
            "version": KEYFILE_VERSION,
            "database_id": self.database_id,
            "profiles": [{**asdict(p), "id": str(p.id)} for p in self.profiles],
            "slots": self.slots,
        }
        _write_private(path, json.dumps(doc, indent=1).encode("utf-8"))


# -- the database key ---------------------------------------------------------------------------------------


class DatabaseKeys:
    """Finds (or makes) the key of one SQLite database file: from the OS keyring, or a profile's key slot."""

    def __init__(self, database: Path, vault: SecretVault) -> None:
        self.database = database
        self.vault = vault
        self.path = database.with_suffix(".keys")
        self._key: bytes | None = None
        self._keyfile: KeyFile | None = None
        self.notice: str | None = None  # what the user should know (a migration that must wait)
        self.unlocked_by: uuid.UUID | None = None  # the profile whose passcode opened the key

    # -- state --------------------------------------------------------------------------------------------

    def keyfile(self) -> KeyFile | None:
        if self._keyfile is None:
            self._keyfile = KeyFile.load(self.path)
        return self._keyfile

    def profiles(self) -> list[ProfileEntry]:
        kf = self.keyfile()
        return list(kf.profiles) if kf is not None else []

    def _keyring_name(self, kf: KeyFile) -> str:
        return f"{KEYRING_NAME}:{kf.database_id}"

    def needs_passcode(self) -> bool:
        """True when the database is encrypted and only a profile's passcode opens it (no OS keyring)."""
        if self._key is not None or cipher.file_state(self.database) != "encrypted":
            return False
        kf = self.keyfile()
        if kf is None or not kf.slots:
            return False
        if self.vault.uses_os_keyring and self.vault.get(self._keyring_name(kf)) is not None:
            return False
        return True

    @property
    def key(self) -> bytes | None:
        return self._key

    # -- unlocking ----------------------------------------------------------------------------------------

    def unlock(self, profile_id: uuid.UUID, passcode: str | None) -> None:
        """Open the database key with the profile's passcode; a wrong or empty one opens nothing."""
        kf = self.keyfile()
        if kf is None:
            raise DatabaseLockedError("The database key file is missing, so the database cannot be opened.")
        candidates = [kf.slots[k] for k in (str(profile_id), f"{profile_id}{PREVIOUS}") if k in kf.slots]
        if not candidates:
            raise DatabaseLockedError(
                "This profile has no key to the encrypted database on this computer. Sign in with a profile that "
                "has one and set this profile's passcode there."
            )
        if not passcode:
            raise DatabaseLockedError("The database is encrypted: enter your passcode to open it.")
        for i, slot in enumerate(candidates):
            try:
                self._key = open_slot(slot, passcode, kf.database_id, profile_id)
                self.unlocked_by = profile_id
                break
            except WrongPasscodeError:
                if i == len(candidates) - 1:
                    raise
        log.info("database key unlocked")

    def _lock(self) -> Any:
        """Between processes (the window and a command): one of them changes the key file at a time."""
        return file_lock(self.database.with_name(f".{self.database.name}.keylock"))

    def _reload(self) -> KeyFile | None:
        """The key file as on disk now (another process may have added a profile since it was read)."""
        self._keyfile = KeyFile.load(self.path) or self._keyfile
        return self._keyfile

    def resolve(self, credentials: Credentials | None = None) -> bytes | None:
        """The key to open the database with (made for a new database; the plaintext one of an earlier release
        is encrypted here). None only when that encryption must wait; ``notice`` then says why."""
        with self._lock():
            return self._resolve(credentials)

    def _resolve(self, credentials: Credentials | None) -> bytes | None:
        cipher.recover_interrupted(self.database)
        state = cipher.file_state(self.database)
        kf = self.keyfile()
        if state == "encrypted":
            if kf is None:
                raise TBError(
                    f"The database is encrypted but its key file ({self.path.name}) is missing from the data "
                    "folder. Restore it from the backup the database came from."
                )
            if self._key is None and self.vault.uses_os_keyring:
                stored = self.vault.get(self._keyring_name(kf))
                self._key = bytes.fromhex(stored) if stored else None
            if self._key is None and not kf.slots and not kf.profiles:
                self._discard_unopenable()
                return self._resolve(credentials)
            if self._key is None:
                if not kf.slots:
                    raise DatabaseLockedError(
                        "The database's key is not in this computer's keyring, and no profile has a passcode key "
                        "to it."
                    )
                if credentials is None:
                    raise DatabaseLockedError("The database is encrypted: enter your passcode to open it.")
                profile_id, passcode = credentials(kf.profiles)
                self.unlock(profile_id, passcode)
            return self._key
        # A new database, or a plaintext one from an earlier release: a new key.
        kf = KeyFile(database_id=kf.database_id if kf is not None else str(uuid.uuid4()))
        self._keyfile = kf
        key = self._new_key(kf)
        if state == "absent":
            kf.save(self.path)
            self._key = key
            return key
        return self._encrypt_plaintext(kf, key)

    def _new_key(self, kf: KeyFile) -> bytes:
        if self.vault.uses_os_keyring:
            stored = self.vault.get_or_create(self._keyring_name(kf), lambda: _random.token_hex(cipher.KEY_BYTES))
            return bytes.fromhex(stored)
        return os.urandom(cipher.KEY_BYTES)

    def _encrypt_plaintext(self, kf: KeyFile, key: bytes) -> bytes | None:
        users = _plaintext_users(self.database)
        kf.profiles = [ProfileEntry(u, name, email, role) for u, name, email, role, _ in users]
        if not self.vault.uses_os_keyring:
            kf.slots = {str(u): make_slot(key, h, kf.database_id, u) for u, _, _, _, h in users if h}
            if users and not kf.slots:
                self.notice = (
                    "The database on this computer is not encrypted yet: set a passcode for your profile, and it "
                    "is encrypted at the next start."
                )
                kf.save(self.path)
                return None
        try:
            cipher.encrypt_in_place(self.database, key, before_swap=lambda: kf.save(self.path))
        except TBError as exc:
            self.notice = exc.message
            return None
        self._key = key
        return key

    def _discard_unopenable(self) -> None:
        """An encrypted database made by a run that ended before its first profile existed (a profile's entry is
        saved before its row): it holds no profile, and its key is gone, so nobody can ever open it."""
        for suffix in ("", *cipher.SIDE_SUFFIXES):
            self.database.with_name(self.database.name + suffix).unlink(missing_ok=True)
        log.info("database without a profile or key replaced")

    # -- keeping the key file in step with the profiles ------------------------------------------------------

    def refresh(self, users: Sequence[tuple[uuid.UUID, str, str | None, str, str | None]]) -> None:
        """After the database opened: the profile list, and (without an OS keyring) one slot per profile with a
        passcode, sealed again when its passcode changed; slots of removed profiles go."""
        with self._lock():
            self._refresh(users)

    def _refresh(self, users: Sequence[tuple[uuid.UUID, str, str | None, str, str | None]]) -> None:
        key = self._key
        kf = self._reload()
        if key is None or kf is None:
            return
        profiles = [ProfileEntry(u, name, email, role) for u, name, email, role, _ in users]
        slots = dict(kf.slots)
        if not self.vault.uses_os_keyring:
            wanted: dict[str, dict[str, Any]] = {}
            for user_id, _, _, _, password_hash in users:
                if not password_hash:
                    continue
                _, salt, _ = _parse_hash(password_hash)
                current = [
                    slot
                    for slot in (slots.get(str(user_id)), slots.get(f"{user_id}{PREVIOUS}"))
                    if slot is not None and slot.get("hash_salt") == _b64(salt)
                ]
                if current:
                    wanted[str(user_id)] = current[0]
                else:
                    wanted[str(user_id)] = make_slot(key, password_hash, kf.database_id, user_id)
            if wanted or not users:
                slots = wanted
        if profiles != kf.profiles or slots != kf.slots:
            kf.profiles, kf.slots = profiles, slots
            kf.save(self.path)

    def grant(self, user_id: uuid.UUID, password_hash: str | None, entry: ProfileEntry | None = None) -> None:
        """A profile's slot (and entry) for a new passcode hash, saved before the row is committed, so no profile
        is ever without a way to open the database; a slot it had is kept as the previous one until then."""
        with self._lock():
            self._grant(user_id, password_hash, entry)

    def _grant(self, user_id: uuid.UUID, password_hash: str | None, entry: ProfileEntry | None) -> None:
        key = self._key
        kf = self._reload()
        if key is None or kf is None:
            return
        if entry is not None:
            kf.profiles = [*(p for p in kf.profiles if p.id != user_id), entry]
        if password_hash and not self.vault.uses_os_keyring:
            if str(user_id) in kf.slots:
                kf.slots[f"{user_id}{PREVIOUS}"] = kf.slots[str(user_id)]
            kf.slots[str(user_id)] = make_slot(key, password_hash, kf.database_id, user_id)
        kf.save(self.path)


def _plaintext_users(path: Path) -> list[tuple[uuid.UUID, str, str | None, str, str | None]]:
    """The profiles of a plaintext database (an earlier release's), read before it is encrypted."""
    conn = cipher.connect(path, None)
    try:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'users'").fetchone()
        if found is None:
            return []
        rows = conn.execute(
            "SELECT id, display_name, email, role, password_hash FROM users ORDER BY created_at"
        ).fetchall()
    finally:
        conn.close()
    return [(uuid.UUID(hex=str(r[0])), str(r[1]), r[2], str(r[3]), r[4]) for r in rows]
