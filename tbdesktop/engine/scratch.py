"""Where short-lived audio goes: memory-backed storage (``/dev/shm``) when it has room, so it never reaches a disk."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

SHM = Path("/dev/shm")
HEADROOM_BYTES = 64 << 20
SCRATCH_PREFIX = "tb-audio-"  # decoded audio shared with the engine workers, where there is no anonymous memory
_SCRATCH_RE = re.compile(rf"^{SCRATCH_PREFIX}(\d+)-[0-9a-f]+\.f32$")


def memory_backed_dir(needed_bytes: int = 0) -> Path | None:
    """``/dev/shm`` when it is writable and has room for twice ``needed_bytes`` plus some headroom; else None."""
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        try:
            if shutil.disk_usage(SHM).free > 2 * needed_bytes + HEADROOM_BYTES:
                return SHM
        except OSError:
            pass
    return None


class MemoryFile:
    """Short-lived plaintext in anonymous memory (Linux ``memfd``): nothing is named in any filesystem, this process
    and its children reach it by path (``/proc/<pid>/fd/<n>``), and the kernel frees it when the last process that
    holds it ends — however it ends, so a crash leaves nothing behind. ``create`` returns None where the platform
    has no such memory; callers then use a private file in ``memory_backed_dir``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.path = Path(f"/proc/{os.getpid()}/fd/{fd}")

    @classmethod
    def create(cls, name: str) -> MemoryFile | None:
        if not hasattr(os, "memfd_create") or not Path(f"/proc/{os.getpid()}/fd").is_dir():
            return None
        try:
            fd = os.memfd_create(name, os.MFD_CLOEXEC)
        except OSError:
            return None
        return cls(fd)

    def writer(self) -> BinaryIO:
        """A file object writing from the start (closing it leaves the memory open)."""
        return os.fdopen(os.dup(self.fd), "wb")

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)


def remove_stale_scratch(directory: Path) -> int:
    """Decoded audio left in ``directory`` by a process that was killed; returns how many files were removed."""
    removed = 0
    if not directory.is_dir():
        return removed
    with contextlib.suppress(OSError):
        for entry in directory.iterdir():
            match = _SCRATCH_RE.match(entry.name)
            if match is None or pid_alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # elsewhere, only this process's own files are removed (on exit)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@contextlib.contextmanager
def scratch_audio(directory: Path, samples: npt.NDArray[np.float32]) -> Iterator[Path]:
    """The decoded audio where the workers memory-map it: anonymous memory (MemoryFile) where the
    platform has it, else a private file (0600) in ``directory``; freed afterwards, always."""
    memory = MemoryFile.create("tbdesktop-scratch")
    if memory is not None:
        try:
            with memory.writer() as fh:
                np.ascontiguousarray(samples, dtype=np.float32).tofile(fh)
            del samples  # this generator's frame lives as long as the job: it must not keep the audio alive
            yield memory.path
        finally:
            memory.close()
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{SCRATCH_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.f32"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.ascontiguousarray(samples, dtype=np.float32).tofile(fh)  # no copy for the usual float32 array
        del samples
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
