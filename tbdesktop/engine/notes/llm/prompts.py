"""What the on-workstation model is asked, and the JSON schemas its answers are held to (llama.cpp turns a
schema into a grammar, so an answer always parses; what it says is checked afterwards, in code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tbdesktop.engine.notes.types import RISK_KINDS, RISK_SEVERITIES, TemplateSection

MAX_BULLETS = 5
MAX_POINTS = 8
MAX_FLAGS = 6

SYSTEM = """\
You are a clinical documentation assistant for a licensed therapist. You write parts of the progress note of \
one therapy session from its transcript; the therapist reviews and signs it.
Rules: write only what the transcript says, in plain third-person clinical English ("The client reported …", \
"The therapist suggested …"). Every statement cites in "evidence" the numbers in square brackets of the lines it \
comes from. Never add findings, diagnoses, names, numbers or dates that were not said. Never write a normal \
finding (normal mood, no risk) unless it was said. If nothing in the transcript fits, give an empty list."""

_KIND_TEXT = {
    "suicidal_ideation": "thoughts of suicide or of not wanting to be alive, active or passive",
    "self_harm": "hurting oneself on purpose (cutting, burning, hitting oneself)",
    "harm_to_others": "threats or thoughts of hurting someone else",
    "abuse_neglect": "being abused, hurt or neglected by someone, now or in the past",
    "substance_use": "heavy or risky alcohol or drug use",
}


def transcript_block(rendered: Sequence[str], *, points: bool = False) -> str:
    if points:
        return (
            "Key points of the session, each with the transcript lines it rests on in square brackets:\n"
            + "\n".join(rendered)
        )
    return "Transcript (each line: [number] (speaker) minutes:seconds: words):\n" + "\n".join(rendered)


def section_message(block: str, section: TemplateSection) -> str:
    limit = f" Use at most {section.max_words} words in all." if section.max_words else ""
    return (
        f'{block}\n\nWrite the "{section.title}" section of the progress note. {section.instructions}{limit}\n'
        "Give short statements, each citing the line numbers it comes from. If the transcript holds nothing "
        "for this section, give an empty list."
    )


def bullets_schema(max_items: int = MAX_BULLETS) -> dict[str, Any]:
    statement = _object(
        {
            "text": {"type": "string", "minLength": 3, "maxLength": 300},
            "evidence": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "maxItems": 6},
        }
    )
    return _object({"statements": {"type": "array", "items": statement, "maxItems": max_items}})


def points_message(block: str, part: int, parts: int) -> str:
    return (
        f"{block}\n\nThis is part {part} of {parts} of a long session. List the main points of this part: what "
        "the client reported, what the therapist did or proposed, and what was agreed. Each point cites its "
        "line numbers."
    )


def risk_message(block: str) -> str:
    kinds = "\n".join(f"- {kind}: {text}" for kind, text in _KIND_TEXT.items())
    return (
        f"{block}\n\nList every statement by the client (not the therapist) that shows one of these risks:\n"
        f"{kinds}\n"
        'For each, copy the exact words from one line as "quote" and give that line\'s number. Severity: '
        '"denied" only when the client explicitly denies it; otherwise low, moderate or high from the words '
        "used (a plan, intent, means or an attempt is high). If no risk came up, give an empty list."
    )


def risk_schema() -> dict[str, Any]:
    flag = _object(
        {
            "kind": {"type": "string", "enum": list(RISK_KINDS)},
            "severity": {"type": "string", "enum": list(RISK_SEVERITIES)},
            "quote": {"type": "string", "minLength": 3, "maxLength": 200},
            "line": {"type": "integer", "minimum": 0},
        }
    )
    return _object({"flags": {"type": "array", "items": flag, "maxItems": MAX_FLAGS}})


def summary_message(note: str) -> str:
    return (
        f"The progress note, each statement with its transcript line numbers in square brackets:\n{note}\n\n"
        "Write the one- or two-sentence summary for the session list: who (the client), the main concern, and "
        "what was agreed. Plain English, at most 240 characters, citing line numbers."
    )


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
