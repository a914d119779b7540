"""`tbdesktop session export` as a user runs it: real processes on a real (encrypted) data folder, PDF through Qt
offscreen with no display, DOCX and text; --json; clear errors with exit code 1; the audit trail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from export_support import CLIENT, LINES, SESSION_DATE, docx_text, fill_session, pdf_pages, phi_free, tone_wav
from sqlalchemy import select

from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.store.models import AuditEvent

PASSCODE = "export-passcode-1"


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """``tbdesktop`` in a process of its own, with no display and no Qt platform set: the PDF writer has to
    manage without one."""
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"

    def run(*args: str, check: bool = True, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
        full = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
        full.update({"TB_SECRETS_DIR": str(tmp_path / "secrets"), "TB_PASSCODE": PASSCODE, **(env or {})})
        result = subprocess.run(
            [script, "--data-dir", str(tmp_path / "data"), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=300,
            stdin=subprocess.DEVNULL,
            cwd=cwd or tmp_path,
        )
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    return run


def _context(tmp_path: Path) -> AppContext:
    settings = Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets")
    return AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, PASSCODE))


@pytest.fixture
def session_id(cli: Any, tmp_path: Path) -> str:
    """A session of CLIENT imported with the CLI, then given a transcript and a draft note (as processing would)."""
    cli("user", "add", "Dana Reyes", "--email", "dana@example.org")
    wav = tone_wav(tmp_path / "audio")
    imported = cli(
        "session", "import", str(wav), "--client", CLIENT, "--date", SESSION_DATE.isoformat(),
        "--consent", "verbal", "--json",
    )  # fmt: skip
    sid = str(json.loads(imported.stdout)["id"])
    ctx = _context(tmp_path)
    try:
        user = ProfileService(ctx).list_profiles_sync()[0]
        fill_session(ctx, user, uuid.UUID(sid))
    finally:
        ctx.close()
    return sid


def _audit(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    ctx = _context(tmp_path)
    try:
        with ctx.db.unit_of_work() as s:
            rows = s.execute(
                select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
                .where(AuditEvent.action.like("note.export.%"))
                .order_by(AuditEvent.id)
            ).all()
            return [(a, t, o) for a, t, o in rows]
    finally:
        ctx.close()


def test_export_writes_pdf_docx_and_text(cli: Any, session_id: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Text, default name in the current folder, --json says what was written.
    done = json.loads(cli("session", "export", session_id, "--format", "txt", "--json", cwd=out).stdout)
    name = f"session-{SESSION_DATE.isoformat()}-{uuid.UUID(session_id).hex[:8]}.txt"
    path = out / name
    assert done == {
        "session_id": session_id,
        "path": str(path.resolve()),
        "format": "txt",
        "bytes": path.stat().st_size,
        "version": 1,
        "signed": False,
        "transcript": False,
    }
    assert path.read_text(encoding="utf-8").startswith("PROGRESS NOTE\n\nClinician: Dana Reyes\n")

    # PDF with the transcript, to a file named by --out: Qt draws it offscreen, with no display.
    pdf = out / "chosen.pdf"
    human = cli("session", "export", session_id, "--format", "pdf", "--transcript", "--out", str(pdf))
    assert human.stdout.startswith(f"Wrote {pdf.resolve()} (PDF, ") and "draft, with the transcript" in human.stdout
    pages = pdf_pages(pdf)
    text = " ".join(" ".join(pages).split())
    assert f"Client {CLIENT}" in text and "Status Draft — not signed" in text and LINES[2][1] in text
    assert all("DRAFT" in page and f"Page {i} of {len(pages)}" in page for i, page in enumerate(pages, 1))

    # DOCX into a folder: the file takes the default name.
    docx = json.loads(
        cli("session", "export", session_id, "--format", "docx", "--out", str(out), "--json").stdout
    )
    assert Path(docx["path"]).name == name.replace(".txt", ".docx") and docx["bytes"] > 0
    assert "Client: Marisol Quintero" in docx_text(Path(docx["path"]))["body"]

    # Once signed (with an addendum), --json says so and the file carries the signature.
    cli("session", "sign-note", session_id)
    cli("session", "addendum", session_id, "Client phoned on Monday: the sleep diary is going well.")
    signed = json.loads(
        cli("session", "export", session_id, "--format", "txt", "--out", str(out / "signed.txt"), "--json").stdout
    )
    assert signed["signed"] is True and signed["version"] == 1
    lines = (out / "signed.txt").read_text(encoding="utf-8").splitlines()
    signature = next(i for i, line in enumerate(lines) if line.startswith("Electronically signed by Dana Reyes on "))
    assert lines[signature + 2].startswith("Addendum — ") and lines[signature + 3].startswith("Client phoned")

    assert _audit(tmp_path) == [
        ("note.export.txt", "therapy_session", session_id),
        ("note.export.pdf+transcript", "therapy_session", session_id),
        ("note.export.docx", "therapy_session", session_id),
        ("note.export.txt", "therapy_session", session_id),
    ]


def test_an_anonymous_session_exports_without_the_name(cli: Any, session_id: str, tmp_path: Path) -> None:
    cli("session", "anonymous", session_id, "on")
    out = tmp_path / "anon"
    out.mkdir()
    for fmt in ("txt", "docx", "pdf"):
        for transcript in ([], ["--transcript"]):
            target = out / f"note{'-t' if transcript else ''}.{fmt}"
            cli("session", "export", session_id, "--format", fmt, *transcript, "--out", str(target))
            if fmt == "txt":
                text = target.read_text(encoding="utf-8")
            elif fmt == "docx":
                doc = docx_text(target)
                text = doc["body"] + doc["header"] + doc["footer"]
            else:
                text = " ".join(pdf_pages(target))
            assert phi_free(text), (fmt, transcript)
            assert "Anonymous individual" in text
            assert ("[client] family dinner" in " ".join(text.split())) is bool(transcript), (fmt, transcript)


def test_export_errors_are_clear_with_exit_code_1(cli: Any, session_id: str, tmp_path: Path) -> None:
    def refused(*args: str, env: dict[str, str] | None = None) -> str:
        result = cli("session", "export", *args, check=False, env=env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
        return str(result.stderr)

    assert "'nope' is not a session id" in refused("nope", "--format", "pdf")
    assert "does not exist or belongs to someone else" in refused(str(uuid.uuid4()), "--format", "txt")
    assert "no note version 9" in refused(session_id, "--format", "txt", "--note-version", "9")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert "does not exist" in refused(session_id, "--format", "txt", "--out", str(blocker / "n.txt"))
    assert "could not be written to /proc/" in refused(session_id, "--format", "pdf", "--out", "/proc/n.pdf")
    assert "could not be written to /proc/" in refused(session_id, "--format", "docx", "--out", "/proc/n.docx")

    # A session without a note yet.
    wav = tone_wav(tmp_path / "audio")
    bare = json.loads(
        cli("session", "import", str(wav), "--consent", "verbal", "--allow-duplicate", "--json").stdout
    )["id"]
    assert "no note yet" in refused(bare, "--format", "docx")

    # Another therapist's session: refused as if it did not exist.
    cli("user", "add", "Sam Okafor", env={"TB_PASSCODE": PASSCODE, "TB_NEW_PASSCODE": "sam-passcode-1"})
    as_sam = {"TB_USER": "Sam Okafor", "TB_PASSCODE": "sam-passcode-1"}
    assert "does not exist or belongs to someone else" in refused(session_id, "--format", "txt", env=as_sam)
    assert not [p for p in tmp_path.rglob("*") if p.suffix in {".pdf", ".docx", ".part"}]
    assert _audit(tmp_path) == []

    usage = cli("session", "export", session_id, "--format", "rtf", check=False)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
