"""Where the bundled resources (icons, style sheet, built-in templates) live, in a checkout and a frozen build; and
making a file's new name in a folder survive a power cut."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """`resources/` next to the package in a checkout; under `sys._MEIPASS` in a PyInstaller build."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def sync_folder(folder: Path) -> None:
    """Makes the names just written in ``folder`` (a new file, a rename) survive a power cut (POSIX; a no-op
    elsewhere, where the file system does it)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
