"""Exporting a progress note through the service: the plain text for the clipboard and the text and DOCX files,
read back — header fields, sections, notices, signature and addenda, the transcript appendix, the masking of an
anonymous client, page-number fields — and the audit trail, ownership and bad paths."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from export_support import (
    CLIENT,
    CUT_OFF,
    LINES,
    MODEL,
    SECTIONS,
    SESSION_DATE,
    docx_text,
    phi_free,
    session_with_note,
    tone_wav,
    when_line,
    write_note,
)
from sqlalchemy import select

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.export import ExportService, audit_action, default_file_name
from tbdesktop.services.notes import NoteService
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import AuditEvent

HEADER = [
    "PROGRESS NOTE",
    "",
    "Clinician: Dana Reyes",
    f"Client: {CLIENT}",
    f"Date and time: {when_line()}",
    "Duration: 50 minutes",
    "Session type: Individual",
    "Template: SOAP",
    "Note version: 1",
    f"Drafted by: Written by {MODEL} (2 statements removed: not supported by the transcript)",
    "Status: Draft — not signed",
    "",
    "Checks:",
    f"- {CUT_OFF}",
]


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return tone_wav(tmp_path / "audio")


def _exports(ctx: AppContext, user: UserInfo) -> list[AuditEvent]:
    with ctx.db.unit_of_work() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("note.export.%")).order_by(AuditEvent.id)
        ).all()
        s.expunge_all()
        return [r for r in rows if r.user_id == user.id]


def test_plain_text_lays_out_the_header_the_sections_and_the_transcript(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    service = ExportService(ctx, therapist)

    text = service.copy_text_sync(info.id)
    lines = text.splitlines()
    assert lines[: len(HEADER)] == HEADER
    # Each section: a blank line, its heading alone on a line, then its text; no markup anywhere.
    for key_title_text in SECTIONS:
        _key, title, body = key_title_text
        at = lines.index(title.upper())
        assert lines[at - 1] == "" and lines[at + 1] == body
    assert lines.index("SUBJECTIVE") < lines.index("OBJECTIVE") < lines.index("ASSESSMENT") < lines.index("PLAN")
    assert not re.search(r"[<>*#]|&amp;", text)
    assert "Electronically signed" not in text and "TRANSCRIPT" not in text

    with_transcript = service.copy_text_sync(info.id, transcript=True)
    appendix = with_transcript.splitlines()
    start = appendix.index("TRANSCRIPT")
    assert appendix[start + 1 :] == [
        f"[00:00] Therapist (Dana Reyes): {LINES[0][1]}",
        f"[00:07] Client (Marisol): {LINES[1][1]}",
        f"[00:15] Therapist (Dana Reyes): {LINES[2][1]}",
        f"[00:22] Client (Marisol): {LINES[3][1]}",
        f"[00:30] Therapist (Dana Reyes): {LINES[4][1]}",
    ]
    assert with_transcript.startswith(text.rstrip("\n"))  # the note, then the appendix

    # The text file holds the same text, under the name offered by default (no name of the client in it).
    name = service.suggested_name_sync(info.id, "txt")
    assert name == f"session-{SESSION_DATE.isoformat()}-{info.id.hex[:8]}.txt"
    assert name == default_file_name(SESSION_DATE, info.id, "txt")
    result = service.write_sync(info.id, "txt", tmp_path / name, transcript=True)
    written = Path(result.path)
    assert written.read_text(encoding="utf-8") == with_transcript
    assert (result.format, result.bytes, result.version, result.signed, result.transcript) == (
        "txt",
        written.stat().st_size,
        1,
        False,
        True,
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [name]  # no temporary file left


def test_a_signed_note_carries_its_signature_then_its_addenda(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    notes = NoteService(ctx, therapist)
    signed = notes.sign_sync(info.id)
    notes.add_addendum_sync(info.id, "Client called on Monday: the sleep diary is going well.")
    notes.add_addendum_sync(info.id, "Second addendum: referral letter sent.")
    service = ExportService(ctx, therapist)

    lines = service.copy_text_sync(info.id).splitlines()
    assert "Status: Signed" in lines and "Status: Draft — not signed" not in lines
    signature = next(line for line in lines if line.startswith("Electronically signed by"))
    assert re.fullmatch(r"Electronically signed by Dana Reyes on \d{1,2} \w{3} \d{4} \d{2}:\d{2}( \S+)?", signature)
    assert signed.signed_at is not None and f"{signed.signed_at.year}" in signature
    first = next(i for i, line in enumerate(lines) if line.startswith("Addendum — "))
    assert lines.index(signature) < first and lines.index("PLAN") < lines.index(signature)
    assert lines[first].endswith(" — Dana Reyes")
    assert lines[first + 1] == "Client called on Monday: the sleep diary is going well."
    assert lines[first + 3].startswith("Addendum — ") and lines[first + 4] == "Second addendum: referral letter sent."

    doc = docx_text(Path(service.write_sync(info.id, "docx", tmp_path / "signed.docx").path))
    body = doc["body"].splitlines()
    assert "Status: Signed" in body and signature in body
    one = body.index("Client called on Monday: the sleep diary is going well.")
    two = body.index("Second addendum: referral letter sent.")
    assert body.index("Plan") < body.index(signature) < one < two
    assert body[one - 1] == lines[first] and body[two - 1] == lines[first + 3]
    assert "DRAFT" not in doc["header"]


def test_docx_holds_the_header_fields_sections_draft_mark_and_page_numbers(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    service = ExportService(ctx, therapist)
    with pytest.raises(ValidationError, match="is a folder"):
        service.write_sync(info.id, "docx", tmp_path)

    result = service.write_sync(info.id, "DOCX", tmp_path / "note.docx", transcript=True)
    assert result.format == "docx" and result.bytes == Path(result.path).stat().st_size > 0
    doc = docx_text(Path(result.path))
    body = doc["body"].splitlines()
    assert body[0] == "Progress note"
    for line in HEADER[2:11]:  # the header fields, as "Label: value" rows of its table
        assert line in body, line
    assert f"⚠ {CUT_OFF}" in body
    for _key, title, text in SECTIONS:
        assert body[body.index(title) + 1] == text
    assert body.index("Transcript") > body.index("Plan")
    assert f"[00:07] Client (Marisol): {LINES[1][1]}" in body
    assert "DRAFT" in doc["header"]  # a draft says so at the top of every page
    assert doc["footer_fields"] == ["PAGE", "NUMPAGES"]
    assert re.search(r"Page 1 of 1$", doc["footer"]) and "version 1" in doc["footer"]
    assert doc["core_title"] == "Progress note" and doc["core_author"] == "TherapyBridge"


def test_the_practice_set_in_the_profile_heads_every_format(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    service = ExportService(ctx, therapist)
    assert "Practice:" not in service.copy_text_sync(info.id)  # none set: no empty line for it

    ProfileService(ctx).update_profile_sync(
        therapist, therapist.id, therapist.display_name, therapist.email, "Riverside Counselling"
    )
    lines = service.copy_text_sync(info.id).splitlines()
    assert lines[2:4] == ["Practice: Riverside Counselling", "Clinician: Dana Reyes"]
    body = docx_text(Path(service.write_sync(info.id, "docx", tmp_path / "note.docx").path))["body"].splitlines()
    assert "Practice: Riverside Counselling" in body


def test_an_anonymous_clients_name_appears_nowhere(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav, anonymous=True)
    # The name also reaches the note's own words and an addendum: masked there too.
    notes = NoteService(ctx, therapist)
    notes.sign_sync(info.id)
    notes.add_addendum_sync(info.id, f"{CLIENT} phoned to move the next session.")
    service = ExportService(ctx, therapist)

    for transcript in (False, True):
        text = service.copy_text_sync(info.id, transcript=transcript)
        assert phi_free(text), text
        assert "Client: Anonymous individual" in text.splitlines()
        assert "[client] reports a hard family dinner" in text
        assert "[client] phoned to move the next session." in text
        txt = Path(service.write_sync(info.id, "txt", tmp_path / f"a{transcript}.txt", transcript=transcript).path)
        assert phi_free(txt.read_text(encoding="utf-8"))
        docx = docx_text(
            Path(service.write_sync(info.id, "docx", tmp_path / f"a{transcript}.docx", transcript=transcript).path)
        )
        assert phi_free(docx["body"] + docx["header"] + docx["footer"]), docx["body"]
        assert "Client: Anonymous individual" in docx["body"].splitlines()
    appendix = text.splitlines()[text.splitlines().index("TRANSCRIPT") + 1 :]
    # Speakers go by their role only: the names given to the voices are not shown.
    assert appendix[0] == f"[00:00] Therapist: {LINES[0][1].replace('Marisol', '[client]')}"
    assert appendix[1] == f"[00:07] Client: {LINES[1][1].replace('Quintero', '[client]')}"


def test_exports_are_audited_with_their_kind_and_never_their_content(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    service = ExportService(ctx, therapist)
    service.copy_text_sync(info.id)
    service.write_sync(info.id, "txt", tmp_path / "n.txt")
    service.write_sync(info.id, "docx", tmp_path / "n.docx", transcript=True)
    service.with_document_sync(info.id, "print", lambda doc: len(doc.sections))
    service.with_document_sync(info.id, "pdf", lambda doc: None, transcript=True)

    events = _exports(ctx, therapist)
    assert [e.action for e in events] == [
        "note.export.copy",
        "note.export.txt",
        "note.export.docx+transcript",
        "note.export.print",
        "note.export.pdf+transcript",
    ]
    assert audit_action("docx", True) == "note.export.docx+transcript"
    for event in events:
        assert (event.object_type, event.object_id, event.user_id) == ("therapy_session", str(info.id), therapist.id)
        assert event.workstation == ctx.workstation and event.at is not None
        held = " ".join(str(getattr(event, c.name)) for c in AuditEvent.__table__.columns).lower()
        assert phi_free(held) and "breathing" not in held and "subjective" not in held

    # A failed export records nothing and leaves nothing behind.
    def broken(doc: Any, path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(ValidationError, match="could not be written to .*No space left on device"):
        service.write_sync(info.id, "pdf", tmp_path / "broken.pdf", renderer=broken)
    assert not (tmp_path / "broken.pdf").exists() and not list(tmp_path.glob(".*.part"))
    assert len(_exports(ctx, therapist)) == len(events)


def test_only_the_owner_exports_and_errors_are_clear(
    ctx: AppContext, therapist: UserInfo, wav: Path, tmp_path: Path
) -> None:
    info = session_with_note(ctx, therapist, wav)
    other = ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org")
    theirs = ExportService(ctx, other)
    for attempt in (
        lambda: theirs.copy_text_sync(info.id),
        lambda: theirs.write_sync(info.id, "docx", tmp_path / "stolen.docx"),
        lambda: theirs.suggested_name_sync(info.id, "pdf"),
        lambda: theirs.with_document_sync(info.id, "print", lambda doc: doc),
    ):
        with pytest.raises(NotFoundError, match="does not exist or belongs to someone else"):
            attempt()
    assert not (tmp_path / "stolen.docx").exists() and _exports(ctx, other) == []

    mine = ExportService(ctx, therapist)
    with pytest.raises(NotFoundError, match="not a session id"):
        mine.copy_text_sync("not-an-id")
    with pytest.raises(NotFoundError, match="does not exist"):
        mine.copy_text_sync(uuid.uuid4())
    bare = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=wav, consent_method="verbal", allow_duplicate=True)
    )
    with pytest.raises(NotFoundError, match="no note yet"):
        mine.write_sync(bare.id, "txt", tmp_path / "none.txt")
    with pytest.raises(NotFoundError, match="no note version 7"):
        mine.copy_text_sync(info.id, version=7)
    with pytest.raises(ValidationError, match="Unknown export format 'rtf'"):
        mine.write_sync(info.id, "rtf", tmp_path / "n.rtf")
    with pytest.raises(ValidationError, match="needs the app's PDF writer"):
        mine.write_sync(info.id, "pdf", tmp_path / "n.pdf")

    # Paths that cannot take the file.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ValidationError, match="The folder .*a-file does not exist"):
        mine.write_sync(info.id, "txt", blocker / "note.txt")
    with pytest.raises(ValidationError, match="could not be written to /proc/"):
        mine.write_sync(info.id, "txt", Path("/proc/tbdesktop-note.txt"))
    assert _exports(ctx, therapist) == []

    # Once the transcript is deleted it cannot be appended; the note alone still exports.
    SessionService(ctx, therapist).delete_transcript_sync(info.id)
    with pytest.raises(ValidationError, match="transcript of this session was deleted"):
        mine.copy_text_sync(info.id, transcript=True)
    assert "PROGRESS NOTE" in mine.copy_text_sync(info.id)


def test_an_earlier_version_exports_as_itself(ctx: AppContext, therapist: UserInfo, wav: Path) -> None:
    info = session_with_note(ctx, therapist, wav)
    write_note(ctx, therapist, info.id, generator="local")
    service = ExportService(ctx, therapist)
    latest = service.copy_text_sync(info.id).splitlines()
    assert "Note version: 2" in latest and "Drafted by: Draft from transcript quotes" in [
        line.split(" (")[0] for line in latest
    ]
    first = service.copy_text_sync(info.id, version=1).splitlines()
    assert "Note version: 1 of 2" in first
    assert any(line.startswith(f"Drafted by: Written by {MODEL}") for line in first)


@pytest.fixture
def db_ctx(db_url: str, make_settings: Any) -> Iterator[AppContext]:
    ctx = AppContext.open(make_settings(database_url=db_url if db_url.startswith("postgresql") else ""))
    yield ctx
    ctx.close()


def test_owner_only_and_audited_on_both_databases(db_ctx: AppContext, wav: Path, tmp_path: Path) -> None:
    """SQLite on a workstation, PostgreSQL in clinic mode: the same reads, refusals and audit rows."""
    profiles = ProfileService(db_ctx)
    dana = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
    sam = profiles.create_profile_sync("Sam Okafor", "sam@example.org")
    info = session_with_note(db_ctx, dana, wav, anonymous=True)
    NoteService(db_ctx, dana).sign_sync(info.id)

    result = ExportService(db_ctx, dana).write_sync(info.id, "docx", tmp_path / "n.docx", transcript=True)
    assert result.signed and result.transcript
    doc = docx_text(Path(result.path))
    assert phi_free(doc["body"]) and "Electronically signed by Dana Reyes on " in doc["body"]
    with pytest.raises(NotFoundError, match="belongs to someone else"):
        ExportService(db_ctx, sam).copy_text_sync(info.id)
    assert [(e.action, e.object_id) for e in _exports(db_ctx, dana)] == [
        ("note.export.docx+transcript", str(info.id))
    ]
    assert _exports(db_ctx, sam) == []
