"""The in-progress journal: what a live recording has captured so far, encrypted and on disk within a second.

A journal lives in ``<data>/recordings/in-progress/<id>.tbj`` until its recording has become a session:

    header  = MAGIC (8 bytes) | u32 length | JSON (id, owner, wrapped data key, nonce prefix, format, start time)
    record  = u32 sealed length | u8 kind | AES-256-GCM(data key, nonce, payload, aad)
    nonce   = 4 random bytes (from the header) | u64 record counter
    aad     = sha256(header)[:16] | kind | u64 record counter

Each record is sealed on its own and appended with a plain ``write`` (no user-space buffering), so a process
that is killed keeps every record written; the file is fsynced at least every ``SYNC_INTERVAL_S`` so a power
cut loses little more. A reader drops a torn last record and turns a damaged record in the middle into a gap of
the same length. The data key is fresh per recording and wrapped by the owner's master key (recording_vault):
the journal holds no plaintext audio and nothing that names the client outside a sealed record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets as _random
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.paths import sync_folder
from tbdesktop.services.recording_vault import wrap_key

log = logging.getLogger(__name__)

MAGIC = b"TBJRNL\x00\x01"
SUFFIX = ".tbj"
LOCK_SUFFIX = ".lock"
TAG = 16
RECORD_S = 0.5  # audio per record: at most this much is lost to a kill, plus the block being captured
SYNC_INTERVAL_S = 0.5
MAX_RECORD = 16 << 20
RECORD_HEAD = struct.Struct(">IB")
COUNTER = struct.Struct(">Q")


class Kind:
    AUDIO = 1  # interleaved signed 16-bit little-endian PCM
    GAP = 2  # u64 frames of silence (audio the device lost) + u8 reason
    DETAILS = 3  # JSON: client, date, session type, consent (the latest one counts)
    EVENT = 4  # JSON: device lost, resumed on another device, … (ids and counts only)


GAP_OVERFLOW = 1
GAP_DROPPED = 2
GAP_DAMAGED = 3


class JournalError(TBError):
    pass


def key_name(journal_id: str) -> str:
    """What the wrapped data key is bound to (a key cannot be moved to another journal)."""
    return f"journal:{journal_id}"


@dataclass(frozen=True)
class JournalHeader:
    id: str
    owner_id: uuid.UUID
    wrapped_key: str
    nonce_prefix: bytes
    sample_rate: int
    channels: int
    started_at: datetime
    raw: bytes = field(repr=False)
    size: int = 0

    @property
    def frame_bytes(self) -> int:
        return 2 * self.channels

    @property
    def aad_prefix(self) -> bytes:
        return hashlib.sha256(self.raw).digest()[:16]

    @classmethod
    def build(
        cls, journal_id: str, owner_id: uuid.UUID, wrapped_key: str, sample_rate: int, channels: int
    ) -> JournalHeader:
        started = datetime.now(UTC).replace(microsecond=0)
        prefix = os.urandom(4)
        body = json.dumps(
            {
                "v": 1,
                "id": journal_id,
                "owner_id": str(owner_id),
                "key": wrapped_key,
                "nonce_prefix": prefix.hex(),
                "format": "s16le",
                "sample_rate": sample_rate,
                "channels": channels,
                "started_at": started.isoformat(),
            },
            sort_keys=True,
        ).encode("utf-8")
        raw = MAGIC + struct.pack(">I", len(body)) + body
        return cls(journal_id, owner_id, wrapped_key, prefix, sample_rate, channels, started, raw, len(raw))

    @classmethod
    def read(cls, path: Path) -> JournalHeader:
        try:
            with path.open("rb") as f:
                start = f.read(len(MAGIC) + 4)
                if len(start) < len(MAGIC) + 4 or start[: len(MAGIC)] != MAGIC:
                    raise JournalError("This is not a TherapyBridge recording journal.")
                (length,) = struct.unpack(">I", start[len(MAGIC) :])
                if length > 64 << 10:
                    raise JournalError("The recording journal's header is damaged.")
                body = f.read(length)
        except OSError as exc:
            raise JournalError(f"The recording journal cannot be read: {exc.strerror}.") from exc
        if len(body) != length:
            raise JournalError("The recording journal's header is damaged.")
        try:
            data = json.loads(body)
            header = cls(
                id=str(data["id"]),
                owner_id=uuid.UUID(str(data["owner_id"])),
                wrapped_key=str(data["key"]),
                nonce_prefix=bytes.fromhex(str(data["nonce_prefix"])),
                sample_rate=int(data["sample_rate"]),
                channels=int(data["channels"]),
                started_at=datetime.fromisoformat(str(data["started_at"])),
                raw=start + body,
                size=len(start) + length,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError("The recording journal's header is damaged.") from exc
        if data.get("v") != 1 or data.get("format") != "s16le" or len(header.nonce_prefix) != 4:
            raise JournalError("The recording journal was written by another version of the app.")
        if not 1000 <= header.sample_rate <= 384000 or header.channels not in (1, 2):
            raise JournalError("The recording journal's header is damaged.")
        return header


def record_nonce(header: JournalHeader, counter: int) -> bytes:
    return header.nonce_prefix + COUNTER.pack(counter)


def record_aad(header: JournalHeader, kind: int, counter: int) -> bytes:
    return header.aad_prefix + bytes([kind]) + COUNTER.pack(counter)


class JournalWriter:
    """Appends sealed records; audio is gathered into records of at most ``RECORD_S`` seconds.

    Not thread-safe: one thread (the recorder's writer) owns it."""

    def __init__(self, path: Path, header: JournalHeader, data_key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.path = path
        self.header = header
        self._aead = AESGCM(data_key)
        self._record_bytes = max(1, int(header.sample_rate * RECORD_S)) * header.frame_bytes
        self._pending = bytearray()
        self._counter = 0
        self._last_record_at = time.monotonic()
        self._last_sync_at = time.monotonic()
        self._dirty = False
        self.bytes_written = header.size
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            self._write(header.raw)
            self.sync()
            sync_folder(path.parent)
        except BaseException:
            self.close()
            path.unlink(missing_ok=True)
            raise

    @classmethod
    def create(
        cls,
        folder: Path,
        owner_id: uuid.UUID,
        master: bytes,
        sample_rate: int,
        channels: int,
        journal_id: str | None = None,
    ) -> JournalWriter:
        folder.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            folder.chmod(0o700)
        journal_id = journal_id or uuid.uuid4().hex
        data_key = _random.token_bytes(32)
        wrapped = wrap_key(master, data_key, key_name(journal_id))
        header = JournalHeader.build(journal_id, owner_id, wrapped, sample_rate, channels)
        return cls(folder / f"{journal_id}{SUFFIX}", header, data_key)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise JournalError("The recording journal is closed.")
        view = memoryview(data)
        while view:
            done = os.write(self._fd, view)
            view = view[done:]
        self.bytes_written += len(data)
        self._dirty = True

    def _seal(self, kind: int, payload: bytes) -> None:
        sealed = self._aead.encrypt(
            record_nonce(self.header, self._counter), payload, record_aad(self.header, kind, self._counter)
        )
        self._write(RECORD_HEAD.pack(len(sealed), kind) + sealed)
        self._counter += 1

    def audio(self, pcm: bytes) -> None:
        """Adds captured PCM; a record is sealed and written as soon as ``RECORD_S`` of it is gathered."""
        self._pending += pcm
        while len(self._pending) >= self._record_bytes:
            chunk = bytes(self._pending[: self._record_bytes])
            del self._pending[: self._record_bytes]
            self._seal(Kind.AUDIO, chunk)
            self._last_record_at = time.monotonic()

    def flush(self) -> None:
        """Seals whatever audio is gathered, however short."""
        if self._pending:
            self._seal(Kind.AUDIO, bytes(self._pending))
            self._pending.clear()
        self._last_record_at = time.monotonic()

    def gap(self, frames: int, reason: int) -> None:
        self.flush()
        self._seal(Kind.GAP, COUNTER.pack(frames) + bytes([reason]))

    def details(self, values: dict[str, Any]) -> None:
        self._seal(Kind.DETAILS, json.dumps(values, sort_keys=True).encode("utf-8"))

    def event(self, values: dict[str, Any]) -> None:
        self.flush()
        self._seal(Kind.EVENT, json.dumps(values, sort_keys=True).encode("utf-8"))

    def tick(self, now: float) -> None:
        """Time-based duties: seal gathered audio once it is ``RECORD_S`` old; fsync every ``SYNC_INTERVAL_S``."""
        if self._pending and now - self._last_record_at >= RECORD_S:
            self.flush()
        if self._dirty and now - self._last_sync_at >= SYNC_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
        self._dirty = False
        self._last_sync_at = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._dirty:
                    os.fsync(fd)
            finally:
                os.close(fd)


# -- the lock ------------------------------------------------------------------------------------------------


class JournalLock:
    """Held by the process recording (or saving) a journal: a journal nobody holds was left by a crash.

    The operating system releases it when the process dies, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        from tbdesktop.services.secrets import try_lock

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not try_lock(fd):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self, *, remove: bool = False) -> None:
        from tbdesktop.services.secrets import unlock_fd

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if remove:
                self.path.unlink(missing_ok=True)
            unlock_fd(fd)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def lock_path(journal: Path) -> Path:
    return journal.with_suffix(LOCK_SUFFIX)
