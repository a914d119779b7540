"""Where a process holds decrypted recordings: private files in its scratch folder (platforms without anonymous
memory files) and copies in anonymous memory (``/memfd:tbdesktop-recording``, seen through /proc/<pid>/fd)."""

from __future__ import annotations

import os
from pathlib import Path

MEMORY_NAME = "/memfd:tbdesktop-recording"


def file_copies(pid: int) -> list[Path]:
    from tbdesktop.services.recording_vault import scratch_root

    folder = scratch_root() / f"tbdesktop-{os.getuid()}" / f"p{pid}"
    return sorted(folder.glob("rec-*")) if folder.is_dir() else []


def memory_copies(pid: int) -> list[int]:
    """The distinct copies in anonymous memory (one copy may be open twice, e.g. by the player too)."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(MEMORY_NAME):
                found.add(fd.stat().st_ino)
        except OSError:
            continue  # closed meanwhile
    return sorted(found)


def copies(pid: int) -> list[str]:
    """Every decrypted recording the process holds, however it holds it."""
    return [str(p) for p in file_copies(pid)] + [f"memory:{inode}" for inode in memory_copies(pid)]


def in_memory(path: Path) -> bool:
    try:
        return os.readlink(path).startswith(MEMORY_NAME)
    except OSError:
        return False


def gone(path: Path) -> bool:
    return not in_memory(path) and not (path.is_file() and path.name.startswith("rec-"))
