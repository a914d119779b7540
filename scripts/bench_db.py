"""`make bench` (local database): what encryption at rest (SQLCipher, ADR 0016) costs on a large profile.

Two databases with the same content — ``--sessions`` sessions (default 1,000) of ``--segments`` transcript lines
(default 200) and a draft note each, written by the sync bench's seeder — one plain SQLite (as an earlier release
kept it), one encrypted. Then, alternating plaintext and encrypted (the order flips every round) for ``--repeats``
rounds, each on a fresh engine (the app's pool is warm; SQLite's page cache starts empty): a first connection
(the key, the pragmas), the session list, a full-text search (a common word, a rarer word, a client name) and one
session's transcript; then the list and the first search again on the warm pool. Reported: medians per
operation, the encrypted/plaintext ratio, and the files' sizes. No targets: the figures are for reading.

Usage: python scripts/bench_db.py [--sessions 1000] [--segments 200] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_sync  # noqa: E402  (the 1,000-session seeder; it puts tests/ on the path for the memory keyring)

QUERIES = ("feeling", "garden", "Client 0042")


def build(folder: Path, *, encrypted: bool, sessions: int, segments: int) -> tuple[Any, Any]:
    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.profiles import ProfileService
    from tbdesktop.services.recording_vault import RecordingVault
    from tbdesktop.services.secrets import SecretVault
    from tbdesktop.store import builtin_templates, migrate
    from tbdesktop.store.db import Database

    settings = Settings(data_dir=folder, secrets_dir=folder.parent / f"{folder.name}-secrets", secret_store="keyring")
    if encrypted:
        ctx = AppContext.open(settings)
    else:  # as an earlier release kept it
        folder.mkdir(parents=True)
        db = Database(settings.effective_database_url)
        migrate.upgrade(db.engine)
        with db.unit_of_work() as s:
            builtin_templates.sync(s)
        vault = SecretVault(settings.secrets_dir, "keyring")
        ctx = AppContext(settings, db, "bench", vault, RecordingVault(settings.recordings_dir, vault))
    user = ProfileService(ctx).create_profile_sync("Bench Therapist", "bench@clinic.example", passcode="bench-pass-1")
    bench_sync.seed(ctx, user.id, sessions, segments, "bench")
    ctx.db.flush_deleted()  # checkpoint: both files complete, the log empty
    return ctx, user


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def one_round(ctx: Any, user: Any, session_id: Any) -> dict[str, float]:
    from tbdesktop.services.search import SearchService
    from tbdesktop.services.sessions import SessionService

    ctx.db.engine.dispose()  # a fresh pool: SQLite's page cache starts empty (the OS cache stays warm)
    sessions = SessionService(ctx, user)
    search = SearchService(ctx, user)
    out = {"connect": timed(lambda: ctx.db.engine.connect().close())}  # keyed, pragmas set, key checked
    out["list"] = timed(sessions.list_sessions_sync)
    for query in QUERIES:
        out[f"search '{query}'"] = timed(lambda q=query: search.search_sync(q))  # type: ignore[misc]
    out["transcript"] = timed(lambda: sessions.transcript_sync(session_id))
    # The same again on the now warm pool (as in the running app, whose connections stay open).
    out["list (warm)"] = timed(sessions.list_sessions_sync)
    out[f"search '{QUERIES[0]}' (warm)"] = timed(lambda: search.search_sync(QUERIES[0]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of each database, alternating (>= 3)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    bench_sync.use_memory_keyring()
    from tbdesktop.services.sessions import SessionService

    with tempfile.TemporaryDirectory(prefix="tb-bench-db-") as tmp:
        built: dict[str, tuple[Any, Any]] = {}
        seed_s: dict[str, float] = {}
        for label, encrypted in (("plaintext", False), ("encrypted", True)):
            started = time.perf_counter()
            built[label] = build(
                Path(tmp) / label, encrypted=encrypted, sessions=args.sessions, segments=args.segments
            )
            seed_s[label] = round(time.perf_counter() - started, 1)
        assert not built["plaintext"][0].db.encrypted
        assert built["encrypted"][0].db.encrypted
        middle = {
            label: SessionService(ctx, user).list_sessions_sync()[args.sessions // 2].id
            for label, (ctx, user) in built.items()
        }
        runs: dict[str, list[dict[str, float]]] = {"plaintext": [], "encrypted": []}
        for r in range(max(3, args.repeats)):
            order = ("plaintext", "encrypted") if r % 2 == 0 else ("encrypted", "plaintext")
            for label in order:
                ctx, user = built[label]
                runs[label].append(one_round(ctx, user, middle[label]))
        sizes = {
            label: sum(p.stat().st_size for p in (Path(tmp) / label).glob("tbdesktop.sqlite3*"))
            for label in built
        }
        for ctx, _ in built.values():
            ctx.close()
    ops = list(runs["plaintext"][0])
    medians = {
        label: {op: round(statistics.median(r[op] for r in rounds), 2) for op in ops} for label, rounds in runs.items()
    }
    report = {
        "sessions": args.sessions,
        "segments_per_session": args.segments,
        "repeats": max(3, args.repeats),
        "seed_s": seed_s,
        "median_ms": medians,
        "ratio": {op: round(medians["encrypted"][op] / max(medians["plaintext"][op], 1e-6), 2) for op in ops},
        "file_mb": {label: round(size / 1e6, 1) for label, size in sizes.items()},
    }
    print(f"Local database, {args.sessions} sessions x {args.segments} lines ({report['repeats']} rounds each, "
          "alternating; fresh engine per round)")  # fmt: skip
    print(f"  {'operation':<24}{'plaintext ms':>14}{'encrypted ms':>14}{'ratio':>8}")
    for op in ops:
        plain, enc = medians["plaintext"][op], medians["encrypted"][op]
        print(f"  {op:<24}{plain:>14.1f}{enc:>14.1f}{report['ratio'][op]:>8.2f}")
    print(f"  files: plaintext {report['file_mb']['plaintext']} MB, encrypted {report['file_mb']['encrypted']} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
