"""Where the bundled resources (icons, style sheet) live, in a source checkout and in a frozen build."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    """`resources/` next to the package in a checkout; under `sys._MEIPASS` in a PyInstaller build."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    path = icon_path(name)
    return QIcon(str(path)) if path.is_file() else QIcon()


def style_sheet() -> str:
    """The application style sheet, with `@RESOURCES@` pointing at the resources folder (for image urls)."""
    root = resources_dir()
    try:
        text = (root / "style.qss").read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("@RESOURCES@", root.as_posix())
