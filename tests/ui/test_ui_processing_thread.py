"""Regenerate always ends: the window's processing keeps going while Qt turns its events outside the asyncio loop.

With the runner on the window's (qasync) loop, a job step delivered while Qt processes events outside that loop's
run — a nested event loop, ``processEvents``, here ``qtbot.waitUntil`` — ran with no running asyncio loop: the
runner's task died with "no running event loop" and the new note version never came. The window's processing now
runs on a thread and loop of its own (``tbdesktop.services.processing.host``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select
from ui_support import AsyncDriver, services_support

from tbdesktop.app import processing_for_window
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent, UserInfo
from tbdesktop.services.notes import NoteService
from tbdesktop.store.models import Note

LINES = [
    ("therapist", "How has your sleep been since we last met?"),
    ("client", "Worse. I wake up at four and keep thinking about work."),
    ("therapist", "Let's keep a sleep diary this week and try the breathing exercise before bed."),
]


def _versions(ctx: AppContext, session_id: Any) -> int:
    with ctx.db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(Note).where(Note.session_id == session_id)) or 0)


def test_regenerate_ends_while_qt_turns_outside_the_asyncio_loop(
    aio: AsyncDriver,
    qtbot: QtBot,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
) -> None:
    info = services_support().session_with_transcript(ui_ctx, therapist, speech_session[0], LINES)
    processing = processing_for_window(ui_ctx, therapist)
    events: list[ProgressEvent] = []
    processing.add_listener(events.append)
    aio.run(processing.start(warm_up=False))
    try:
        notes = NoteService(ui_ctx, therapist)
        for n in (1, 2):
            notes.regenerate_sync(info.id)
            processing.wake()
            # Qt alone turns here (no asyncio run is in progress), as during a nested event loop
            qtbot.waitUntil(lambda n=n: _versions(ui_ctx, info.id) == n, timeout=120_000)  # type: ignore[misc]
        assert any(e.session_id == info.id and e.status == "completed" for e in events)
    finally:
        aio.run(processing.stop())
    assert processing.worker_pid is None
