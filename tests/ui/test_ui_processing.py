"""The whole flow with the real worker process and the real offline model: import → progress → transcript."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot
from ui_support import ARTIFACT_DIR, AsyncDriver, make_window

from tbdesktop.app import processing_for_window
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent, UserInfo
from tbdesktop.services.sessions import ImportRequest, SessionService

pytestmark = pytest.mark.slow

JOB_TIMEOUT_S = 180.0


def _words(text: str) -> set[str]:
    return {w.strip(".,?!;:").lower() for w in text.split()}


def test_import_progress_and_transcript_with_real_worker(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
    screenshot: Any,
) -> None:
    wav, turns = speech_session
    runner = processing_for_window(ui_ctx, therapist)  # as the app runs it: on its own thread
    window = make_window(qtbot, ui_ctx, therapist, runner, size=(1040, 720))
    page = window.sessions_page
    events: list[ProgressEvent] = []
    card_progress_seen: list[int] = []

    def observe(event: object) -> None:
        assert isinstance(event, ProgressEvent)
        events.append(event)
        card = page.card(event.session_id)
        if card is not None and card.progress_bar.isVisible():
            card_progress_seen.append(card.progress_bar.value())

    window.bridge.progress.connect(observe)

    async def scenario() -> None:
        await runner.start()
        await window.refresh()
        assert page.stack.currentWidget() is page.empty_state

        # Import through the dialog (path set programmatically instead of the native file picker).
        qtbot.mouseClick(window.import_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None
        dialog.set_file_path(wav)
        dialog.set_client_text("Jordan Lee")
        dialog.set_consent("verbal")
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

        await aio.until(
            lambda: (
                window.imports.processing_dialog is not None and window.imports.processing_dialog.session_id is not None
            ),
            message="the import to finish",
        )
        progress_dialog = window.imports.processing_dialog
        assert progress_dialog is not None and progress_dialog.isVisible()
        session_id = progress_dialog.session_id
        assert session_id is not None
        imported_at = time.perf_counter()
        await aio.until(
            lambda: any(e.session_id == session_id and e.status != "queued" for e in events),
            message="the first processing step",
        )
        first_step_s = time.perf_counter() - imported_at
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        (ARTIFACT_DIR / "ui-first-progress.json").write_text(json.dumps({"first_progress_ms": first_step_s * 1000}))
        assert first_step_s < 10.0  # the goal is under 2 s; this only catches a job that never starts
        await aio.until(lambda: page.card(session_id) is not None, message="the session card")
        card = page.card(session_id)
        assert card is not None
        assert card.client_label.text() == "Jordan Lee"
        assert page.stack.currentWidget() is page.list_scroll

        # Mid-processing: the card and the dialog show stage words and a moving progress bar.
        await aio.until(
            lambda: card.status in {"transcribing", "diarizing", "completed"},
            timeout=JOB_TIMEOUT_S,
            message="transcription to start",
        )
        if card.status == "transcribing":
            screenshot(window, "sessions-list-processing")
            screenshot(progress_dialog, "processing-dialog")

        await aio.until(lambda: card.status == "completed", timeout=JOB_TIMEOUT_S, message="processing to finish")
        await aio.until(lambda: progress_dialog.open_button.isVisible())
        await aio.until(lambda: card.open_button.isVisible())
        assert "processing" not in page.subtitle.text()
        screenshot(progress_dialog, "processing-dialog-done")
        screenshot(window, "sessions-list")

        qtbot.mouseClick(progress_dialog.open_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: window.stack.currentWidget() is window.session_view, message="the session view")
        await aio.until(lambda: bool(window.session_view.rows()))

    try:
        aio.run(scenario(), timeout=JOB_TIMEOUT_S + 120)
    finally:
        aio.run(runner.stop())

    statuses = [e.status for e in events]
    assert "transcribing" in statuses and statuses[-1] == "completed", statuses
    assert any(0 < p < 100 for p in card_progress_seen), card_progress_seen

    view = window.session_view
    rows = view.rows()
    said = set().union(*(_words(r) for r in rows))
    expected = {"morning", "sleeping", "breathing", "exercise", "diary"}
    assert len(expected & said) >= 3, (expected, rows)
    for row in rows:
        stamp, speaker, text = row.split("  ", 2)
        assert stamp[-3] == ":" and stamp.replace(":", "").isdigit(), row
        assert speaker in {"Therapist", "Client"} and text, row
    first = [r for r in rows if "morning" in r.lower()]
    assert first and first[0].split("  ")[1] == "Therapist", rows
    assert "morning" in view.transcript.toPlainText().lower()
    assert view.title_label.text() == "Jordan Lee"
    assert len(turns) >= 2
    window.resize(1040, 720)
    screenshot(window, "session-view")

    # Correct a role in the speakers bar: stored on the session and on every transcript row of that speaker.
    bar = view.speakers_bar
    assert {s: c.currentData() for s, c in bar.combos.items()} == {"SPEAKER_00": "therapist", "SPEAKER_01": "client"}
    combo = bar.combos["SPEAKER_01"]
    combo.setCurrentIndex(combo.findData("partner"))

    async def relabelled() -> None:
        # what a user action starts runs on the loop, as in the app (never between two runs of the loop)
        combo.activated.emit(combo.currentIndex())
        await aio.until(lambda: any("  Partner  " in r for r in view.rows()), message="the new role to show")

    aio.run(relabelled(), timeout=30)
    stored = SessionService(ui_ctx, therapist)
    session = stored.get_sync(view.session_id)
    assert session.speakers["SPEAKER_01"]["role"] == "partner"
    assert {s.role for s in stored.transcript_sync(view.session_id) if s.speaker == "SPEAKER_01"} == {"partner"}
    screenshot(window, "session-view-role-changed")

    # The notes panel: the note written with processing, evidence links, regenerate with another template, sign.
    panel = view.notes_panel
    note = panel.note
    assert note is not None and note.template_name == "SOAP" and note.version == 1
    assert panel.template_combo.currentText().startswith("SOAP")  # the picker starts at the note's template
    assert panel.draft_badge.isVisible() and panel.sign_button.isEnabled()
    cited = [i for s in note.sections for x in s.sentences for i in x.evidence]
    assert cited, [s.text for s in note.sections]
    panel.evidenceRequested.emit([cited[0]])
    assert view.highlighted == {cited[0]}
    assert view.summary_label.text() == stored.get_sync(view.session_id).ai_summary != ""
    screenshot(window, "session-view-notes")

    panel.template_combo.setCurrentIndex(panel.template_combo.findText("DAP"))

    async def regenerated() -> None:
        qtbot.mouseClick(panel.regenerate_button, Qt.MouseButton.LeftButton)  # on the running loop, as in the app
        await aio.until(lambda: panel.progress.isVisible(), message="notes progress", timeout=30)
        await aio.until(
            lambda: panel.note is not None and panel.note.version == 2, timeout=JOB_TIMEOUT_S, message="version 2"
        )

    aio.run(runner.start())
    try:
        aio.run(regenerated(), timeout=JOB_TIMEOUT_S + 30)
    finally:
        aio.run(runner.stop())
    assert panel.note is not None and panel.note.template_name == "DAP"
    assert [s.key for s in panel.note.sections] == ["data", "assessment", "plan"]
    assert not panel.progress.isVisible() and panel.version_combo.isVisible()
    assert panel.version_combo.count() == 2

    async def signed() -> None:
        qtbot.mouseClick(panel.sign_button, Qt.MouseButton.LeftButton)
        assert panel.sign_dialog is not None  # a review step first
        qtbot.mouseClick(panel.sign_dialog.findChild(QPushButton, "confirmSignButton"), Qt.MouseButton.LeftButton)
        await aio.until(lambda: panel.note is not None and panel.note.status == "signed", message="signing")

    aio.run(signed(), timeout=30)
    assert panel.edit_button.text() == "Add addendum" and not panel.sign_button.isEnabled()
    assert "signed" in panel.body.toPlainText()
    screenshot(window, "session-view-note-signed")


def test_event_loop_stays_responsive_while_processing(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
) -> None:
    """A 10 ms timer on the GUI loop while a real job runs: the loop keeps turning through every stage of the job
    (how late it ever was is recorded as an artifact; its target is measured by `make bench`, not asserted here)."""
    wav, _ = speech_session
    service = SessionService(ui_ctx, therapist)
    runner = processing_for_window(ui_ctx, therapist)  # as the app runs it: on its own thread
    window = make_window(qtbot, ui_ctx, therapist, runner, sessions=service)
    interval_ms = 10
    gaps: list[float] = []
    last = [time.perf_counter()]

    statuses_at_ticks: set[str] = set()
    watched: list[uuid.UUID] = []

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        last[0] = now
        card = window.sessions_page.card(watched[0]) if watched else None
        if card is not None:
            statuses_at_ticks.add(card.status)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(interval_ms)
    timer.timeout.connect(tick)

    async def scenario() -> str:
        await runner.start()
        await window.refresh()
        last[0] = time.perf_counter()
        timer.start()
        info = await window.imports.run_import(
            ImportRequest(source=wav, client_name="Casey Brooks", consent_method="verbal")
        )
        assert info is not None
        watched.append(info.id)

        def finished() -> bool:
            card = window.sessions_page.card(info.id)
            return card is not None and card.status in {"completed", "failed", "cancelled"}

        await aio.until(finished, timeout=JOB_TIMEOUT_S, message="processing to finish")
        # the loop keeps turning after the job ends: a tick sees the finished card before the timer stops
        await aio.until(lambda: bool(statuses_at_ticks & {"completed", "failed", "cancelled"}), timeout=10)
        timer.stop()
        card = window.sessions_page.card(info.id)
        assert card is not None
        return card.status

    try:
        status = aio.run(scenario(), timeout=JOB_TIMEOUT_S + 60)
    finally:
        timer.stop()
        aio.run(runner.stop())
    assert status == "completed"

    assert len(gaps) > 50
    lateness = [max(0.0, g - interval_ms) for g in gaps]
    worst = max(lateness)
    result = {
        "timer_interval_ms": interval_ms,
        "ticks": len(gaps),
        "worst_lateness_ms": round(worst, 1),
        "p99_lateness_ms": round(sorted(lateness)[int(len(lateness) * 0.99) - 1], 1),
        "median_lateness_ms": round(statistics.median(lateness), 2),
    }
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    (ARTIFACT_DIR / "ui-event-loop-latency.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nGUI event loop while processing: {result}")  # noqa: T201
    # the timer fired while the card showed the job transcribing and after it completed: nothing held the loop
    # for the length of a stage
    assert {"transcribing", "completed"} <= statuses_at_ticks, statuses_at_ticks
