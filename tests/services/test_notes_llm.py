"""Notes by a GGUF model through the real worker process: written, stored with what the checks removed and where
each flag came from; a worker killed mid-note is retried; a missing model gives the draft and says why."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from llm_support import note_model_file
from polling import until_async
from tests_support import run_queue_once, session_with_transcript

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.notes import NoteService
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.models import ProcessingJob

SCRIPT = [
    ("therapist", "How have you been since last week?"),
    ("client", "Not great. I have not been sleeping, maybe four hours a night."),
    ("client", "Sometimes I think everyone would be better off if I was not here."),
    ("therapist", "Have you had thoughts of ending your life?"),
    ("client", "I have thought about it, but I do not have a plan."),
    ("therapist", "Let's write a safety plan together, and you can call the crisis line any time."),
    ("client", "Okay, I can do that."),
]


SHORT_SOAP = {  # word limits keep the test model's answers short
    "sections": [
        {"key": "subjective", "title": "Subjective", "instructions": "What the client reported.", "max_words": 40},
        {"key": "assessment", "title": "Assessment", "instructions": "The clinical picture.", "max_words": 40},
        {"key": "plan", "title": "Plan", "instructions": "Next steps agreed.", "max_words": 30},
    ]
}


def _short_note(ctx: AppContext, user: Any, session_id: Any) -> None:
    TemplateService(ctx, user).create_sync("Short SOAP", SHORT_SOAP)
    NoteService(ctx, user).regenerate_sync(session_id, "Short SOAP")


def _llm_settings(make_settings: Any, model: Path) -> Any:
    return make_settings(notes_backend="llm", notes_model=str(model), notes_threads=1, notes_context=4096)


def test_a_model_note_through_the_worker_is_stored_with_its_checks(make_settings: Any, two_speaker: Any) -> None:
    ctx = AppContext.open(_llm_settings(make_settings, note_model_file()))
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        info = session_with_transcript(ctx, user, two_speaker[0], SCRIPT)
        _short_note(ctx, user, info.id)
        run_queue_once(ctx, user)
        notes = NoteService(ctx, user)
        note = notes.get_sync(info.id)
        flags = notes.risk_flags_sync(info.id)
        session = SessionService(ctx, user).get_sync(info.id)
    finally:
        ctx.close()
    assert note.generator == "llm:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert note.written_by == "Written by SmolLM2-135M-Instruct.Q4_1.gguf" and not note.is_local_draft
    assert note.removed_statements >= 0
    if note.removed_statements:
        assert f"{note.removed_statements} statement" in note.warnings[0]
    si = [f for f in flags if f.kind == "suicidal_ideation" and f.severity != "denied"]
    assert si and all(f.source in ("rules", "rules+model", "model") for f in si)
    assessment = next(s for s in note.sections if s.key == "assessment")
    assert any(s.text.startswith("Suicidal ideation") for s in assessment.sentences)
    assert any(s.text.startswith("Safety step") and s.evidence[0] == 5 for s in assessment.sentences)
    assert session.status == "completed" and session.ai_summary


def test_a_missing_model_gives_the_transcript_draft_and_says_why(
    make_settings: Any, two_speaker: Any, tmp_path: Path
) -> None:
    ctx = AppContext.open(_llm_settings(make_settings, tmp_path / "removed-by-it.gguf"))
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        info = session_with_transcript(ctx, user, two_speaker[0], SCRIPT)
        _short_note(ctx, user, info.id)
        run_queue_once(ctx, user)
        note = NoteService(ctx, user).get_sync(info.id)
        segments = SessionService(ctx, user).transcript_sync(info.id)
    finally:
        ctx.close()
    assert note.generator == "local" and note.written_by == "Draft from transcript quotes"
    assert "removed-by-it.gguf was not found" in note.warnings[0]
    assert "draft from transcript quotes" in note.warnings[0]
    assert len(segments) == len(SCRIPT)  # nothing else lost


def test_a_worker_killed_while_the_model_writes_is_retried_and_the_note_written_once(
    make_settings: Any, two_speaker: Any
) -> None:
    ctx = AppContext.open(_llm_settings(make_settings, note_model_file()))
    killed: list[int] = []
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        info = session_with_transcript(ctx, user, two_speaker[0], SCRIPT)
        _short_note(ctx, user, info.id)
        runner = ProcessingRunner(ctx, owner_ids=[user.id])
        seen: list[ProgressEvent] = []
        runner.add_listener(seen.append)

        async def go() -> int:
            task = asyncio.ensure_future(runner.run_until_idle())
            # until the model is writing (an ETA comes from its measured tokens/s)
            await until_async(
                lambda: any(e.status == "generating_notes" and e.eta_seconds is not None for e in seen),
                120,
                "the note model to write",
            )
            pid = runner.worker_pid
            assert pid is not None, "the note never started"
            os.killpg(pid, signal.SIGKILL)
            killed.append(pid)
            try:
                return await task
            finally:
                await runner.stop()

        assert asyncio.run(go()) == 2  # the killed attempt and the retry
        notes = NoteService(ctx, user)
        note = notes.get_sync(info.id)
        with ctx.db.unit_of_work() as s:
            jobs = s.query(ProcessingJob).filter(ProcessingJob.session_id == info.id).all()
            kinds = sorted((j.kind, j.status, j.attempts) for j in jobs)
    finally:
        ctx.close()
    assert killed
    assert note.version == 1 and note.versions == [1]  # written once
    assert note.generator.startswith("llm:")
    assert ("regenerate_notes", "completed", 2) in kinds
