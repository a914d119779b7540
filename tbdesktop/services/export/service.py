"""Exporting a progress note: copy as text, write a PDF, DOCX or text file, print — owner-only and audited.

Every export reads the note through the repositories that filter by the signed-in user and records who exported
which session, how and when (never any content) in the same transaction. The PDF and print renderers are Qt's and
live in the ui package; the caller hands them in, so this layer stays free of Qt."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import masked_segment, segment_info
from tbdesktop.services.dto import JsonMixin, UserInfo
from tbdesktop.services.export.document import FORMATS, ExportDocument, build_document, default_file_name
from tbdesktop.services.export.text import render_text
from tbdesktop.services.export.word import render_docx
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.notes import NoteService
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.profiles import practice_name_of
from tbdesktop.services.session_views import describe
from tbdesktop.store.models import User
from tbdesktop.store.note_repositories import NoteRepository
from tbdesktop.store.repositories import AuditRepository, SessionRepository

log = logging.getLogger(__name__)

T = TypeVar("T")
Renderer = Callable[[ExportDocument, Path], None]
KINDS = (*FORMATS, "copy", "print")


def _write_text(doc: ExportDocument, path: Path) -> None:
    path.write_text(render_text(doc), encoding="utf-8")


RENDERERS: dict[str, Renderer] = {"txt": _write_text, "docx": render_docx}


def audit_action(kind: str, transcript: bool) -> str:
    """``note.export.pdf``, ``note.export.copy+transcript``, …: the kind of export, never what it held."""
    return f"note.export.{kind}" + ("+transcript" if transcript else "")


@dataclass(frozen=True)
class ExportResult(JsonMixin):
    """What an export wrote: where, in which format, how many bytes, which note version, signed or not."""

    session_id: uuid.UUID
    path: str
    format: str
    bytes: int
    version: int
    signed: bool
    transcript: bool


class ExportService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    # -- reading ------------------------------------------------------------------------------------------------

    def suggested_name_sync(self, session_id: uuid.UUID | str, fmt: str) -> str:
        """The file name offered for an export: the session's date and short id, no name (mine only)."""
        sid = parse_session_id(session_id)
        fmt = _format(fmt)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(sid)
            return default_file_name(row.session_date, row.id, fmt)

    suggested_name = off_loop(suggested_name_sync)

    def _document(self, s: Any, session_id: uuid.UUID, transcript: bool, version: int | None) -> ExportDocument:
        sessions = SessionRepository(s, self.user.id)
        row = sessions.get(session_id)  # someone else's session is refused here
        notes = NoteRepository(s, self.user.id)
        note = notes.get(session_id, version)
        hidden = sessions.hidden_client_name(session_id)
        info = NoteService(self.ctx, self.user).note_info(s, notes, note)
        signer = s.get(User, note.signed_by) if note.signed_by is not None else None
        segments = None
        if transcript:
            if row.transcript_deleted_at is not None:
                raise ValidationError(
                    "The transcript of this session was deleted, so it cannot be added to the export; "
                    "export the note without it."
                )
            segments = [masked_segment(segment_info(seg), hidden) for seg in sessions.segments(session_id)]
        practice = practice_name_of(s.get(User, self.user.id))
        return build_document(
            describe(s, self.user, row),
            info,
            clinician=self.user.display_name,
            practice=practice,
            signed_by=signer.display_name if signer is not None else None,
            segments=segments,
            hidden_name=hidden,
        )

    def with_document_sync(
        self,
        session_id: uuid.UUID | str,
        kind: str,
        use: Callable[[ExportDocument], T],
        *,
        transcript: bool = False,
        version: int | None = None,
    ) -> T:
        """Build the export of a session's note (the latest, or ``version``), hand it to ``use`` (a renderer, the
        printer) and record the export in the audit trail once ``use`` has returned. Nothing is recorded when it
        fails."""
        if kind not in KINDS:
            raise ValidationError(f"Unknown export '{kind}': use {', '.join(KINDS)}.")
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            doc = self._document(s, sid, transcript, version)
            result = use(doc)
            AuditRepository(s, self.user.id, self.ctx.workstation).record(
                audit_action(kind, transcript), "therapy_session", sid
            )
        log.info("note exported", extra={"session_id": str(sid), "kind": kind, "transcript": transcript})
        return result

    with_document = off_loop(with_document_sync)

    # -- copying ------------------------------------------------------------------------------------------------

    def copy_text_sync(
        self, session_id: uuid.UUID | str, *, transcript: bool = False, version: int | None = None
    ) -> str:
        """The note as plain text for the clipboard (audited as a copy)."""
        return self.with_document_sync(session_id, "copy", render_text, transcript=transcript, version=version)

    copy_text = off_loop(copy_text_sync)

    # -- files --------------------------------------------------------------------------------------------------

    def write_sync(
        self,
        session_id: uuid.UUID | str,
        fmt: str,
        path: str | Path,
        *,
        transcript: bool = False,
        version: int | None = None,
        renderer: Renderer | None = None,
    ) -> ExportResult:
        """Write the note to ``path`` as ``fmt`` (pdf needs the Qt renderer handed in as ``renderer``). The file
        appears whole or not at all: it is written beside its place under a temporary name, then moved there."""
        fmt = _format(fmt)
        render = renderer or RENDERERS.get(fmt)
        if render is None:
            raise ValidationError(f"Writing {fmt.upper()} files needs the app's {fmt.upper()} writer.")
        target = Path(path).expanduser()
        if target.is_dir():
            raise ValidationError(f"{target} is a folder: give a file name.")
        if not target.parent.is_dir():
            raise ValidationError(f"The folder {target.parent} does not exist.")
        written: list[Path] = []

        def write(doc: ExportDocument) -> ExportResult:
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                render(doc, temporary)
                size = temporary.stat().st_size
                os.replace(temporary, target)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise ValidationError(f"The note could not be written to {target}: {reason}.") from exc
            finally:
                temporary.unlink(missing_ok=True)
            written.append(target)
            return ExportResult(
                session_id=doc.session_id,
                path=str(target.resolve()),
                format=fmt,
                bytes=size,
                version=doc.version,
                signed=doc.signed,
                transcript=doc.transcript is not None,
            )

        try:
            return self.with_document_sync(session_id, fmt, write, transcript=transcript, version=version)
        except BaseException:
            for done in written:  # written, but the export could not be recorded: take it back
                done.unlink(missing_ok=True)
            raise

    write = off_loop(write_sync)


def _format(fmt: str) -> str:
    clean = (fmt or "").strip().lower().lstrip(".")
    if clean not in FORMATS:
        raise ValidationError(f"Unknown export format '{fmt}': use {', '.join(FORMATS)}.")
    return clean
