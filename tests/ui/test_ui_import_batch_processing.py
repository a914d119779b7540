"""A batch import processed by the real worker processes and the real offline model: the progress view follows
each file from copying through processing percent to done, with the window usable all the while."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from import_audio import write_not_audio
from pytestqt.qtbot import QtBot
from ui_support import AsyncDriver, make_window

from tbdesktop.app import processing_for_window
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo

pytestmark = pytest.mark.slow

JOB_TIMEOUT_S = 240.0


def test_a_batch_is_processed_file_by_file_with_real_workers(
    qtbot: QtBot,
    aio: AsyncDriver,
    ui_ctx: AppContext,
    therapist: UserInfo,
    speech_session: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
    screenshot: Any,
) -> None:
    wav, _ = speech_session
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "1 session.wav").write_bytes(wav.read_bytes())
    write_not_audio(folder / "2 broken.wav")
    runner = processing_for_window(ui_ctx, therapist)  # as the app runs it: on its own thread
    window = make_window(qtbot, ui_ctx, therapist, runner, size=(1040, 720))
    seen: list[str] = []

    async def scenario() -> None:
        await runner.start()
        await window.refresh()
        task = aio.loop.create_task(window.imports.import_recording([folder]))
        await aio.until(lambda: window.imports.import_dialog is not None and window.imports.import_dialog.isVisible())
        dialog = window.imports.import_dialog
        assert dialog is not None and dialog.is_batch
        await aio.until(lambda: not dialog.table.checking)
        dialog.set_client_text("Jordan Lee")
        dialog.apply_client_button.click()
        dialog.set_consent("verbal")
        dialog.apply_consent_button.click()
        dialog.import_button.click()
        await aio.until(lambda: window.imports.batch.batch_dialog is not None)
        view = window.imports.batch.batch_dialog
        assert view is not None

        def watch() -> bool:
            text = view.rows[0].state.text()
            if not seen or seen[-1] != text:
                seen.append(text)
            return view.rows[0].state.text().startswith("✓ Done")

        await aio.until(watch, timeout=JOB_TIMEOUT_S, message="the recording to be processed")
        assert await task is None
        assert view.rows[1].state.text().startswith("Failed: ") and "2 broken.wav" in view.rows[1].state.text()
        assert view.rows[0].action.isVisible() and view.rows[0].action.text() == "Open"
        assert "1 done" in view.summary_label.text() and "1 failed" in view.summary_label.text()
        card = window.sessions_page.card(view.rows[0].session_id) if view.rows[0].session_id else None
        assert card is not None and card.client_label.text() == "Jordan Lee"
        screenshot(view, "import-batch-processed")

    try:
        aio.run(scenario(), timeout=JOB_TIMEOUT_S + 120)
    finally:
        aio.run(runner.stop())

    percents = [int(m.group(1)) for t in seen if (m := re.search(r"· (\d+)%", t))]
    assert any(0 < p < 100 for p in percents), seen  # processing percent shown along the way
