"""Importing a recording that is already in a session: the window asks, then opens that session or imports it
again — nothing is imported twice without the user saying so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, make_window

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.sessions import ImportRequest, SessionService


def test_a_second_import_of_the_same_recording_asks_first(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
    screenshot: Callable[..., Path],
) -> None:
    service = SessionService(ui_ctx, therapist)
    window = make_window(qtbot, ui_ctx, therapist, ProcessingRunner(ui_ctx, owner_ids=[therapist.id]), sessions=service)
    request = ImportRequest(source=speech_session[0], client_name="Noa Levi", consent_method="verbal")
    first = aio.run(window.imports.run_import(request))
    assert first is not None

    async def second(choose: str) -> Any:
        task = aio.loop.create_task(window.imports.run_import(request))
        await aio.until(
            lambda: window.imports.duplicate_dialog is not None and window.imports.duplicate_dialog.isVisible()
        )
        ask = window.imports.duplicate_dialog
        assert ask is not None and "imported before" in ask.text() and "Noa Levi" in ask.text()
        if choose == "open":
            screenshot(ask, "import-duplicate-asked")
        {"open": ask.open_button, "again": ask.again_button, "cancel": ask.cancel_button}[choose].click()
        return await task

    assert aio.run(second("cancel")) is None
    assert [s.id for s in service.list_sessions_sync()] == [first.id]

    assert aio.run(second("open")) is None
    assert window.stack.currentWidget() is window.session_view and window.session_view.session_id == first.id
    assert [s.id for s in service.list_sessions_sync()] == [first.id]

    again = aio.run(second("again"))
    assert again is not None and again.id != first.id
    assert {s.id for s in service.list_sessions_sync()} == {first.id, again.id}
