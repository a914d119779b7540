"""Recordings at rest: AES-256-GCM with a key of their own, wrapped by the profile's master key.

- Each recording gets a fresh 256-bit data key. The file in the data folder holds only ciphertext, written as
  independently authenticated 1 MiB chunks (a chunk cannot be altered, reordered or dropped, nor the file cut
  short, without decryption failing).
- The data key is wrapped (AES-GCM) by the owner's master key and kept in the session row. The master key lives in
  the secret store (OS keyring, or the passcode-encrypted profile store), never beside the data.
- Deleting a recording removes the file and the wrapped key: a copy of the file taken earlier can no longer be read.
- Processing and playback decrypt to a short-lived file in memory-backed storage (``/dev/shm`` where it exists)
  that is removed as soon as the work ends, whether it succeeded, failed or was cancelled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import secrets as _random
import struct
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from tbdesktop.engine.scratch import MemoryFile, memory_backed_dir, pid_alive
from tbdesktop.errors import TBError
from tbdesktop.services.secrets import SecretVault

log = logging.getLogger(__name__)

MAGIC = b"TBREC\x00\x00\x01"
CHUNK = 1 << 20
TAG = 16
_HEADER = struct.Struct(">8sI8s")  # magic, chunk size, nonce prefix
HEADER_SIZE = _HEADER.size
WRAP_VERSION = 1
MASTER_KEY_NAME = "recordings_master_key"

CopyProgress = Callable[[int, int], None]


class RecordingCryptoError(TBError):
    pass


# -- the file format ---------------------------------------------------------------------------------------


def _chunk_aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">I?", index, last)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    key: bytes,
    total: int = 0,
    on_progress: CopyProgress | None = None,
    *,
    known_sha256: str | None = None,
) -> str:
    """Encrypt ``src`` into ``dst``; returns the sha256 of the plaintext (``known_sha256`` when the caller has
    it already: the plaintext is not hashed again)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(key)
    header = _HEADER.pack(MAGIC, CHUNK, os.urandom(8))
    prefix = header[-8:]
    dst.write(header)
    digest = hashlib.sha256() if known_sha256 is None else None
    done = 0
    index = 0
    current = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if len(current) == CHUNK else b""
        last = not following
        if digest is not None:
            digest.update(current)
        dst.write(aead.encrypt(_nonce(prefix, index), current, _chunk_aad(header, index, last)))
        done += len(current)
        if on_progress is not None:
            on_progress(done, total)
        if last:
            return digest.hexdigest() if digest is not None else str(known_sha256)
        if index == 0xFFFFFFFF:
            raise RecordingCryptoError("The recording is too large to encrypt.")
        index += 1
        current = following


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> int:
    """Decrypt a file written by ``encrypt_stream``; raises RecordingCryptoError when anything was altered."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = src.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE:
        raise RecordingCryptoError("The recording file is damaged (too short).")
    magic, chunk, prefix = _HEADER.unpack(header)
    if magic != MAGIC or not 0 < chunk <= 64 << 20:
        raise RecordingCryptoError("The recording file is not an encrypted TherapyBridge recording.")
    aead = AESGCM(key)
    written = 0
    index = 0
    current = src.read(chunk + TAG)
    while True:
        following = src.read(chunk + TAG) if len(current) == chunk + TAG else b""
        last = not following
        if len(current) < TAG:
            raise RecordingCryptoError("The recording file is damaged (cut short).")
        try:
            plain = aead.decrypt(_nonce(prefix, index), current, _chunk_aad(header, index, last))
        except InvalidTag:
            raise RecordingCryptoError(
                "The recording cannot be decrypted: the file was altered or damaged, or the key is wrong."
            ) from None
        dst.write(plain)
        written += len(plain)
        if last:
            return written
        index += 1
        current = following


def is_encrypted_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


# -- keys --------------------------------------------------------------------------------------------------


def key_id(master: bytes) -> bytes:
    return hashlib.sha256(b"tb-master-key-id\x00" + master).digest()[:8]


def wrap_key(master: bytes, data_key: bytes, stored_name: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    aad = b"tb-recording-key\x00" + stored_name.encode("utf-8")
    blob = bytes([WRAP_VERSION]) + key_id(master) + nonce + AESGCM(master).encrypt(nonce, data_key, aad)
    return base64.b64encode(blob).decode("ascii")


def unwrap_key(master: bytes, wrapped: str, stored_name: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        blob = base64.b64decode(wrapped.encode("ascii"), validate=True)
    except ValueError as exc:
        raise RecordingCryptoError("The recording's key is damaged.") from exc
    if len(blob) < 1 + 8 + 12 + 16 or blob[0] != WRAP_VERSION:
        raise RecordingCryptoError("The recording's key is damaged.")
    if blob[1:9] != key_id(master):
        raise RecordingCryptoError(
            "This recording was encrypted under a master key this profile does not hold on this computer."
        )
    nonce, sealed = blob[9:21], blob[21:]
    aad = b"tb-recording-key\x00" + stored_name.encode("utf-8")
    try:
        return bytes(AESGCM(master).decrypt(nonce, sealed, aad))
    except InvalidTag:
        raise RecordingCryptoError("The recording's key does not match this recording.") from None


# -- short-lived plaintext ------------------------------------------------------------------------------------


def scratch_root(needed_bytes: int = 0) -> Path:
    """Memory-backed storage when there is room (``/dev/shm``); the system temporary folder otherwise.

    Never the data folder: it holds ciphertext only."""
    return memory_backed_dir(needed_bytes) or Path(tempfile.gettempdir())


def scratch_dir(needed_bytes: int) -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = scratch_root(needed_bytes) / f"tbdesktop-{uid}" / f"p{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.parent.chmod(0o700)
        path.chmod(0o700)
    return path


def remove_stale_plaintext() -> int:
    """Remove short-lived plaintext left by processes that died (a crash, a power cut); returns files removed."""
    removed = 0
    uid = os.getuid() if hasattr(os, "getuid") else 0
    for root in {scratch_root(), Path(tempfile.gettempdir())}:
        base = root / f"tbdesktop-{uid}"
        if not base.is_dir():
            continue
        for folder in base.iterdir():
            pid = folder.name[1:]
            if not folder.name.startswith("p") or not pid.isdigit() or pid_alive(int(pid)):
                continue
            for item in folder.iterdir():
                item.unlink(missing_ok=True)
                removed += 1
            folder.rmdir()
    return removed


def _free_copy(memory: MemoryFile | None, path: Path | None) -> None:
    if memory is not None:
        memory.close()
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("plaintext copy not removed", extra={"error_type": type(exc).__name__})
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # this process's folder, once nothing else of it is open


class PlainCopy:
    """A decrypted recording for a short while: in anonymous memory where the platform has it (nothing named on any
    disk, freed by the kernel however the process ends), else a private file on memory-backed storage; ``close()``
    frees it (idempotent). A copy nobody closed is freed when it is garbage-collected: one decrypted for a view
    that was closed meanwhile (its waiting task cancelled while the thread decrypting it ran on) leaves nothing."""

    def __init__(self, path: Path, *, owned: bool, memory: MemoryFile | None = None) -> None:
        self.path = path
        self._memory = memory
        self._free = weakref.finalize(self, _free_copy, memory, path if owned else None)

    @property
    def in_memory(self) -> bool:
        return self._memory is not None

    def close(self) -> None:
        self._memory = None
        self._free()  # runs once, whoever calls it first (this, or the collector)

    def __enter__(self) -> PlainCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def partial_path(dest: Path) -> Path:
    """Where a recording is copied before it takes its name: ``<name>.p<pid>.part``."""
    return dest.with_name(f"{dest.name}.p{os.getpid()}.part")


# -- the vault ---------------------------------------------------------------------------------------------


class RecordingVault:
    """Stores recordings encrypted in ``recordings_dir`` and opens them briefly for processing and playback."""

    def __init__(self, recordings_dir: Path, secrets: SecretVault) -> None:
        self.recordings_dir = recordings_dir
        self.secrets = secrets

    def master_key(self, owner_id: uuid.UUID, *, create: bool) -> bytes:
        def make() -> str:
            return base64.b64encode(_random.token_bytes(32)).decode("ascii")

        if create:
            text = self.secrets.get_or_create(MASTER_KEY_NAME, make, user_id=owner_id)
        else:
            found = self.secrets.get(MASTER_KEY_NAME, user_id=owner_id)
            if found is None:
                raise RecordingCryptoError(
                    "The key that opens this recording is not in this profile's secret store on this computer."
                )
            text = found
        master = base64.b64decode(text)
        if len(master) != 32:
            raise RecordingCryptoError("The recordings master key in the secret store is damaged.")
        return master

    def path(self, stored_name: str) -> Path:
        return self.recordings_dir / Path(stored_name).name

    def store(
        self,
        source: Path,
        stored_name: str,
        owner_id: uuid.UUID,
        total: int = 0,
        on_progress: CopyProgress | None = None,
        *,
        known_sha256: str | None = None,
    ) -> tuple[str, str]:
        """Encrypt ``source`` into the data folder as ``stored_name``; returns (plaintext sha256, wrapped key).
        ``known_sha256``: the source's hash taken already by the caller, returned instead of hashing it again."""
        master = self.master_key(owner_id, create=True)
        data_key = _random.token_bytes(32)
        dest = self.path(stored_name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = partial_path(dest)  # named for this process: removed at the next start if it dies mid-copy
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with source.open("rb") as src, os.fdopen(fd, "wb") as out:
                digest = encrypt_stream(src, out, data_key, total, on_progress, known_sha256=known_sha256)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TBError(f"The recording could not be stored in the data folder: {exc.strerror}.") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest, wrap_key(master, data_key, stored_name)

    def open_plaintext(self, stored_name: str, wrapped: str | None, owner_id: uuid.UUID) -> PlainCopy:
        """Decrypt the recording into a short-lived private file; the caller closes it (which removes it)."""
        source = self.path(stored_name)
        if not source.is_file():
            raise RecordingCryptoError("The recording file is missing from the data folder.")
        if wrapped is None:
            if is_encrypted_file(source):
                raise RecordingCryptoError("The recording's key is missing.")
            return PlainCopy(source, owned=False)  # stored before encryption at rest; sealed at the next start
        data_key = unwrap_key(self.master_key(owner_id, create=False), wrapped, stored_name)
        memory = MemoryFile.create("tbdesktop-recording")
        if memory is not None:
            copy = PlainCopy(memory.path, owned=False, memory=memory)
            out: BinaryIO = memory.writer()
        else:
            folder = scratch_dir(source.stat().st_size)
            fd, name = tempfile.mkstemp(prefix="rec-", suffix=source.suffix, dir=folder)
            copy = PlainCopy(Path(name), owned=True)
            out = os.fdopen(fd, "wb")
        try:
            with source.open("rb") as src, out:
                decrypt_stream(src, out, data_key)
        except OSError as exc:
            copy.close()
            raise TBError(f"The recording could not be opened: {exc.strerror}.") from exc
        except BaseException:
            copy.close()
            raise
        return copy

    @contextmanager
    def plaintext(self, stored_name: str, wrapped: str | None, owner_id: uuid.UUID) -> Iterator[Path]:
        """The recording decrypted into a short-lived private file, removed when the block ends."""
        copy = self.open_plaintext(stored_name, wrapped, owner_id)
        try:
            yield copy.path
        finally:
            copy.close()

    def destroy(self, stored_name: str | None) -> None:
        """Remove the encrypted file and any partial copy (the caller forgets the wrapped key)."""
        if not stored_name:
            return
        path = self.path(stored_name)
        for candidate in (path, path.with_suffix(path.suffix + ".part"), *path.parent.glob(f"{path.name}.p*.part")):
            try:
                candidate.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("recording file not removed", extra={"error_type": type(exc).__name__})
