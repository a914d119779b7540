"""The DOCX form of an exported note (python-docx): the header fields as a table, one heading per section, the
signature and addenda, the transcript appendix; "DRAFT" in every page header of a draft; "Page n of m" in the
footer as Word fields."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tbdesktop.services.export.document import DRAFT_MARK, ExportDocument
from tbdesktop.services.export.text import TRANSCRIPT_HEADING

if TYPE_CHECKING:
    from docx.text.paragraph import Paragraph

MUTED = (0x5B, 0x6B, 0x73)
DRAFT_COLOUR = (0xA4, 0x26, 0x2C)


def _field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word fills in when it lays the pages out; ``shown`` until then."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, None), ("end", None)):
        run = paragraph.add_run()
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text is not None:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = f" {text} "
            run._r.append(code)
        else:
            run.text = shown


def render_docx(doc: ExportDocument, path: Path) -> None:
    # python-docx (and lxml) load on the first export, not when the window starts.
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Cm, Pt, RGBColor

    muted, draft_colour = RGBColor(*MUTED), RGBColor(*DRAFT_COLOUR)
    word = Document()
    props = word.core_properties
    props.title = doc.title
    props.author = "TherapyBridge"
    props.last_modified_by = "TherapyBridge"
    props.comments = ""
    props.keywords = ""
    props.subject = ""

    section = word.sections[0]
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))
    section.top_margin = Cm(2.0)
    section.bottom_margin = Cm(2.0)

    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if doc.draft:
        mark = header.add_run(f"{DRAFT_MARK} — not signed")
        mark.bold = True
        mark.font.size = Pt(16)
        mark.font.color.rgb = draft_colour
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    lead = footer.add_run(f"{doc.footer}    Page ")
    lead.font.size = Pt(8)
    _field(footer, "PAGE", "1")
    footer.add_run(" of ").font.size = Pt(8)
    _field(footer, "NUMPAGES", "1")
    for run in footer.runs:
        run.font.size = Pt(8)
        run.font.color.rgb = muted

    word.add_heading(doc.title, level=1)
    table = word.add_table(rows=0, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    for field in doc.fields:
        cells = table.add_row().cells
        label = cells[0].paragraphs[0].add_run(field.label)
        label.bold = True
        cells[1].paragraphs[0].add_run(field.value)
    for row in table.rows:
        row.cells[0].width = Cm(4.2)
        row.cells[1].width = Cm(12.4)

    if doc.notices:
        for line in doc.notices:
            note = word.add_paragraph().add_run(f"⚠ {line}")
            note.italic = True
            note.font.color.rgb = muted

    for part in doc.sections:
        word.add_heading(part.title, level=2)
        for line in part.text.strip().split("\n"):
            word.add_paragraph(line)

    if doc.signature:
        signature = word.add_paragraph()
        signature.paragraph_format.space_before = Pt(12)
        signature.add_run(doc.signature).bold = True
    for addendum in doc.addenda:
        word.add_heading(addendum.heading, level=3)
        for line in addendum.text.strip().split("\n"):
            word.add_paragraph(line)

    if doc.transcript is not None:
        word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)  # the appendix starts on a page of its own
        word.add_heading(TRANSCRIPT_HEADING, level=2)
        if not doc.transcript:
            word.add_paragraph("(no lines)")
        for row in doc.transcript:
            paragraph = word.add_paragraph()
            paragraph.paragraph_format.space_after = Pt(2)
            stamp = paragraph.add_run(f"[{row.time}] ")
            stamp.font.color.rgb = muted
            paragraph.add_run(f"{row.label}: ").bold = True
            paragraph.add_run(row.text)
    word.save(str(path))
