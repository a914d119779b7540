"""The PDF of a note, written with Qt's own writer and read back with pdftotext: header fields, sections, the
transcript appendix on pages of its own, "Page n of m" on every page, DRAFT across every page of a draft and on no
page of a signed note, the signature and addenda, and no trace of an anonymous client's name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from export_support import (
    CLIENT,
    CUT_OFF,
    LINES,
    MODEL,
    SECTIONS,
    draft_marks,
    long_lines,
    pdf_pages,
    phi_free,
    session_with_note,
    tone_wav,
    when_line,
)
from PySide6.QtWidgets import QApplication

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.export import ExportService
from tbdesktop.services.notes import NoteService
from tbdesktop.ui.export_pdf import render_pdf

pytestmark = [pytest.mark.qt_log_level_fail("WARNING")]


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return tone_wav(tmp_path / "audio")


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_draft_pdf_has_its_fields_numbered_pages_and_draft_on_each(
    qapp: QApplication, ui_ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ui_ctx, therapist, wav, lines=LINES + long_lines(120))
    result = ExportService(ui_ctx, therapist).write_sync(
        info.id, "pdf", tmp_path / "draft.pdf", transcript=True, renderer=render_pdf
    )
    path = Path(result.path)
    assert (result.format, result.version, result.signed, result.bytes) == ("pdf", 1, False, path.stat().st_size)
    assert path.read_bytes().startswith(b"%PDF")
    pages = pdf_pages(path)
    assert len(pages) >= 3  # the note, then the long transcript on pages of its own
    first = _flat(pages[0])
    for label, value in (
        ("Clinician", therapist.display_name),
        ("Client", CLIENT),
        ("Date and time", when_line()),
        ("Duration", "50 minutes"),
        ("Session type", "Individual"),
        ("Template", "SOAP"),
        ("Note version", "1"),
        ("Drafted by", f"Written by {MODEL} (2 statements removed: not supported by the transcript)"),
        ("Status", "Draft — not signed"),
    ):
        assert f"{label} {value}" in first, label
    assert CUT_OFF in first
    for _key, title, text in SECTIONS:
        assert f"{title} {text}" in first, title
    assert "Transcript" not in first  # the appendix starts on a page of its own
    assert _flat(pages[1]).startswith("Transcript [00:00] Therapist (Dr. Sam Rivera):")
    appendix = _flat(" ".join(pages[1:]))
    assert f"[00:07] Client (Marisol): {LINES[1][1]}" in appendix
    assert "Line 119: we talked about the week" in appendix
    for number, page in enumerate(pages, start=1):
        assert re.search(rf"Page {number} of {len(pages)}\s*$", page.rstrip()), number
        assert "Progress note · 2026-12-04 · version 1 · DRAFT" in _flat(page)  # the footer says so
    # A light diagonal DRAFT crosses every page, drawn as a shape: the text copied out of the PDF is the note's.
    assert draft_marks(path, tmp_path / "pages") == [True] * len(pages)
    assert all(page.count("DRAFT") == 1 for page in pages)
    size = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in size or "(letter)" in size


def test_a_signed_pdf_has_the_signature_and_addenda_and_no_draft_mark(
    qapp: QApplication, ui_ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ui_ctx, therapist, wav)
    notes = NoteService(ui_ctx, therapist)
    notes.sign_sync(info.id)
    notes.add_addendum_sync(info.id, "Client called on Monday: the sleep diary is going well.")
    path = Path(
        ExportService(ui_ctx, therapist).write_sync(info.id, "pdf", tmp_path / "signed.pdf", renderer=render_pdf).path
    )
    pages = pdf_pages(path)
    text = _flat(" ".join(pages))
    assert "DRAFT" not in text and "Status Signed" in text
    assert draft_marks(path, tmp_path / "pages") == [False] * len(pages)
    who = re.escape(therapist.display_name)
    signature = re.search(rf"Electronically signed by {who} on \d{{1,2}} \w{{3}} \d{{4}}", text)
    assert signature is not None
    addendum = text.index("Addendum — ")
    assert text.index(SECTIONS[-1][2]) < signature.start() < addendum
    assert "Client called on Monday: the sleep diary is going well." in text[addendum:]
    assert re.search(r"Page 1 of 1\s*$", pages[-1].rstrip())


def test_an_anonymous_clients_name_is_nowhere_in_the_pdf(
    qapp: QApplication, ui_ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ui_ctx, therapist, wav, anonymous=True)
    service = ExportService(ui_ctx, therapist)
    for transcript in (False, True):
        path = Path(
            service.write_sync(
                info.id, "pdf", tmp_path / f"anon-{transcript}.pdf", transcript=transcript, renderer=render_pdf
            ).path
        )
        text = " ".join(pdf_pages(path))
        assert phi_free(text), text
        assert "Client Anonymous individual" in _flat(text)
        assert ("[00:07] Client: Busy. The [client] family dinner" in _flat(text)) is transcript
        # Nor in the file's own metadata.
        meta = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert phi_free(meta) and "Progress note" in meta
