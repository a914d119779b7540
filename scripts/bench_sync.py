"""`make bench` (clinic sync): how long a large profile takes to reach the clinic server and a second workstation,
and how soon a note edit on one workstation shows on another.

Everything runs on this machine: a private PostgreSQL cluster (``tests/pg_cluster.PgCluster``: initdb, fsync off,
removed at the end) initialised as a clinic with one therapist, and two workstations — two ``AppContext`` with their
own data folders, as two computers would have. Secrets go to an in-memory keyring (nothing is written in plain text).

1. Initial sync. Workstation A's SQLite gets ``--sessions`` sessions (default 1,000), each with ``--segments``
   transcript lines (default 200; 60–120 characters and a few word timings each) and one draft note (five
   sections of a few sentences), written with bulk inserts. A joins the clinic (the join queues every row) and
   syncs: push, then pull. A fresh workstation B joins and syncs (pulls everything). B's row counts are checked.
2. Edit-to-seen latency. Both workstations run the background ``SyncLoop``; A edits a draft note section through
   ``NoteService`` and the bench polls B's SQLite until the new text is there. Once with LISTEN/NOTIFY on (the
   app's setting), once with polling only; ``--interval`` is the loops' poll interval in both.

No targets: the figures are for reading (and comparing between runs). The exit status is non-zero when B does not
end up with every row or an edit is never seen.

Usage: python scripts/bench_sync.py [--sessions 1000] [--segments 200] [--edits 5] [--interval 15]
                                    [--profile [DIR]] [--json out.json]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

EMAIL = "bench.therapist@clinic.example"
PASSWORD = "bench-password-1"  # the bench clinic's own login; the cluster is private and removed at the end
SECTIONS = ("subjective", "objective", "assessment", "plan", "risk")
VOCAB = (
    "I have been feeling really tired this week and work was hard so I did not sleep much but my sister came "
    "over on Sunday and we talked about what happened with mum it helped a bit then Monday was difficult again "
    "you said that the breathing exercise worked when you tried it before the meeting how did that feel for you "
    "maybe we could look at what makes the evenings harder I notice you smile when you mention your garden "
    "sometimes I just want to stay in bed and not answer the phone it feels like everyone expects something"
).split()


# --- secrets: an in-memory keyring (this bench must not depend on, or write to, an OS keyring) -------------------


def use_memory_keyring() -> None:
    import keyring
    from memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring.backend())


# --- workload ------------------------------------------------------------------------------------------------


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    target = rng.randint(lo, hi)
    words: list[str] = []
    length = 0
    while length < target:
        w = rng.choice(VOCAB)
        words.append(w)
        length += len(w) + 1
    text = " ".join(words)[:hi].rstrip()
    return text[0].upper() + text[1:] + "."


def note_sections(rng: random.Random, evidence_max: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for position, key in enumerate(SECTIONS[: rng.randint(4, 5)]):
        sentences = [
            {"text": sentence(rng, 50, 140), "evidence": sorted(rng.sample(range(evidence_max), 2))}
            for _ in range(rng.randint(2, 4))
        ]
        out[key] = {
            "title": key.capitalize(),
            "position": position,
            "text": " ".join(s["text"] for s in sentences),
            "evidence": sorted({i for s in sentences for i in s["evidence"]}),
            "sentences": sentences,
            "edited": False,
        }
    return out


def seed(ctx: Any, owner: uuid.UUID, sessions: int, segments: int, host: str) -> dict[str, int]:
    """Writes the profile's clients, sessions, transcripts and draft notes with bulk inserts (before joining, so
    nothing is captured yet: the join queues it all)."""
    from sqlalchemy import insert

    from tbdesktop.store.models import Client, Note, ProcessingStatus, TherapySession, TranscriptSegment

    rng = random.Random(13)
    now = datetime.now(UTC)
    clients = [
        {"id": uuid.uuid4(), "owner_id": owner, "name": f"Client {i + 1:04d}", "created_at": now}
        for i in range(max(1, sessions // 5))
    ]
    counts = {"clients": len(clients), "sessions": 0, "segments": 0, "notes": 0}
    with ctx.db.engine.begin() as conn:
        conn.execute(insert(Client.__table__), clients)
        for start in range(0, sessions, 100):
            session_rows: list[dict[str, Any]] = []
            segment_rows: list[dict[str, Any]] = []
            note_rows: list[dict[str, Any]] = []
            for i in range(start, min(sessions, start + 100)):
                sid = uuid.uuid4()
                when = now - timedelta(days=i)
                t = 0.0
                for idx in range(segments):
                    text = sentence(rng, 60, 120)
                    dur = len(text) / 15.0
                    words = []
                    for k, w in enumerate(text.split()[: rng.randint(3, 5)]):
                        ws = t + 0.35 * k
                        words.append({"start": round(ws, 2), "end": round(ws + 0.3, 2), "word": w, "probability": 0.93})
                    speaker = "SPEAKER_00" if idx % 2 == 0 else "SPEAKER_01"
                    segment_rows.append(
                        {
                            "session_id": sid,
                            "idx": idx,
                            "start_s": round(t, 2),
                            "end_s": round(t + dur, 2),
                            "speaker": speaker,
                            "role": "therapist" if idx % 2 == 0 else "client",
                            "text": text,
                            "words": words,
                            "manual": False,
                        }
                    )
                    t += dur + 0.4
                session_rows.append(
                    {
                        "id": sid,
                        "owner_id": owner,
                        "client_id": clients[i % len(clients)]["id"],
                        "session_date": when.date(),
                        "duration_mins": round(t / 60, 1),
                        "recording_host": host,
                        "recording_sha256": uuid.uuid4().hex + uuid.uuid4().hex,
                        "recording_bytes": int(t * 32000),
                        "session_type": "individual",
                        "processing_status": ProcessingStatus.COMPLETED,
                        "speakers": {
                            "SPEAKER_00": {"role": "therapist", "label": "Therapist"},
                            "SPEAKER_01": {"role": "client", "label": "Client"},
                        },
                        "consent_obtained_at": when,
                        "consent_method": "verbal",
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                note_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "session_id": sid,
                        "version": 1,
                        "sections": note_sections(rng, max(segments, 2)),
                        "status": "draft",
                        "generator": "local",
                        "removed_statements": 0,
                        "warnings": [],
                        "created_at": when,
                        "updated_at": when,
                    }
                )
            conn.execute(insert(TherapySession.__table__), session_rows)
            if segment_rows:
                conn.execute(insert(TranscriptSegment.__table__), segment_rows)
            conn.execute(insert(Note.__table__), note_rows)
            counts["sessions"] += len(session_rows)
            counts["segments"] += len(segment_rows)
            counts["notes"] += len(note_rows)
    return counts


def local_counts(ctx: Any, owner: uuid.UUID) -> dict[str, int]:
    from sqlalchemy import func, select

    from tbdesktop.store.models import Client, Note, TherapySession, TranscriptSegment

    with ctx.db.unit_of_work() as s:
        mine = select(TherapySession.id).where(TherapySession.owner_id == owner)
        return {
            "clients": int(s.scalar(select(func.count()).select_from(Client).where(Client.owner_id == owner)) or 0),
            "sessions": int(
                s.scalar(select(func.count()).select_from(TherapySession).where(TherapySession.owner_id == owner)) or 0
            ),
            "segments": int(
                s.scalar(
                    select(func.count()).select_from(TranscriptSegment).where(TranscriptSegment.session_id.in_(mine))
                )
                or 0
            ),
            "notes": int(s.scalar(select(func.count()).select_from(Note).where(Note.session_id.in_(mine))) or 0),
        }


# --- timing the two halves of a sync -------------------------------------------------------------------------


class PhaseTimer:
    """Wraps the sync service's push and pull so one ``sync_now`` reports the seconds of each."""

    def __init__(self) -> None:
        import tbdesktop.services.sync.service as service_module

        self.module = service_module
        self.seconds: dict[str, float] = {}
        self._saved: dict[str, Callable[..., Any]] = {}

    def _wrap(self, name: str) -> None:
        inner = getattr(self.module, name)
        self._saved[name] = inner

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

        setattr(self.module, name, timed)

    def __enter__(self) -> PhaseTimer:
        self._wrap("push_all")
        self._wrap("pull")
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self._saved.items():
            setattr(self.module, name, fn)


@contextmanager
def profiled(enabled: str | None, label: str, sink: dict[str, str]) -> Iterator[None]:
    if enabled is None:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        if enabled != "-":
            Path(enabled).mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(Path(enabled) / (label.replace(" ", "_") + ".prof")))
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        sink[label] = out.getvalue()


def timed_sync(service: Any, profile: str | None, label: str, profiles: dict[str, str]) -> dict[str, Any]:
    with PhaseTimer() as phases, profiled(profile, label, profiles):
        t0 = time.perf_counter()
        report = service.sync_now()
        wall = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit(f"{label}: the sync reported a problem: {report.message}")
    return {
        "wall_s": wall,
        "push_s": phases.seconds.get("push_all", 0.0),
        "pull_s": phases.seconds.get("pull", 0.0),
        "pushed": report.pushed,
        "pulled": report.pulled,
        "conflicts": report.conflicts,
        "rejected": report.rejected,
    }


# --- edit-to-seen latency ------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, tick_s: float = 0.02) -> float:
    t0 = time.perf_counter()
    deadline = t0 + timeout_s
    while True:
        if predicate():
            return time.perf_counter() - t0
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(tick_s)


def section_text(ctx: Any, note_id: uuid.UUID, key: str) -> str | None:
    from sqlalchemy import select

    from tbdesktop.store.models import Note

    with ctx.db.engine.connect() as conn:
        sections = conn.execute(select(Note.__table__.c.sections).where(Note.__table__.c.id == note_id)).scalar()
    return None if not sections else (sections.get(key) or {}).get("text")


def listeners_ready(cluster: Any, dbname: str, login: str, wanted: int) -> bool:
    out = cluster.psql(
        f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{login}' AND query LIKE 'LISTEN %' AND state = 'idle'",
        dbname,
    )
    return int(out or 0) >= wanted


def measure_latency(
    a: Any,
    b: Any,
    user: Any,
    targets: list[tuple[uuid.UUID, uuid.UUID]],
    *,
    listen: bool,
    edits: int,
    interval_s: float,
    change_delay_s: float,
    cluster: Any,
    dbname: str,
    login: str,
    rng: random.Random,
) -> dict[str, Any]:
    from tbdesktop.services.notes import NoteService
    from tbdesktop.services.sync.loop import SyncLoop
    from tbdesktop.services.sync.service import SyncService

    loops = [
        SyncLoop(SyncService(ctx), interval_s=interval_s, change_delay_s=change_delay_s, listen=listen)
        for ctx in (a, b)
    ]
    notes = NoteService(a, user)
    samples: list[float] = []
    timeout = max(60.0, 3 * interval_s + 30.0)
    try:
        for loop in loops:
            loop.start()
        wait_for(lambda: all(loop.syncs >= 1 for loop in loops), timeout, "both workstations' first sync")
        if listen:
            wait_for(lambda: listeners_ready(cluster, dbname, login, 2), 30.0, "both LISTEN connections", 0.1)
        for n in range(edits):
            session_id, note_id = targets[n % len(targets)]
            key = SECTIONS[n % 4]
            # a random moment relative to both loops' timers (an edit right after the last one was seen would not be)
            time.sleep(rng.uniform(0.0, interval_s if not listen else change_delay_s))
            text = f"Edited on workstation A ({'notify' if listen else 'polling'} #{n + 1}): {uuid.uuid4().hex[:8]}."
            notes.update_section_sync(session_id, key, text)
            seen = wait_for(
                lambda note_id=note_id, key=key, text=text: section_text(b, note_id, key) == text,
                timeout,
                "the edit to reach workstation B",
            )
            samples.append(seen)
            print(f"  {'notify' if listen else 'polling'} edit {n + 1}: seen on B after {seen:.2f} s", flush=True)
    finally:
        for loop in loops:
            loop.stop()
        for loop in loops:
            for t in list(loop._listeners.values()):  # they check the stop flag every second
                t.join(5)
    return {
        "listen": listen,
        "interval_s": interval_s,
        "change_delay_s": change_delay_s,
        "samples_s": [round(x, 3) for x in samples],
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
    }


# --- report ----------------------------------------------------------------------------------------------------


def print_report(r: dict[str, Any]) -> None:
    print(f"\nClinic sync ({r['machine']})")
    print(f"Load average before {_load(r['load_before'])}, after {_load(r['load_after'])}")
    c = r["counts_a"]
    print(
        f"Workload: {c['sessions']} sessions × {r['segments_per_session']} lines = {c['segments']} transcript lines, "
        f"{c['notes']} draft notes, {c['clients']} clients ({r['rows']} rows); seeded in {r['seed_s']:.1f} s"
    )
    head = f"{'step':44} {'seconds':>8} {'push s':>8} {'pull s':>8} {'pushed':>8} {'pulled':>8} {'rows/s':>9}"
    print(head)
    print("-" * len(head))
    for name, key in (("A joins (queues every row)", "join_a"), ("B joins", "join_b")):
        print(f"{name:44} {r[key]['wall_s']:8.2f}")
    for name, key in (("A: first sync (push + pull back)", "sync_a"), ("B: first sync (pull)", "sync_b")):
        s = r[key]
        rate = r["rows"] / s["wall_s"] if s["wall_s"] else 0.0
        print(
            f"{name:44} {s['wall_s']:8.2f} {s['push_s']:8.2f} {s['pull_s']:8.2f} {s['pushed']:8d} {s['pulled']:8d} "
            f"{rate:9.0f}"
        )
    b = r["counts_b"]
    print(
        f"  B holds {b['sessions']} sessions, {b['segments']} lines, {b['notes']} notes, {b['clients']} clients (as A)"
    )
    print("  rows/s: the workload's rows over that step's seconds")
    print(
        f"\nEdit on A → seen on B ({r['edits']} edits each; poll interval {r['interval_s']:g} s, "
        f"change delay {r['change_delay_s']:g} s)"
    )
    head = f"{'mode':44} {'median s':>9} {'min s':>8} {'max s':>8}"
    print(head)
    print("-" * len(head))
    for lat in r["latency"]:
        name = "LISTEN/NOTIFY + polling" if lat["listen"] else "polling only"
        print(f"{name:44} {lat['median_s']:9.2f} {lat['min_s']:8.2f} {lat['max_s']:8.2f}")


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1000, help="sessions on workstation A (default 1000)")
    parser.add_argument("--segments", type=int, default=200, help="transcript lines per session (default 200)")
    parser.add_argument("--edits", type=int, default=5, help="edits timed in each latency mode (default 5)")
    parser.add_argument(
        "--interval", type=float, default=15.0, help="the sync loops' poll interval, s (default 15; the app: 60)"
    )
    parser.add_argument("--change-delay", type=float, default=None, help="the loops' change delay, s (the app's)")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="-",
        metavar="DIR",
        help="cProfile the two first syncs and print the top (with DIR: also write the .prof files there)",
    )
    parser.add_argument("--json", nargs="?", const="-", help="write the results as JSON to this file ('-': stdout)")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.segments < 1 or args.edits < 1:
        parser.error("--sessions, --segments and --edits must be at least 1")

    use_memory_keyring()
    from pg_cluster import PgCluster

    from tbdesktop.config import Settings
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.profiles import ProfileService
    from tbdesktop.services.sync.loop import CHANGE_DELAY_S
    from tbdesktop.services.sync.server import add_user, init_clinic
    from tbdesktop.services.sync.service import SyncService

    change_delay = CHANGE_DELAY_S if args.change_delay is None else args.change_delay
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_before": list(os.getloadavg()),
        "sessions": args.sessions,
        "segments_per_session": args.segments,
        "edits": args.edits,
        "interval_s": args.interval,
        "change_delay_s": change_delay,
    }
    profiles: dict[str, str] = {}
    print("starting a private PostgreSQL cluster …", flush=True)
    cluster = PgCluster()
    contexts: list[Any] = []
    try:
        # every statement is logged for the tests' log checks; a bench of 200,000 rows is not measuring the log
        cluster.psql("ALTER SYSTEM SET log_statement = 'none'")
        cluster.psql("SELECT pg_reload_conf()")
        admin = cluster.new_database()
        dbname = admin.rsplit("/", 1)[1]
        init_clinic(admin)
        add_user(admin, EMAIL, "Bench Therapist", "therapist", PASSWORD)
        url = cluster.server_url(dbname)
        with tempfile.TemporaryDirectory(prefix="tb-bench-sync-") as tmp:

            def workstation(name: str) -> Any:
                os.environ["TB_WORKSTATION_NAME"] = name
                ctx = AppContext.open(Settings(data_dir=Path(tmp) / name, secret_store="keyring"))
                contexts.append(ctx)
                return ctx

            a = workstation("Bench A")
            user = ProfileService(a).create_profile_sync("Bench Therapist", email=EMAIL)
            print(f"seeding workstation A: {args.sessions} sessions × {args.segments} lines …", flush=True)
            t0 = time.perf_counter()
            counts_a = seed(a, user.id, args.sessions, args.segments, "Bench A")
            report["seed_s"] = time.perf_counter() - t0
            report["counts_a"] = counts_a
            report["rows"] = sum(counts_a.values())
            sync_a = SyncService(a)
            t0 = time.perf_counter()
            sync_a.join(url, EMAIL, PASSWORD)
            report["join_a"] = {"wall_s": time.perf_counter() - t0, "queued": sync_a.pending()}
            print(f"A joined ({report['join_a']['queued']} changes queued); first sync …", flush=True)
            report["sync_a"] = timed_sync(sync_a, args.profile, "A first sync", profiles)
            print(f"  {report['sync_a']}", flush=True)

            b = workstation("Bench B")
            sync_b = SyncService(b)
            t0 = time.perf_counter()
            info_b = sync_b.join(url, EMAIL, PASSWORD)
            report["join_b"] = {"wall_s": time.perf_counter() - t0}
            if info_b.user_id != user.id:
                raise SystemExit("workstation B was linked to another clinician id than A's profile")
            print("B joined; first sync …", flush=True)
            report["sync_b"] = timed_sync(sync_b, args.profile, "B first sync", profiles)
            print(f"  {report['sync_b']}", flush=True)
            counts_b = local_counts(b, user.id)
            report["counts_b"] = counts_b
            if counts_b != counts_a:
                raise SystemExit(f"workstation B does not hold A's rows: A {counts_a}, B {counts_b}")
            if local_counts(a, user.id) != counts_a:
                raise SystemExit(f"workstation A's rows changed during its sync: {local_counts(a, user.id)}")

            from sqlalchemy import select

            from tbdesktop.store.models import Note

            with a.db.engine.connect() as conn:
                targets = [
                    (r.session_id, r.id)
                    for r in conn.execute(select(Note.__table__.c.session_id, Note.__table__.c.id).limit(args.edits))
                ]
            rng = random.Random(7)
            login = EMAIL.lower()
            report["latency"] = []
            for listen in (True, False):
                print(f"edit-to-seen latency, {'LISTEN/NOTIFY on' if listen else 'polling only'} …", flush=True)
                report["latency"].append(
                    measure_latency(
                        a,
                        b,
                        user,
                        targets,
                        listen=listen,
                        edits=args.edits,
                        interval_s=args.interval,
                        change_delay_s=change_delay,
                        cluster=cluster,
                        dbname=dbname,
                        login=login,
                        rng=rng,
                    )
                )
            for ctx in contexts:
                ctx.close()
            contexts.clear()
    finally:
        for ctx in contexts:
            ctx.close()
        cluster.destroy()
    report["load_after"] = list(os.getloadavg())
    for label, text in profiles.items():
        print(f"\n=== cProfile: {label} ===\n{text}")
    if args.json == "-":
        print(json.dumps(report, indent=1, default=str))
        return 0
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
