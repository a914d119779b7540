"""Where short-lived audio goes: memory-backed storage (``/dev/shm``) when it has room, so it never reaches a disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SHM = Path("/dev/shm")
HEADROOM_BYTES = 64 << 20


def memory_backed_dir(needed_bytes: int = 0) -> Path | None:
    """``/dev/shm`` when it is writable and has room for twice ``needed_bytes`` plus some headroom; else None."""
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        try:
            if shutil.disk_usage(SHM).free > 2 * needed_bytes + HEADROOM_BYTES:
                return SHM
        except OSError:
            pass
    return None
