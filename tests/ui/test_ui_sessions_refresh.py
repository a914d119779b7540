"""A refresh of the sessions list (as when a session finishes processing) touches only the cards that moved or
appeared: the others are neither hidden nor shown again, which with hundreds of sessions held the window."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.ui.bridge import ProgressBridge
from tbdesktop.ui.sessions_page import SessionsPage


class ShowHideCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.count += 1
        return False


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "session.wav"
    rate = 16000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (int(3000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(rate))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return path


def test_refresh_touches_only_what_changed(
    qtbot: QtBot, aio: AsyncDriver, ui_ctx: AppContext, therapist: UserInfo, wav: Path
) -> None:
    service = SessionService(ui_ctx, therapist)
    for name in ("Avery Hill", "Blake Moss", "Casey Park"):
        service.import_recording_sync(
            ImportRequest(allow_duplicate=True, source=wav, client_name=name, consent_method="verbal")
        )
    page = SessionsPage(AppServices.compose(ui_ctx, therapist), ProgressBridge())
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    aio.run(page.refresh())
    before = [card.info.id for card in page.cards()]
    assert len(before) == 3
    counter = ShowHideCounter()
    for card in page.cards():
        card.installEventFilter(counter)

    aio.run(page.refresh())  # nothing moved
    assert [card.info.id for card in page.cards()] == before
    assert counter.count == 0

    newest = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=wav, client_name="Drew Lane", consent_method="verbal")
    )
    aio.run(page.refresh())
    after = [card.info.id for card in page.cards()]
    assert sorted(after) == sorted([*before, newest.id])  # the new card is in, in its place by the page's order
    assert counter.count == 0  # the cards already there were not shown again
    new_card = page.card(newest.id)
    assert new_card is not None and new_card.isVisible()
    assert page.day_headers() and len(page.day_headers()) == 1

    page.set_status_filter("failed")  # filtered out: hidden; back: shown again
    assert page.cards() == []
    assert counter.count == 3
    page.set_status_filter("all")
    assert sorted(card.info.id for card in page.cards()) == sorted(after)
    assert all(card.isVisible() for card in page.cards())
