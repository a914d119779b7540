"""The Sessions page driven like a user would, on real services and a real SQLite database: cards and their
states, the ⋮ menu and its deletes, reassign, retry, optimistic changes and their rollback, days, search and
filters."""

from __future__ import annotations

import asyncio
import math
import struct
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip, QWidget
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, services_support

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent, SessionInfo, UserInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import JobStatus, ProcessingJob, ProcessingStatus, RiskFlag, TherapySession
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.sessions_page import SessionsPage, day_title
from tbdesktop.ui.sessions_page.card import SessionCard
from tbdesktop.ui.sessions_page.confirm_delete import ConfirmDeleteDialog
from tbdesktop.ui.sessions_page.elided_label import elide_lines
from tbdesktop.ui.sessions_page.menu import SessionContextMenu
from tbdesktop.ui.sessions_page.reassign_dialog import ReassignDialog

# Qt must not warn while these screens run (the offscreen platform's notes about what it cannot do aside:
# raising windows, grabbing the keyboard for a popup menu, size hints).
pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("This plugin does not support"),
]

SIZE = (1024, 700)


session_with_transcript = services_support().session_with_transcript
Shot = Callable[[QWidget, str], Path]
SUMMARY = (
    "Client described a week of better sleep after starting the wind-down routine; we reviewed the thought "
    "record from Tuesday's argument at work, practised reframing the catastrophic predictions, and agreed to "
    "keep the sleep diary and try one graded exposure at the supermarket before the next session."
)


# -- building sessions --------------------------------------------------------------------------------------


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    """Two seconds of a quiet tone: real audio the import probes and encrypts."""
    path = tmp_path / "session.wav"
    rate = 16000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (int(3000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(rate * 2))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return path


@pytest.fixture
def service(ui_ctx: AppContext, therapist: UserInfo) -> SessionService:
    return SessionService(ui_ctx, therapist)


def add_session(
    service: SessionService,
    wav: Path,
    client: str | None = "Jordan Lee",
    *,
    status: ProcessingStatus = ProcessingStatus.COMPLETED,
    day: date | None = None,
    hour: int = 10,
    minutes: float = 50.0,
    summary: str | None = None,
    progress: int = 0,
    detail: str | None = None,
    error: str | None = None,
    eta: int | None = None,
    anonymous: bool = False,
    flags: list[tuple[str, str]] | None = None,
    transcript: list[tuple[str, str]] | None = None,
) -> SessionInfo:
    """An imported session set to the given state directly in the database, as processing would leave it."""
    if transcript:
        info = session_with_transcript(service.ctx, service.user, wav, transcript)
        if client is not None:
            info = service.reassign_sync(info.id, client_name=client)
    else:
        request = ImportRequest(source=wav, allow_duplicate=True, client_name=client, consent_method="verbal")
        info = service.import_recording_sync(request)
    when = day or date.today()
    with service.ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.session_date = when
        row.created_at = datetime(when.year, when.month, when.day, hour, 5).astimezone().astimezone(UTC)
        row.duration_mins = minutes
        row.processing_status = status
        row.processing_progress = 100 if status == ProcessingStatus.COMPLETED else progress
        row.processing_stage_detail = detail
        row.processing_error = error
        row.eta_seconds = eta
        row.ai_summary = summary
        row.is_anonymous = anonymous
        if status not in (ProcessingStatus.QUEUED, ProcessingStatus.TRANSCRIBING):
            for job in s.query(ProcessingJob).filter(ProcessingJob.session_id == info.id):
                job.status = JobStatus.COMPLETED.value
        for i, (kind, severity) in enumerate(flags or []):
            s.add(RiskFlag(session_id=info.id, kind=kind, severity=severity, quote="…", segment_idx=i))
    return service.get_sync(info.id)


def recording_files(ctx: AppContext) -> list[str]:
    return sorted(p.name for p in ctx.settings.recordings_dir.iterdir() if p.is_file())


def stored_name(ctx: AppContext, session_id: uuid.UUID) -> str | None:
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        return None if row is None else row.recording_path


class Toasts:
    def __init__(self, page: SessionsPage) -> None:
        self.seen: list[tuple[str, str]] = []
        page.notify.connect(lambda kind, message: self.seen.append((kind, message)))

    def last(self) -> tuple[str, str] | None:
        return self.seen[-1] if self.seen else None


class Gate:
    """Holds a service call until released, to see the page before the service answers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, service: SessionService, name: str) -> None:
        self.event = asyncio.Event()
        self.started = False
        self.returned = False
        real = getattr(service, name)

        async def gated(*args: Any, **kwargs: Any) -> Any:
            self.started = True
            await self.event.wait()
            try:
                return await real(*args, **kwargs)
            finally:
                self.returned = True

        monkeypatch.setattr(service, name, gated)

    def open(self) -> None:
        self.event.set()


def make_page(qtbot: QtBot, aio: AsyncDriver, service: SessionService) -> SessionsPage:
    page = SessionsPage(replace(AppServices.compose(service.ctx, service.user), sessions=service), ProgressBridge())
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    aio.run(page.refresh())
    return page


async def confirm(aio: AsyncDriver, qtbot: QtBot, page: SessionsPage, *, accept: bool) -> ConfirmDeleteDialog:
    await aio.until(lambda: page.confirm_dialog() is not None, message="the confirmation dialog")
    dialog = page.confirm_dialog()
    assert dialog is not None and dialog.isVisible()
    button = dialog.confirm_button if accept else dialog.cancel_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return dialog


async def optimistic_latency(aio: AsyncDriver, qtbot: QtBot, page: SessionsPage, shown: Callable[[], bool]) -> float:
    """Confirm the dialog and return the seconds until `shown()` holds."""
    await aio.until(lambda: page.confirm_dialog() is not None, message="the confirmation dialog")
    dialog = page.confirm_dialog()
    assert dialog is not None
    started = time.perf_counter()
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    while not shown():
        if time.perf_counter() - started > 5:
            raise AssertionError("the change never showed")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def open_menu(qtbot: QtBot, page: SessionsPage, session_id: uuid.UUID) -> SessionContextMenu:
    card = page.card(session_id)
    assert card is not None and card.more_button.isVisible()
    qtbot.mouseClick(card.more_button, Qt.MouseButton.LeftButton)
    menu = page.menu
    assert menu is not None and menu.isVisible()
    return menu


# -- cards ----------------------------------------------------------------------------------------------------


def test_card_states(qtbot: QtBot, aio: AsyncDriver, service: SessionService, therapist: UserInfo, wav: Path) -> None:
    processing = add_session(
        service, wav, status=ProcessingStatus.TRANSCRIBING, progress=40, detail="Transcribing audio…", eta=130
    )
    failed = add_session(service, wav, "Casey Brooks", status=ProcessingStatus.FAILED, error="The file is not audio.")
    anonymous = add_session(service, wav, "Riley Hart", anonymous=True, summary="Riley Hart talked about work.")
    risky = add_session(
        service, wav, "Morgan Ellis", summary=SUMMARY, flags=[("self_harm", "moderate"), ("suicidal_ideation", "high")]
    )
    consent = add_session(service, wav, "Alex Kim", status=ProcessingStatus.QUEUED, detail=AWAITING_CONSENT)
    gone = service.delete_recording_sync(add_session(service, wav, "Sam Patel").id)

    def card(info: SessionInfo, user: uuid.UUID | None = therapist.id) -> SessionCard:
        widget = SessionCard(info, current_user_id=user)
        qtbot.addWidget(widget)
        widget.resize(760, 160)
        widget.show()
        return widget

    running = card(processing)
    assert running.client_label.text() == "Jordan Lee"
    assert running.duration_label.text() == "50 mins"
    assert running.date_label.text() == f"{long_day(processing.session_date)} · 10:05"
    assert running.held_label.text() == "Held by You"
    assert running.progress_bar.isVisible() and running.progress_bar.value() == 40
    assert running.status_label.text() == "Transcribing audio · 40%"
    assert running.eta_label.text() == "about 2 min left"
    assert running.cancel_button.isVisible() and not running.edit_button.isVisible()
    assert not running.summary_label.isVisible() and not running.risk_badge.isVisible()
    running.apply_event(ProgressEvent(processing.id, None, "diarizing", 70, "Identifying speakers…", 20))
    assert running.progress_bar.value() == 70 and running.status_label.text() == "Identifying speakers · 70%"
    assert running.info.status == "diarizing"

    broken = card(failed)
    assert broken.error_label.isVisible() and broken.error_label.text() == "The file is not audio."
    assert broken.status_label.text() == "Processing failed"
    assert broken.retry_button.isVisible() and not broken.progress_bar.isVisible()
    retried: list[object] = []
    broken.retryRequested.connect(retried.append)
    qtbot.mouseClick(broken.retry_button, Qt.MouseButton.LeftButton)
    assert retried == [failed.id]

    hidden = card(anonymous)
    assert hidden.client_label.text() == "Anonymous individual"
    assert "Riley" not in hidden.summary_label.full_text() and hidden.summary_label.isVisible()

    flagged = card(risky)
    assert flagged.risk_badge.isVisible() and flagged.risk_badge.text() == "⚠ High risk"
    assert flagged.risk_badge.property("level") == "high"
    assert flagged.risk_badge.toolTip() == "Raised in this session: Self-harm, Suicidal ideation"
    assert flagged.summary_label.isVisible() and not flagged.status_label.isVisible()
    assert flagged.summary_label.toolTip() == SUMMARY
    aio.run(aio.until(flagged.summary_label.is_elided, message="the long summary elided"))
    shown_lines = flagged.summary_label.text().split("\n")
    assert len(shown_lines) == 2 and shown_lines[1].endswith("…")
    edits: list[object] = []
    flagged.editRequested.connect(edits.append)
    qtbot.mouseClick(flagged.edit_button, Qt.MouseButton.LeftButton)
    assert edits == [risky.id]
    opened: list[object] = []
    flagged.openRequested.connect(opened.append)
    flagged.setFocus()
    qtbot.keyClick(flagged, Qt.Key.Key_Return)
    assert opened == [risky.id]

    waiting = card(consent)
    assert waiting.status_label.property("state") == "consent"
    assert not waiting.progress_bar.isVisible() and not waiting.cancel_button.isVisible()
    assert waiting.edit_button.isVisible()

    tombstone = card(gone)
    assert tombstone.recording_chip.isVisible() and not tombstone.transcript_chip.isVisible()
    assert tombstone.recording_chip.toolTip().startswith("The recording was deleted on ")

    someone_else = card(risky, user=uuid.uuid4())
    assert someone_else.held_label.text() == f"Held by {therapist.display_name}"

    # every control says what it is to a screen reader
    for widget in (flagged.edit_button, flagged.more_button, broken.retry_button, running.cancel_button):
        assert widget.accessibleName(), widget.objectName()
    assert flagged.accessibleName().startswith("Session with Morgan Ellis")


def long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def test_summary_elides_by_width(styled_app: Any) -> None:
    font = QApplication.font()
    assert elide_lines("short", font, 400, 2) == ["short"]
    lines = elide_lines(SUMMARY, font, 300, 2)
    assert len(lines) == 2 and lines[1].endswith("…") and SUMMARY.startswith(lines[0])
    assert elide_lines("", font, 300, 2) == []


# -- the page: days, screenshot, empty -----------------------------------------------------------------------


def test_page_groups_by_day_newest_first(
    qtbot: QtBot, aio: AsyncDriver, service: SessionService, wav: Path, screenshot: Shot
) -> None:
    today = date.today()
    older = today - timedelta(days=9)
    add_session(service, wav, "Morgan Ellis", day=older, hour=9, summary="Grief work; planned the anniversary.")
    add_session(
        service,
        wav,
        "Jordan Lee",
        day=today,
        hour=9,
        summary=SUMMARY,
        flags=[("suicidal_ideation", "high"), ("self_harm", "moderate")],
    )
    add_session(
        service,
        wav,
        "Casey Brooks",
        day=today,
        hour=14,
        status=ProcessingStatus.TRANSCRIBING,
        progress=62,
        detail="Transcribing audio…",
        eta=95,
    )
    add_session(
        service,
        wav,
        "Riley Hart",
        day=today - timedelta(days=1),
        hour=16,
        anonymous=True,
        minutes=45.4,
        summary="Explored the pull between family expectations and the new job; practised a boundary script.",
    )
    add_session(
        service,
        wav,
        "Alex Kim",
        day=today - timedelta(days=1),
        hour=11,
        status=ProcessingStatus.FAILED,
        error="The recording could not be decoded: the file ends early.",
        minutes=12,
    )
    page = make_page(qtbot, aio, service)
    assert page.stack.currentWidget() is page.list_scroll
    assert page.day_headers() == ["Today", "Yesterday", long_day(older)]
    clients = [c.client_label.text() for c in page.cards()]
    assert clients == ["Casey Brooks", "Jordan Lee", "Anonymous individual", "Alex Kim", "Morgan Ellis"]
    assert page.subtitle.text() == "5 sessions · 1 processing"
    assert day_title(date(2026, 11, 23), date(2026, 11, 30)) == "Monday 23 November 2026"
    aio.run(aio.settled())
    screenshot(page, "sessions-page")


def test_empty_state_offers_record_and_import(qtbot: QtBot, aio: AsyncDriver, service: SessionService) -> None:
    page = make_page(qtbot, aio, service)
    assert page.stack.currentWidget() is page.empty_state and not page.toolbar.isVisible()
    asked: list[bool] = []
    page.importRequested.connect(lambda: asked.append(True))
    qtbot.mouseClick(page.empty_import_button, Qt.MouseButton.LeftButton)
    assert asked == [True]
    recording: list[bool] = []
    page.recordRequested.connect(lambda: recording.append(True))
    qtbot.mouseClick(page.empty_record_button, Qt.MouseButton.LeftButton)
    assert recording == [True]


# -- deletes --------------------------------------------------------------------------------------------------


def test_delete_recording_cancel_then_confirm(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    ui_ctx: AppContext,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    screenshot: Shot,
) -> None:
    info = add_session(service, wav, summary="Sleep and work stress.")
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)
    stored = stored_name(ui_ctx, info.id)
    assert stored is not None and stored in recording_files(ui_ctx)

    async def cancelled() -> None:
        open_menu(qtbot, page, info.id).delete_recording_action.trigger()
        await aio.until(lambda: page.confirm_dialog() is not None, message="the confirmation dialog")
        shown = page.confirm_dialog()
        assert shown is not None and shown.cancel_button.isDefault() and not shown.confirm_button.isDefault()
        screenshot(shown, "session-delete-recording-confirm")
        dialog = await confirm(aio, qtbot, page, accept=False)
        assert "key destroyed" in dialog.text() and "The transcript and notes stay." in dialog.text()
        await aio.until(lambda: page.confirm_dialog() is None)

    aio.run(cancelled())
    assert service.get_sync(info.id).recording_available and stored in recording_files(ui_ctx)
    assert toasts.seen == []

    gate = Gate(monkeypatch, service, "delete_recording")

    async def confirmed() -> float:
        open_menu(qtbot, page, info.id).delete_recording_action.trigger()
        card = page.card(info.id)
        assert card is not None
        latency = await optimistic_latency(aio, qtbot, page, card.recording_chip.isVisible)
        assert not gate.returned, "the card changed only after the service answered"
        gate.open()
        await aio.until(lambda: toasts.last() is not None, message="the outcome toast")
        return latency

    latency = aio.run(confirmed())
    print(f"\noptimistic update (delete recording) visible {latency * 1000:.1f} ms after the confirmation")  # noqa: T201
    assert toasts.last() == ("success", "Recording deleted. The transcript and notes stay.")
    stored_info = service.get_sync(info.id)
    assert not stored_info.recording_available and stored_info.recording_deleted_at is not None
    assert stored not in recording_files(ui_ctx)

    menu = open_menu(qtbot, page, info.id)
    assert not menu.delete_recording_action.isEnabled()
    deleted_on = f"{stored_info.recording_deleted_at.astimezone().day} "
    assert menu.delete_recording_action.toolTip().startswith("The recording was deleted on " + deleted_on)
    assert menu.toolTipsVisible()
    menu.close()


def test_delete_transcript_cancel_then_confirm(
    qtbot: QtBot, aio: AsyncDriver, service: SessionService, wav: Path
) -> None:
    info = add_session(service, wav, transcript=[("therapist", "How did the week go?"), ("client", "Better sleep.")])
    assert service.transcript_sync(info.id)
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)

    async def cancelled() -> None:
        page.delete_transcript(info.id)
        dialog = await confirm(aio, qtbot, page, accept=False)
        assert "The recording and notes stay." in dialog.text()

    aio.run(cancelled())
    assert len(service.transcript_sync(info.id)) == 2

    async def confirmed() -> None:
        open_menu(qtbot, page, info.id).delete_transcript_action.trigger()
        await confirm(aio, qtbot, page, accept=True)
        card = page.card(info.id)
        assert card is not None
        await aio.until(card.transcript_chip.isVisible, message="the transcript-deleted chip")
        await aio.until(lambda: toasts.last() is not None, message="the outcome toast")

    aio.run(confirmed())
    assert toasts.last() == ("success", "Transcript deleted. The recording and notes stay.")
    assert service.transcript_sync(info.id) == []
    assert service.get_sync(info.id).transcript_deleted_at is not None
    menu = open_menu(qtbot, page, info.id)
    assert not menu.delete_transcript_action.isEnabled()
    assert menu.delete_transcript_action.toolTip().startswith("The transcript was deleted on ")
    menu.close()


def test_delete_session_cancel_then_confirm(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    ui_ctx: AppContext,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keep = add_session(service, wav, "Casey Brooks")
    info = add_session(service, wav, "Jordan Lee")
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)
    stored = stored_name(ui_ctx, info.id)
    assert stored in recording_files(ui_ctx)

    async def cancelled() -> None:
        open_menu(qtbot, page, info.id).delete_session_action.trigger()
        dialog = await confirm(aio, qtbot, page, accept=False)
        assert "recording, the transcript, the notes" in dialog.text()

    aio.run(cancelled())
    assert page.card(info.id) is not None and service.get_sync(info.id).id == info.id

    gate = Gate(monkeypatch, service, "delete_session")

    async def confirmed() -> float:
        open_menu(qtbot, page, info.id).delete_session_action.trigger()
        latency = await optimistic_latency(aio, qtbot, page, lambda: page.card(info.id) is None)
        assert [c.session_id for c in page.cards()] == [keep.id]
        assert not gate.returned
        gate.open()
        await aio.until(lambda: toasts.last() is not None, message="the outcome toast")
        return latency

    latency = aio.run(confirmed())
    print(f"\noptimistic update (delete session) visible {latency * 1000:.1f} ms after the confirmation")  # noqa: T201
    assert toasts.last() == ("success", "Session deleted.")
    with pytest.raises(NotFoundError):
        service.get_sync(info.id)
    assert stored not in recording_files(ui_ctx)
    assert stored_name(ui_ctx, keep.id) in recording_files(ui_ctx)
    assert page.subtitle.text() == "1 session"


# -- rollback -------------------------------------------------------------------------------------------------


def test_refused_changes_roll_back(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    ui_ctx: AppContext,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = add_session(service, wav, status=ProcessingStatus.TRANSCRIBING, progress=30, detail="Transcribing…")
    done = add_session(service, wav, "Casey Brooks")
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)

    # The menu does not offer it while processing; asked anyway, the service refuses and the card comes back.
    menu = open_menu(qtbot, page, running.id)
    assert not menu.delete_recording_action.isEnabled()
    assert menu.delete_recording_action.toolTip() == "Cancel processing first"
    menu.close()
    card = page.card(running.id)
    assert card is not None

    held = Gate(monkeypatch, service, "delete_recording")

    async def refused_by_service() -> None:
        page.delete_recording(running.id)
        await confirm(aio, qtbot, page, accept=True)
        await aio.until(card.recording_chip.isVisible, timeout=5, message="the optimistic change")
        held.open()
        await aio.until(lambda: toasts.last() is not None, message="the error toast")

    aio.run(refused_by_service())
    kind, message = toasts.last() or ("", "")
    assert kind == "error" and "cancel it before deleting" in message
    assert not card.recording_chip.isVisible() and card.info.recording_available
    assert stored_name(ui_ctx, running.id) in recording_files(ui_ctx)

    gate = Gate(monkeypatch, service, "delete_session")

    async def broken() -> None:
        await gate.event.wait()
        raise ValidationError("The database is busy; please try again.")

    monkeypatch.setattr(service, "delete_session", lambda _sid: broken())

    async def delete_refused() -> None:
        page.delete_session(done.id)
        await confirm(aio, qtbot, page, accept=True)
        await aio.until(lambda: page.card(done.id) is None, message="the card gone at once")
        gate.open()
        await aio.until(lambda: len(toasts.seen) == 2, message="the error toast")

    aio.run(delete_refused())
    assert toasts.last() == ("error", "The database is busy; please try again.")
    back = page.card(done.id)
    assert back is not None and back.isVisible() and back.client_label.text() == "Casey Brooks"
    assert len(page.cards()) == 2


# -- menu -----------------------------------------------------------------------------------------------------


def test_menu_reasons_keyboard_and_screenshot(
    qtbot: QtBot, aio: AsyncDriver, service: SessionService, wav: Path, screenshot: Shot
) -> None:
    running = add_session(service, wav, status=ProcessingStatus.TRANSCRIBING, progress=30, detail="Transcribing…")
    done = add_session(service, wav, "Casey Brooks", summary="Work stress.")
    page = make_page(qtbot, aio, service)

    menu = open_menu(qtbot, page, running.id)
    for action in (menu.delete_recording_action, menu.delete_transcript_action, menu.delete_session_action):
        assert not action.isEnabled() and action.toolTip() == "Cancel processing first"
    assert menu.reassign_action.isEnabled()
    screenshot(menu, "session-context-menu-processing")
    # hovering a disabled action tells why it is disabled
    spot = menu.actionGeometry(menu.delete_recording_action).center()
    QApplication.sendEvent(menu, QHelpEvent(QEvent.Type.ToolTip, spot, menu.mapToGlobal(spot)))
    assert QToolTip.text() == "Cancel processing first"
    QToolTip.hideText()
    menu.close()

    menu = open_menu(qtbot, page, done.id)
    assert all(a.isEnabled() for a in (menu.delete_recording_action, menu.delete_session_action))
    # reassign, then the note's export entries (copy, PDF, DOCX, print, include transcript), then the deletes
    assert [a.property("destructive") for a in menu.actions() if not a.isSeparator()] == [False] * 6 + [True] * 3
    aio.run(aio.settled())
    path = screenshot(menu, "session-context-menu")
    # the delete actions are drawn in red
    image = menu.grab().toImage()
    reds = sum(
        1
        for x in range(0, image.width())
        for y in range(image.height() // 3, image.height())
        if (c := image.pixelColor(x, y)).red() > 150 and c.green() < 90 and c.blue() < 90
    )
    assert reds > 50 and path.is_file()
    menu.close()

    # keyboard: Tab to ⋮, Space opens the menu with its first action active, Enter picks it
    card = page.card(done.id)
    assert card is not None
    card.more_button.setFocus()
    qtbot.keyClick(card.more_button, Qt.Key.Key_Space)
    menu = page.menu
    assert menu is not None and menu.isVisible() and menu.activeAction() is menu.reassign_action
    qtbot.keyClick(menu, Qt.Key.Key_Down)
    # this session has no note yet: its export entries are off, so the next stop is the first delete
    assert not menu.export_actions.transcript_action.isEnabled()
    assert menu.activeAction() is menu.delete_recording_action
    qtbot.keyClick(menu, Qt.Key.Key_Up)
    qtbot.keyClick(menu, Qt.Key.Key_Return)

    async def picker() -> None:
        await aio.until(lambda: isinstance(page.dialog, ReassignDialog), message="the client picker")
        dialog = page.dialog
        assert dialog is not None
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        await aio.until(lambda: page.dialog is None, message="the picker closed")

    aio.run(picker())
    assert service.get_sync(done.id).client_name == "Casey Brooks"

    # the context-menu key on a focused card opens the same menu
    card.setFocus()
    qtbot.keyClick(card, Qt.Key.Key_Menu)
    assert page.menu is not None and page.menu.isVisible()
    page.menu.close()


# -- reassign -------------------------------------------------------------------------------------------------


def test_reassign_to_existing_and_new_client(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    screenshot: Shot,
) -> None:
    other = add_session(service, wav, "Casey Brooks")
    info = add_session(service, wav, "Jordan Lee")
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)
    card = page.card(info.id)
    assert card is not None

    async def pick(name: str, *, typed: bool) -> ReassignDialog:
        open_menu(qtbot, page, info.id).reassign_action.trigger()
        await aio.until(lambda: isinstance(page.dialog, ReassignDialog), message="the client picker")
        dialog = page.dialog
        assert isinstance(dialog, ReassignDialog)
        rows = (dialog.client_list.item(i) for i in range(dialog.client_list.count()))
        items = [item.text() for item in rows if not item.isHidden()]
        current = service.get_sync(info.id).client_name
        assert f"{current}  (current)" in items and len(items) == len(service.list_clients_sync())
        if typed:
            qtbot.keyClicks(dialog.name_edit, name)
        else:
            qtbot.keyClicks(dialog.name_edit, name[:3].lower())
            qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Down)
        return dialog

    gate = Gate(monkeypatch, service, "reassign")

    async def to_existing() -> None:
        dialog = await pick("Casey Brooks", typed=False)
        assert dialog.choice()[0] is not None and dialog.hint.text() == "The session moves to Casey Brooks."
        qtbot.mouseClick(dialog.move_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: card.client_label.text() == "Casey Brooks", message="the new client shown")
        assert not gate.returned
        gate.open()
        await aio.until(lambda: toasts.last() is not None, message="the outcome toast")

    aio.run(to_existing())
    assert toasts.last() == ("success", "Session moved to Casey Brooks.")
    moved = service.get_sync(info.id)
    assert moved.client_id == other.client_id and moved.client_name == "Casey Brooks"

    async def to_new() -> None:
        dialog = await pick("Avery Quinn", typed=True)
        assert dialog.choice() == (None, "Avery Quinn") and "not one of your clients yet" in dialog.hint.text()
        assert dialog.client_list.currentItem() is dialog.new_item and "Avery Quinn" in dialog.new_item.text()
        screenshot(dialog, "session-reassign-dialog")
        qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
        await aio.until(lambda: card.client_label.text() == "Avery Quinn", message="the new client shown")
        await aio.until(lambda: len(toasts.seen) == 2, message="the outcome toast")

    aio.run(to_new())
    assert toasts.last() == ("success", "Session moved to Avery Quinn.")
    assert "Avery Quinn" in [c.name for c in service.list_clients_sync()]
    assert service.get_sync(info.id).client_name == "Avery Quinn"
    assert page.client_filter.findText("Avery Quinn") >= 0

    async def cancelled() -> None:
        dialog = await pick("Somebody New", typed=True)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: page.dialog is None)

    aio.run(cancelled())
    assert service.get_sync(info.id).client_name == "Avery Quinn"
    assert "Somebody New" not in [c.name for c in service.list_clients_sync()]


# -- retry ----------------------------------------------------------------------------------------------------


def test_retry_failed_session(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    ui_ctx: AppContext,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info = add_session(service, wav, status=ProcessingStatus.FAILED, error="The worker stopped.")
    page = make_page(qtbot, aio, service)
    toasts = Toasts(page)
    queued: list[object] = []
    page.processingQueued.connect(queued.append)
    card = page.card(info.id)
    assert card is not None and card.retry_button.isVisible()
    gate = Gate(monkeypatch, service, "retry")

    async def scenario() -> None:
        qtbot.mouseClick(card.retry_button, Qt.MouseButton.LeftButton)
        await aio.until(lambda: card.progress_bar.isVisible(), message="the card queued at once")
        assert card.status == "queued" and not card.error_label.isVisible() and not gate.returned
        gate.open()
        await aio.until(lambda: toasts.last() is not None, message="the outcome toast")

    aio.run(scenario())
    assert toasts.last() == ("success", "Processing queued again.") and queued == [info.id]
    stored = service.get_sync(info.id)
    assert stored.status == "queued" and stored.error is None
    with ui_ctx.db.unit_of_work() as s:
        jobs = s.query(ProcessingJob).filter(ProcessingJob.session_id == info.id, ProcessingJob.status == "queued")
        assert jobs.count() == 1


# -- search and filters ---------------------------------------------------------------------------------------


def test_search_is_debounced_and_filters_cards(
    qtbot: QtBot,
    aio: AsyncDriver,
    service: SessionService,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    screenshot: Shot,
) -> None:
    garden = add_session(service, wav, "Jordan Lee", transcript=[("client", "I worked in the allotment garden.")])
    add_session(service, wav, "Casey Brooks", transcript=[("client", "The commute was awful again.")])
    add_session(service, wav, "Morgan Ellis", transcript=[("client", "My sister visited on Sunday.")])
    page = make_page(qtbot, aio, service)
    calls: list[str] = []
    real = page.search_service.search

    async def counted(query: str, limit: int = 50) -> Any:
        calls.append(query)
        return await real(query, limit)

    monkeypatch.setattr(page.search_service, "search", counted)
    page.focus_search()
    assert page.search_edit.hasFocus()

    async def search(text: str) -> None:
        searched: list[bool] = []
        page.searched.connect(lambda: searched.append(True))
        qtbot.keyClicks(page.search_edit, text)
        await aio.until(lambda: bool(searched), message="the search to finish")

    aio.run(search("allotment"))
    assert calls == ["allotment"], "one search after typing stops, not one per key"
    assert [c.session_id for c in page.cards()] == [garden.id]
    assert page.subtitle.text() == "Showing 1 of 3 sessions"

    page.search_edit.clear()
    aio.run(search("tango"))
    assert page.stack.currentWidget() is page.no_match_state
    assert "tango" in page.no_match_text.text()
    screenshot(page, "sessions-no-match")
    qtbot.mouseClick(page.clear_filters_button, Qt.MouseButton.LeftButton)
    aio.run(aio.until(lambda: len(page.cards()) == 3, message="all cards back"))
    assert page.stack.currentWidget() is page.list_scroll

    # a client's name finds their sessions too
    aio.run(search("Casey"))
    assert [c.client_label.text() for c in page.cards()] == ["Casey Brooks"]


def test_client_and_status_filters(qtbot: QtBot, aio: AsyncDriver, service: SessionService, wav: Path) -> None:
    jordan = add_session(service, wav, "Jordan Lee")
    add_session(service, wav, "Jordan Lee", status=ProcessingStatus.FAILED, error="Stopped.")
    add_session(service, wav, "Casey Brooks", status=ProcessingStatus.TRANSCRIBING, progress=10)
    add_session(service, wav, "Casey Brooks", status=ProcessingStatus.QUEUED, detail=AWAITING_CONSENT)
    add_session(service, wav, "Jordan Lee", anonymous=True)
    page = make_page(qtbot, aio, service)
    assert len(page.cards()) == 5
    names = [page.client_filter.itemText(i) for i in range(page.client_filter.count())]
    assert names == ["All clients", "Casey Brooks", "Jordan Lee"]

    page.set_client_filter(jordan.client_id)
    # the anonymous session stays out of a client's list: it would tell whose it is
    assert [c.client_label.text() for c in page.cards()] == ["Jordan Lee", "Jordan Lee"]

    page.set_status_filter("failed")
    assert [c.status for c in page.cards()] == ["failed"]
    page.set_status_filter("processing")
    assert page.stack.currentWidget() is page.no_match_state
    assert page.no_match_text.text() == "No session matches these filters."

    page.set_client_filter(None)
    assert [c.status for c in page.cards()] == ["transcribing"]
    page.set_status_filter("consent")
    cards = page.cards()
    assert len(cards) == 1 and cards[0].info.stage_detail == AWAITING_CONSENT
    assert page.status_filter.itemText(page.status_filter.currentIndex()) == "Needs consent (1)"
    page.set_status_filter("completed")
    assert len(page.cards()) == 2
    page.clear_filters()
    assert len(page.cards()) == 5


def test_progress_events_move_cards_and_refresh(
    qtbot: QtBot, aio: AsyncDriver, service: SessionService, wav: Path
) -> None:
    info = add_session(service, wav, status=ProcessingStatus.TRANSCRIBING, progress=5, detail="Transcribing…")
    bridge = ProgressBridge()
    page = SessionsPage(replace(AppServices.compose(service.ctx, service.user), sessions=service), bridge)
    qtbot.addWidget(page)
    page.resize(*SIZE)
    page.show()
    aio.run(page.refresh())
    bridge.publish(ProgressEvent(info.id, None, "diarizing", 80, "Identifying speakers…", 10))
    card = page.card(info.id)
    assert card is not None and card.progress_bar.value() == 80
    assert page.sessions()[0] == replace(
        info, status="diarizing", progress=80, stage_detail="Identifying speakers…", eta_seconds=10
    )
    # the menu reads the live state: still processing
    menu = page.open_menu(info.id, QPoint(10, 10))
    assert menu is not None and not menu.delete_session_action.isEnabled()
    menu.close()
