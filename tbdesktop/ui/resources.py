"""Icons and the style sheet from the bundled resources folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from tbdesktop.paths import resources_dir

__all__ = ["icon", "icon_path", "resources_dir", "style_sheet"]


def icon_path(name: str) -> Path:
    return resources_dir() / "icons" / f"{name}.svg"


@cache
def icon(name: str) -> QIcon:
    path = icon_path(name)
    return QIcon(str(path)) if path.is_file() else QIcon()


def style_sheet() -> str:
    """The application style sheet (`style.qss`, then each page's `styles/*.qss` in name order), with
    `@RESOURCES@` pointing at the resources folder (for image urls)."""
    root = resources_dir()
    parts: list[str] = []
    for path in [root / "style.qss", *sorted((root / "styles").glob("*.qss"))]:
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except OSError:
            continue
    return "\n".join(parts).replace("@RESOURCES@", root.as_posix())
