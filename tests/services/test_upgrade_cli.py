"""`tbdesktop migrate` as IT runs it (a real process, a real encrypted database): the same copy, migrate and
put-back path as the first start; a roll-back to an older revision keeps its copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_upgrade import FAILS, FIRST, LINES, PASSCODE, Previous, backup_folders, later_release, make_previous, sha256

from tbdesktop.services import upgrade
from tbdesktop.store import migrate

REPO_ROOT = Path(__file__).resolve().parents[2]

MAIN_WITH_ALEMBIC = """
import sys
from pathlib import Path
from tbdesktop.store import migrate
migrate.alembic_dir = lambda: Path({alembic!r})
from tbdesktop.cli import main
sys.exit(main(sys.argv[1:]))
"""


ROLLBACK = "0005_recording_keys"  # the oldest revision with encrypted recordings


def run_cli(
    prev: Previous, tmp_path: Path, *args: str, alembic: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"),
        TB_SECRETS_DIR=str(prev.settings.secrets_dir),
        TB_SECRET_STORE="file",
        TB_CACHE_DIR=str(prev.settings.cache_dir),
        TB_USER=str(prev.user_id),
        TB_PASSCODE=PASSCODE,
    )
    if alembic is None:
        cmd = [sys.executable, str(REPO_ROOT / "main.py")]
    else:
        cmd = [sys.executable, "-c", MAIN_WITH_ALEMBIC.format(alembic=str(alembic))]
    return subprocess.run(
        [*cmd, "--data-dir", str(prev.settings.data_dir), "migrate", *args],
        capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL, cwd=REPO_ROOT,
    )  # fmt: skip


def test_migrate_rolls_back_with_a_kept_copy_and_upgrades_through_the_same_path(
    make_settings: Any, tmp_path: Path
) -> None:
    head = migrate.head_revision()
    prev = make_previous(make_settings, tmp_path, head or "")
    before = {prev.database.name: sha256(prev.database), prev.keyfile.name: sha256(prev.keyfile)}

    # back to the oldest revision that keeps encrypted recordings readable (further back is refused)
    down = run_cli(prev, tmp_path, "--to", ROLLBACK, "--json")
    assert down.returncode == 0, down.stderr
    result = json.loads(down.stdout)
    assert (result["revision"], result["from_revision"]) == (ROLLBACK, head)
    kept = Path(result["backup"])
    assert backup_folders(prev) == [kept] and kept.name.startswith(f"tbdesktop-{head}-")
    assert {p.name: sha256(p) for p in kept.iterdir() if p.name != upgrade.MANIFEST} == before
    assert '"state": "kept"' in (kept / upgrade.MANIFEST).read_text()

    up = run_cli(prev, tmp_path)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"Database at revision {head} (was {ROLLBACK})"
    assert backup_folders(prev) == [kept], "the copy of a successful upgrade is removed; the roll-back's stays"
    db = prev.raw()
    try:
        assert migrate.current_revision(db.engine) == head
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM transcript_segments").scalar() == len(LINES)
    finally:
        db.dispose()

    again = run_cli(prev, tmp_path, "--json")
    assert json.loads(again.stdout) == {"revision": head, "from_revision": head, "backup": None}

    refused = run_cli(prev, tmp_path, "--to", FIRST)
    assert refused.returncode == 1 and "would make 1 encrypted recording(s) unreadable" in refused.stderr
    assert backup_folders(prev) == [kept], "a refused roll-back keeps no copy of its own"

    unknown = run_cli(prev, tmp_path, "--to", "0999_nonsense")
    assert unknown.returncode == 1 and "no database revision '0999_nonsense'" in unknown.stderr


def test_migrate_puts_the_database_back_when_the_migration_fails(make_settings: Any, tmp_path: Path) -> None:
    prev = make_previous(make_settings, tmp_path, FIRST)
    before = {prev.database: sha256(prev.database), prev.keyfile: sha256(prev.keyfile)}
    failed = run_cli(prev, tmp_path, alembic=later_release(tmp_path, FAILS))
    assert failed.returncode == 1
    assert upgrade.FAILED in " ".join(failed.stderr.split()), failed.stderr
    assert {p: sha256(p) for p in before} == before
    assert backup_folders(prev) == []
    assert "lanternfish" not in failed.stderr + failed.stdout and "Jordan" not in failed.stderr + failed.stdout
