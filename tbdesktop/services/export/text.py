"""The plain-text form of an exported note: what Copy puts on the clipboard for pasting into a record system —
headings on lines of their own, no markup."""

from __future__ import annotations

from tbdesktop.services.export.document import ExportDocument

TRANSCRIPT_HEADING = "Transcript"


def transcript_line(time: str, label: str, text: str) -> str:
    return f"[{time}] {label}: {text}"


def render_text(doc: ExportDocument) -> str:
    out: list[str] = [doc.title.upper(), ""]
    out += [f"{f.label}: {f.value}" for f in doc.fields]
    if doc.notices:
        out += ["", "Checks:"]
        out += [f"- {line}" for line in doc.notices]
    for section in doc.sections:
        out += ["", section.title.upper(), section.text.strip()]
    if doc.signature:
        out += ["", doc.signature]
    for addendum in doc.addenda:
        out += ["", addendum.heading, addendum.text.strip()]
    if doc.transcript is not None:
        out += ["", TRANSCRIPT_HEADING.upper()]
        out += [transcript_line(row.time, row.label, row.text) for row in doc.transcript]
        if not doc.transcript:
            out.append("(no lines)")
    return "\n".join(out).rstrip() + "\n"
