"""Fixtures for the Qt UI tests: offscreen Qt, a qasync loop on pytest-qt's QApplication, real services."""

from __future__ import annotations

import os

# Before anything imports Qt: the tests run without a display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import gc
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication, QWidget
from ui_support import REPO_ROOT, SCREENSHOT_DIR, AsyncDriver

from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.ui.resources import style_sheet


@pytest.fixture
def styled_app(qapp: QApplication) -> QApplication:
    qapp.setStyleSheet(style_sheet())
    # As in the app: closing a window must not stop the loop that a test is still running.
    qapp.setQuitOnLastWindowClosed(False)
    return qapp


@pytest.fixture
def aio(styled_app: QApplication) -> Iterator[AsyncDriver]:
    loop = qasync.QEventLoop(styled_app)
    asyncio.set_event_loop(loop)
    try:
        yield AsyncDriver(loop)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
        # Collect Qt wrappers here, on the GUI thread, rather than in whichever thread next triggers the GC.
        gc.collect()


def _load_fixture_script() -> Any:
    spec = importlib.util.spec_from_file_location("tb_make_fixtures_ui", REPO_ROOT / "scripts" / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the script look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def base_model_cache(model_cache: Path) -> Path:
    """The shared model cache (tests/conftest.py) with the offline `base` model joined once per run."""
    return model_cache


@pytest.fixture(scope="session")
def speech_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The two-voice espeak-ng conversation: (wav path, turns with speaker/text/start/end)."""
    script = _load_fixture_script()
    wav, turns = script.make_two_speaker_session(tmp_path_factory.mktemp("ui_speech"))
    return Path(wav), list(turns)


@pytest.fixture
def ui_settings(tmp_path: Path, base_model_cache: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secrets_dir=tmp_path / "secrets",
        cache_dir=base_model_cache,
        model_dir=tmp_path / "model-packs",
        asr_device="cpu",
    )


@pytest.fixture
def ui_ctx(ui_settings: Settings) -> Iterator[AppContext]:
    ctx = AppContext.open(ui_settings)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def therapist(ui_ctx: AppContext) -> UserInfo:
    return ProfileService(ui_ctx).create_profile_sync("Dr. Sam Rivera", "sam.rivera@clinic.test")


@pytest.fixture
def screenshot() -> Callable[[QWidget, str], Path]:
    def save(widget: QWidget, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        assert widget.grab().save(str(path)), f"could not save {path}"
        return path

    return save
