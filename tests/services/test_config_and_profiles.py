"""Settings precedence and local profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tbdesktop.config import Settings, load_settings, save_settings
from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService


def test_settings_file_then_env_then_arguments(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    save_settings(Settings(data_dir=tmp_path / "from-file", asr_model="base", max_duration_min=90), cfg)
    assert json.loads((cfg / "settings.json").read_text())["max_duration_min"] == 90

    s = load_settings(config_dir=cfg, env={})
    assert s.data_dir == tmp_path / "from-file" and s.max_duration_min == 90

    env = {"TB_DATA_DIR": str(tmp_path / "from-env"), "TB_MAX_DURATION_MIN": "30", "TB_ASR_DEVICE": "cpu"}
    s = load_settings(config_dir=cfg, env=env)
    assert s.data_dir == tmp_path / "from-env" and s.max_duration_min == 30.0 and s.asr_device == "cpu"

    s = load_settings(config_dir=cfg, env=env, data_dir=tmp_path / "from-arg")
    assert s.data_dir == tmp_path / "from-arg"
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'from-arg' / 'tbdesktop.sqlite3').as_posix()}"

    s = load_settings(config_dir=cfg, env={"TB_DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert s.effective_database_url == "postgresql+psycopg://u@h/db"


def test_first_profile_and_validation(ctx: AppContext) -> None:
    profiles = ProfileService(ctx)
    assert profiles.local_profile_sync() is None
    with pytest.raises(ValidationError):
        profiles.create_profile_sync("   ")
    with pytest.raises(ValidationError):
        profiles.create_profile_sync("Dana", "not-an-email")
    dana = profiles.create_profile_sync("  Dana Reyes ", "dana@example.org")
    assert dana.display_name == "Dana Reyes" and dana.role == "therapist"
    with pytest.raises(ValidationError, match="already exists"):
        profiles.create_profile_sync("Other", "DANA@example.org")
    profiles.create_profile_sync("Second")
    local = profiles.local_profile_sync()
    assert local is not None and local.id == dana.id


def test_app_context_on_postgres(make_settings: Any, pg_url: str) -> None:
    ctx = AppContext.open(make_settings(database_url=pg_url))
    try:
        assert ctx.db.dialect == "postgresql"
        user = ProfileService(ctx).create_profile_sync("PG user", "pg@example.org")
        assert ProfileService(ctx).list_profiles_sync()[0].id == user.id
    finally:
        ctx.close()


def test_unusable_data_dir_is_a_readable_error(make_settings: Any, tmp_path: Path) -> None:
    from tbdesktop.errors import TBError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TBError, match="data folder"):
        AppContext.open(make_settings(data_dir=blocker / "data"))
