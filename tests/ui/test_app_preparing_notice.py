"""The first start after an update migrates the database on a thread; while it takes a while a notice says so
(without a cancel button: stopping half-way would only mean restoring the copy), and it goes once the data is
ready. Real migration of a real encrypted database taken back to the first revision."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton
from ui_support import AsyncDriver

from tbdesktop.app import PREPARING_TEXT, open_with_notice
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.store import migrate

FIRST = "0001_initial"


def _notice() -> QProgressDialog | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QProgressDialog) and w.objectName() == "preparingDataNotice" and w.isVisible():
            return w
    return None


def test_a_slow_first_start_after_an_update_says_it_is_preparing_the_data(
    aio: AsyncDriver, make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings()
    ctx = AppContext.open(settings)
    ProfileService(ctx).create_profile_sync("Dana Reyes", "dana@example.org")
    migrate.downgrade(ctx.db.engine, FIRST)  # the previous release's schema
    ctx.close()

    seen = threading.Event()

    def open_after_the_notice_is_seen() -> AppContext:
        assert seen.wait(30), "the notice never showed"
        return AppContext.open(settings)

    async def scenario() -> AppContext:
        opening = aio.loop.create_task(open_with_notice(open_after_the_notice_is_seen, after_s=0.05))
        await AsyncDriver.until(lambda: _notice() is not None, message="the preparing notice")
        notice = _notice()
        assert notice is not None and notice.labelText() == PREPARING_TEXT
        assert not [b for b in notice.findChildren(QPushButton) if b.isVisible()], "nothing to cancel"
        seen.set()
        return await opening

    opened = aio.run(scenario())
    try:
        assert migrate.is_up_to_date(opened.db.engine)
        assert [u.display_name for u in ProfileService(opened).list_profiles_sync()] == ["Dana Reyes"]
        QApplication.processEvents()
        assert _notice() is None, "the notice goes once the data is ready"
    finally:
        opened.close()


def test_a_quick_start_shows_no_notice(aio: AsyncDriver, make_settings: Any) -> None:
    settings = make_settings()
    AppContext.open(settings).close()
    shown: list[bool] = []

    def open_and_look() -> AppContext:
        return AppContext.open(settings)

    async def scenario() -> AppContext:
        opening = aio.loop.create_task(open_with_notice(open_and_look, after_s=30))
        while not opening.done():  # look while it opens: no notice at any point
            shown.append(_notice() is not None)
            await asyncio.sleep(0.01)
        return await opening

    aio.run(scenario()).close()
    assert shown and not any(shown)
