"""The notes panel says who wrote the note (the transcript-quote draft or a model, by its file), what the checks
removed, and where each risk flag came from — read from the database through the real services, as is the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, services_support

from tbdesktop import cli
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.notes import stored_sections
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.ui.session_view import SessionView

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support", "pipewire", "PulseAudioService"),
]

Shot = Callable[..., Path]
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
LINES = [
    ("therapist", "How have you been since we last met?"),
    ("client", "Honestly some days I wish I could just disappear, but I would never act on it."),
    ("therapist", "Thank you for telling me. Do you have any plan to hurt yourself?"),
    ("client", "No plan. I have been drinking a bit more on weekends though."),
    ("therapist", "Let's keep the crisis line number handy and talk about the drinking next time."),
]
REMOVED = "2 statements removed: not supported by the transcript."
CUT_OFF = "The model's answer for Plan was cut off; that section may be incomplete."
FLAGS = [
    {
        "kind": "suicidal_ideation",
        "severity": "moderate",
        "quote": "some days I wish I could just disappear",
        "segment_idx": 1,
        "source": "rules+model",
        "detail": "passive ideation; denies a plan",
    },
    {
        "kind": "substance_use",
        "severity": "low",
        "quote": "drinking a bit more on weekends",
        "segment_idx": 3,
        "source": "model",
        "detail": "",
    },
]


def _sections(generator: str) -> dict[str, Any]:
    return {
        "sections": [
            {
                "key": "subjective",
                "title": "Subjective",
                "text": "Client reports passive thoughts of disappearing and denies a plan.",
                "sentences": [{"text": "Client reports passive thoughts of disappearing.", "evidence": [1, 3]}],
            },
            {"key": "plan", "title": "Plan", "text": "Crisis line kept at hand.", "sentences": []},
        ],
        "generator": generator,
    }


def _write(
    ctx: AppContext, user: UserInfo, session_id: uuid.UUID, generator: str, removed: int, warns: list[str]
) -> None:
    soap = TemplateService(ctx, user).get_sync("SOAP")
    with ctx.db.unit_of_work() as s:
        writer = SystemNoteWriter(s)
        writer.add_version(
            session_id,
            soap.id,
            stored_sections(_sections(generator)),
            generator,
            removed_statements=removed,
            warnings=warns,
        )
        writer.replace_flags(session_id, FLAGS)


@pytest.fixture
def model_note(ui_ctx: AppContext, therapist: UserInfo, speech_session: tuple[Path, Any]) -> uuid.UUID:
    info = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES)
    _write(ui_ctx, therapist, info.id, f"llm:{MODEL}", 2, [REMOVED, CUT_OFF])
    return info.id  # type: ignore[no-any-return]


def test_panel_shows_the_author_the_removed_statements_and_the_flag_sources(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, model_note: uuid.UUID, screenshot: Shot
) -> None:
    view = SessionView(AppServices.compose(ui_ctx, therapist))
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    aio.run(view.open(model_note))
    panel = view.notes_panel
    assert panel.written_by.isVisible() and panel.written_by.text() == f"Written by {MODEL}"
    assert panel.written_by.property("kind") == "model" and "language model" in panel.written_by.toolTip()
    assert panel.notices_label.isVisible()
    assert panel.notices_label.text() == f"⚠ {REMOVED}\n⚠ {CUT_OFF}"  # the count once, then the other warning
    flags = panel.flags_label.text()
    assert "Suicidal ideation (moderate) — passive ideation; denies a plan" in flags
    assert "found by rules + model" in flags and "found by the model" in flags
    assert "Substance use (low)" in flags
    screenshot(view, "session-view-model-note")

    # A later version drafted from transcript quotes says so, and has nothing removed to report.
    _write(ui_ctx, therapist, model_note, "local", 0, [])
    aio.run(view.open(model_note))
    assert panel.written_by.text() == "Draft from transcript quotes" and panel.written_by.property("kind") == "draft"
    assert "quotes what was said" in panel.written_by.toolTip()
    assert not panel.notices_label.isVisible()


def test_cli_shows_the_author_the_removed_statements_and_the_flag_sources(
    ui_ctx: AppContext, model_note: uuid.UUID, capsys: Any
) -> None:
    data_dir = str(ui_ctx.settings.data_dir)
    assert cli.main(["session", "notes", str(model_note), "--data-dir", data_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:4] == [f"Written by {MODEL}", f"! {REMOVED}", f"! {CUT_OFF}"]
    assert cli.main(["session", "show", str(model_note), "--data-dir", data_dir]) == 0
    out = capsys.readouterr().out
    assert (
        "Risk      suicidal ideation, moderate — passive ideation; denies a plan (line 1; rules + model): "
        "“some days I wish I could just disappear”" in out
    )
    assert "Risk      substance use, low (line 3; model): “drinking a bit more on weekends”" in out
