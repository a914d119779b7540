"""`tbdesktop stats` as a user runs it: a real process over a real (encrypted) data folder filled with known sessions;
JSON with the series, text tables, the practice manager's counts, clear errors for bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSCODE = "stats-passcode-1"


def _stats_support() -> ModuleType:
    if "stats_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location("stats_support", REPO_ROOT / "tests/services/stats_support.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["stats_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["stats_support"]


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    data_dir = tmp_path / "data"
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"

    def run(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full = dict(os.environ, TB_SECRETS_DIR=str(tmp_path / "secrets"), TB_PASSCODE=PASSCODE, **(env or {}))
        result = subprocess.run(
            [script, "--data-dir", str(data_dir), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    return run


@pytest.fixture
def practice(cli: Any, tmp_path: Path) -> Any:
    """Dana (therapist) with her six known sessions, and Pat (practice manager), on an encrypted database."""
    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.profiles import ProfileService

    cli("user", "add", "Dana Reyes", "--email", "dana@example.org")
    cli("user", "add", "Pat Okafor", "--email", "pat@example.org", "--role", "practice_manager",
        env={"TB_NEW_PASSCODE": PASSCODE})  # fmt: skip
    settings = Settings(data_dir=tmp_path / "data", secrets_dir=tmp_path / "secrets")
    ctx = AppContext.open(settings, credentials=lambda profiles: (profiles[0].id, PASSCODE))
    try:
        dana = next(p for p in ProfileService(ctx).list_profiles_sync() if p.email == "dana@example.org")
        _stats_support().seed(ctx, dana.id, _stats_support().DANA)
    finally:
        ctx.close()
    return cli


def test_json_gives_every_series(practice: Any) -> None:
    data = json.loads(practice("stats", "--json", "--user", "dana@example.org").stdout)
    assert data["scope"] == "own" and data["source"] == "this workstation" and data["client"] is None
    assert [(w["week"], w["sessions"], w["hours"]) for w in data["sessions"]] == [
        ("2026-11-02", 2, 1.83),
        ("2026-11-09", 2, 0.75),
        ("2026-11-16", 0, 0.0),
        ("2026-11-23", 1, 0.5),
        ("2026-11-30", 1, 0.67),
    ]
    assert [n["median_days_to_sign"] for n in data["notes"]] == [2.0, None, None, 2.0, 1.0]
    assert [d["notes"] for d in data["sign_delays"]] == [1, 1, 1, 1, 0]
    assert [p["speed"] for p in data["processing"]] == [3.67, None, None, 2.0, 5.0]
    assert data["risk"] == [
        {"month": "2026-11-01", "flags": {"suicidal_ideation": 2, "harm_to_others": 0, "substance_use": 1}},
        {"month": "2026-12-01", "flags": {"suicidal_ideation": 0, "harm_to_others": 1, "substance_use": 0}},
    ]
    assert data["totals"]["sessions"] == 6 and data["totals"]["median_days_to_sign"] == 1.5


def test_text_prints_the_totals_and_a_table_per_chart(practice: Any) -> None:
    out = practice(
        "stats", "--from", "2026-11-09", "--to", "2026-11-30", "--client", "Jordan Lee", "--user", "dana@example.org"
    ).stdout
    lines = out.splitlines()
    assert lines[0] == "Your figures · 2026-11-09 to 2026-11-30 · client: Jordan Lee · from this workstation"
    assert [line.split() for line in lines if line.strip().startswith("Sessions ")][0] == ["Sessions", "2"]
    for title in ("Sessions and hours per week", "Risk flags raised per month", "How soon notes are signed"):
        assert title in lines
    start = lines.index("Sessions and hours per week")
    assert [row.split() for row in lines[start + 1 : start + 7]] == [
        ["Week", "of", "Sessions", "Hours"],
        ["----------", "--------", "-----"],
        ["2026-11-09", "2", "0.75"],
        ["2026-11-16", "0", "0"],
        ["2026-11-23", "0", "0"],
        ["2026-11-30", "0", "0"],
    ]
    risk = lines.index("Risk flags raised per month")
    assert lines[risk + 3].split() == ["2026-11", "1", "1", "2"]  # suicidal ideation, substance use, total


def test_a_practice_manager_gets_counts_and_no_names(practice: Any) -> None:
    data = json.loads(practice("stats", "--json", "--user", "pat@example.org").stdout)
    assert data["scope"] == "practice" and data["totals"]["sessions"] == 6
    text = practice("stats", "--user", "pat@example.org").stdout
    assert text.startswith("Practice figures (counts only)")
    for shown in (json.dumps(data), text):
        for name in ("Jordan", "Alex Kim", "Dana"):
            assert name not in shown
    refused = practice("stats", "--client", "Jordan Lee", "--user", "pat@example.org", check=False)
    assert refused.returncode == 1 and "whole practice" in refused.stderr and refused.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-13-01"), "--from '2026-13-01' is not a date: use YYYY-MM-DD"),
        (("--to", "30/11/2026"), "--to '30/11/2026' is not a date: use YYYY-MM-DD"),
        (("--from", "20261101"), "--from '20261101' is not a date"),
        (("--from", "2026-12-01", "--to", "2026-11-01"), "--from is after --to"),
        (("--client", "Nobody Known"), "no client of that name"),
    ],
)
def test_bad_input_is_a_clear_error(practice: Any, args: tuple[str, ...], message: str) -> None:
    result = practice("stats", *args, "--user", "dana@example.org", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
