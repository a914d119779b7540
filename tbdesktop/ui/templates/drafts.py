"""A template being edited, as plain data: its sections' drafts and the keys made from their titles."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tbdesktop.services.dto import TemplateInfo

MAX_SECTION_WORDS = 2000
MAX_KEY_LEN = 40


def section_key(title: str) -> str:
    """A key from a title: "Risk & safety" → "risk_safety", "Évaluation" → "evaluation"."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")[:MAX_KEY_LEN]


def unique_key(key: str, taken: set[str]) -> str:
    """``key``, or ``key_2``, ``key_3`` … when another section of the template has it."""
    if not key or key not in taken:
        return key
    n = 2
    while f"{key}_{n}"[:MAX_KEY_LEN] in taken:
        n += 1
    return f"{key[: MAX_KEY_LEN - len(str(n)) - 1]}_{n}"


@dataclass
class SectionDraft:
    key: str = ""
    title: str = ""
    instructions: str = ""
    max_words: int | None = None
    key_follows_title: bool = True  # a new section's key is made from its title until the key is typed

    def to_content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "title": self.title, "instructions": self.instructions}
        if self.max_words is not None:
            out["max_words"] = self.max_words
        return out


@dataclass(frozen=True)
class TemplateDraft:
    name: str
    sections: list[dict[str, Any]] = field(default_factory=list)
    clinic_wide: bool = False

    def content(self) -> dict[str, Any]:
        return {"sections": self.sections}


Saver = Callable[[TemplateDraft], Coroutine[Any, Any, TemplateInfo]]
