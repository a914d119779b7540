"""Sessions with a stored transcript and a note written through the services (no processing run), and readers of
the exported files: what the export tests of the services, the window and the CLI share."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import uuid
import wave
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from docx import Document

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import SessionInfo, UserInfo
from tbdesktop.services.notes import stored_sections
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import ProcessingJob, ProcessingStatus, TherapySession, TranscriptSegment
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.store.repositories import SystemSegmentWriter

CLIENT = "Marisol Quintero"
NAME_PARTS = ("marisol", "quintero")
SESSION_DATE = date(2026, 12, 4)
RECORDED_AT = datetime(2026, 12, 4, 14, 5, tzinfo=UTC)
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
LINES = [
    ("therapist", "Welcome back, Marisol. How has the week been since we last met?"),
    ("client", "Busy. The Quintero family dinner on Sunday was hard, but I used the breathing exercise."),
    ("therapist", "What did you notice in your body when the argument started?"),
    ("client", "My chest got tight and I wanted to leave, so I stepped outside for five minutes."),
    ("therapist", "For next week, keep the sleep diary and try the breathing exercise every evening."),
]
SECTIONS = [
    ("subjective", "Subjective", "Marisol reports a hard family dinner and used the breathing exercise."),
    ("objective", "Objective", "Client was calm, engaged and described bodily cues of anxiety clearly."),
    ("assessment", "Assessment", "Coping skills are emerging; Quintero family conflict remains a stressor."),
    ("plan", "Plan", "Keep the sleep diary; practise the breathing exercise every evening."),
]
REMOVED_WARNING = "2 statements removed: not supported by the transcript."
CUT_OFF = "The model's answer for Plan was cut off; that section may be incomplete."


def tone_wav(folder: Path) -> Path:
    """Two seconds of a quiet tone: a recording the import accepts (no speech needed, nothing is processed)."""
    path = folder / "tone.wav"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(2 * rate)
    )
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(frames)
    return path


def session_with_note(
    ctx: AppContext,
    user: UserInfo,
    wav: Path,
    *,
    anonymous: bool = False,
    lines: list[tuple[str, str]] | None = None,
    generator: str = f"llm:{MODEL}",
) -> SessionInfo:
    """A processed session of ``CLIENT`` on ``SESSION_DATE`` (50 minutes): its transcript, the client's voice
    named after them, and a draft note (version 1) written by a model, two statements removed."""
    service = SessionService(ctx, user)
    info = service.import_recording_sync(
        ImportRequest(
            source=wav,
            client_name=CLIENT,
            session_date=SESSION_DATE,
            consent_method="verbal",
            allow_duplicate=True,
        )
    )
    fill_session(ctx, user, info.id, lines=lines, generator=generator)
    if anonymous:
        service.set_anonymous_sync(info.id, True)
    return service.get_sync(info.id)


def fill_session(
    ctx: AppContext,
    user: UserInfo,
    session_id: uuid.UUID,
    *,
    lines: list[tuple[str, str]] | None = None,
    generator: str = f"llm:{MODEL}",
) -> None:
    """An imported session as processing leaves it: 50 minutes, its transcript, the client's voice named after
    them, and a draft note (version 1) written by a model, two statements removed."""
    chosen = lines if lines is not None else LINES
    with ctx.db.unit_of_work() as s:
        for job in s.query(ProcessingJob).filter(ProcessingJob.session_id == session_id):
            job.status = "completed"
        segments = [
            TranscriptSegment(
                session_id=session_id,
                idx=i,
                start_s=i * 7.5,
                end_s=i * 7.5 + 7.0,
                speaker="SPEAKER_00" if role == "therapist" else "SPEAKER_01",
                role=role,
                text=text,
                words=[],
            )
            for i, (role, text) in enumerate(chosen)
        ]
        SystemSegmentWriter(s).replace(session_id, segments)
        row = s.get(TherapySession, session_id)
        assert row is not None
        row.processing_status = ProcessingStatus.COMPLETED
        row.processing_progress = 100
        row.duration_mins = 50.0
        row.created_at = RECORDED_AT
        row.speakers = {
            "SPEAKER_00": {"role": "therapist", "name": user.display_name},
            "SPEAKER_01": {"role": "client", "name": CLIENT.split()[0]},
        }
    write_note(ctx, user, session_id, generator)


def write_note(ctx: AppContext, user: UserInfo, session_id: uuid.UUID, generator: str = f"llm:{MODEL}") -> None:
    """A new note version (draft) as the notes worker writes it."""
    soap = TemplateService(ctx, user).get_sync("SOAP")
    generated = {
        "sections": [
            {"key": key, "title": title, "sentences": [{"text": text, "evidence": [1]}]}
            for key, title, text in SECTIONS
        ]
    }
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).add_version(
            session_id,
            soap.id,
            stored_sections(generated),
            generator,
            removed_statements=2,
            warnings=[REMOVED_WARNING, CUT_OFF],
        )


def long_lines(count: int) -> list[tuple[str, str]]:
    """A long conversation (the transcript appendix takes several pages)."""
    return [
        (
            "therapist" if i % 2 == 0 else "client",
            f"Line {i}: we talked about the week, the sleep diary and what helps when the evenings get hard.",
        )
        for i in range(count)
    ]


# -- reading exports back -----------------------------------------------------------------------------------------


def pdf_pages(path: Path) -> list[str]:
    """The text of each page of a PDF, read with pdftotext (poppler-utils, installed by scripts/system-deps.sh)."""
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: run `bash scripts/system-deps.sh test`"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    out = []
    for page in range(1, pages + 1):
        text = subprocess.run(
            [tool, "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out.append(text)
    return out


def draft_marks(path: Path, folder: Path) -> list[bool]:
    """For each page of a PDF (drawn by pdftoppm, read with Qt): whether a light red mark crosses it diagonally,
    rising from the lower left to the upper right — the DRAFT watermark."""
    import numpy as np
    from PySide6.QtGui import QImage

    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(folder / "page")], check=True)
    out = []
    for png in sorted(folder.glob("page-*.png")):
        image = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB888)
        width, height = image.width(), image.height()
        raw = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
        rgb = raw[:, : width * 3].reshape(height, width, 3).astype(int)
        red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        ys, xs = np.nonzero((red > 200) & (red - green > 8) & (red - blue > 8))
        share = len(xs) / (width * height)
        rising = len(xs) > 10 and float(np.corrcoef(xs, ys)[0, 1]) < -0.5  # image y grows downwards
        centred = len(xs) > 10 and abs(xs.mean() - width / 2) < width / 8 and abs(ys.mean() - height / 2) < height / 8
        out.append(share > 0.02 and rising and centred)
    return out


def docx_text(path: Path) -> dict[str, Any]:
    """A DOCX file's body text (paragraphs and table cells, in order), its header and footer text, and the field
    codes of its footer."""
    doc = Document(str(path))
    body: list[str] = []
    for block in doc.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            body.append("".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for row in block.iter():
                if row.tag.endswith("}tr"):
                    cells = [
                        "".join(t.text or "" for t in cell.iter() if t.tag.endswith("}t"))
                        for cell in row
                        if cell.tag.endswith("}tc")
                    ]
                    body.append(": ".join(cells))
    section = doc.sections[0]
    footer_xml = section.footer._element.xml
    return {
        "body": "\n".join(body),
        "header": "\n".join(p.text for p in section.header.paragraphs),
        "footer": "\n".join(p.text for p in section.footer.paragraphs),
        "footer_fields": [code.strip() for code in _instr(footer_xml)],
        "core_title": doc.core_properties.title,
        "core_author": doc.core_properties.author,
    }


def _instr(xml: str) -> list[str]:
    import re

    return re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", xml)


def when_line() -> str:
    """The "Date and time" an export shows for a session recorded at RECORDED_AT, in this computer's zone."""
    here = RECORDED_AT.astimezone()
    words = f"{SESSION_DATE:%A} {SESSION_DATE.day} {SESSION_DATE:%B %Y}"
    return words + (f", {here:%H:%M} {here.tzname()}" if here.date() == SESSION_DATE else "")


def phi_free(text: str) -> bool:
    """No part of the client's name, in any case."""
    lowered = text.lower()
    return not any(part in lowered for part in NAME_PARTS)
