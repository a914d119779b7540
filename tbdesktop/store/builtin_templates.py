"""The note templates shipped with the app (resources/templates/*.json): fixed ids, read-only, seeded by migration
and brought up to date at every start (a newer release may reword a built-in's instructions)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tbdesktop.paths import resources_dir
from tbdesktop.store.models import NoteTemplate

NAMESPACE = uuid.UUID("5d0b3a3e-6f44-4f59-9a61-3c1f0b7f2a10")


@dataclass(frozen=True)
class Builtin:
    id: uuid.UUID
    slug: str
    name: str
    is_default: bool
    content: dict[str, Any]


def templates_dir() -> Path:
    return resources_dir() / "templates"


def builtin_id(slug: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, slug)


def load_builtins(directory: Path | None = None) -> list[Builtin]:
    out: list[Builtin] = []
    for path in sorted((directory or templates_dir()).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(
            Builtin(
                id=builtin_id(path.stem),
                slug=path.stem,
                name=str(data["name"]),
                is_default=bool(data.get("is_default", False)),
                content={"sections": data["sections"]},
            )
        )
    return out


def sync(s: Session) -> int:
    """Insert missing built-ins and bring changed ones in line with the shipped files (one query when nothing
    changed); used by the migration that seeds them and at every start. Returns how many rows changed."""
    builtins = load_builtins()
    rows = {
        row.id: row
        for row in s.scalars(select(NoteTemplate).where(NoteTemplate.id.in_([b.id for b in builtins])))
    }
    changed = 0
    for b in builtins:
        row = rows.get(b.id)
        if row is None:
            s.add(
                NoteTemplate(
                    id=b.id,
                    user_id=None,
                    name=b.name,
                    template_content=b.content,
                    is_default=b.is_default,
                    builtin=True,
                )
            )
        elif row.name != b.name or row.template_content != b.content or not row.builtin:
            row.name, row.template_content, row.builtin = b.name, b.content, True
        else:
            continue
        changed += 1
    s.flush()
    return changed
