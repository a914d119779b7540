"""The note templates shipped with the app (resources/templates/*.json): fixed ids, read-only, seeded by migration
and brought up to date at every start (a newer release may reword a built-in's instructions)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from tbdesktop.paths import resources_dir
from tbdesktop.store.models import NoteTemplate, utcnow

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


def seed(conn: Connection) -> None:
    """Insert the built-ins that are missing (migration); existing rows are left to ``sync``."""
    table = NoteTemplate.__table__
    assert isinstance(table, Table)
    have = set(conn.execute(select(table.c.id).where(table.c.builtin.is_(True))).scalars())
    now = utcnow()
    for b in load_builtins():
        if b.id in have:
            continue
        conn.execute(
            insert(table).values(
                id=b.id,
                user_id=None,
                name=b.name,
                template_content=b.content,
                is_default=b.is_default,
                builtin=True,
                created_at=now,
                updated_at=now,
            )
        )


def sync(s: Session) -> int:
    """Bring the built-in rows in line with the shipped files; returns how many rows changed."""
    changed = 0
    for b in load_builtins():
        row = s.get(NoteTemplate, b.id)
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
            changed += 1
        elif row.name != b.name or row.template_content != b.content or not row.builtin:
            s.execute(
                update(NoteTemplate)
                .where(NoteTemplate.id == b.id)
                .values(name=b.name, template_content=b.content, builtin=True, updated_at=utcnow())
            )
            changed += 1
    return changed
