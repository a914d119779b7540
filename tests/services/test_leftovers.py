"""What killed processes leave in the data folder and on memory-backed storage is removed at the next start — and
only theirs: a live process's files stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tbdesktop.engine.scratch import SHM
from tbdesktop.services import leftovers
from tbdesktop.services.context import AppContext
from tbdesktop.services.sessions import ImportRequest, SessionService


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_partial_and_orphan_imports_of_dead_processes_are_removed(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    info = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=two_speaker[0], consent_method="verbal")
    )
    recordings = ctx.settings.recordings_dir
    kept = sorted(p.name for p in recordings.iterdir())
    dead, old = dead_pid(), leftovers.SETTLED_S + 60
    dead_part = recordings / f"{uuid.uuid4().hex}.wav.p{dead}.part"
    live_part = recordings / f"{uuid.uuid4().hex}.wav.p{os.getpid()}.part"  # an import running now
    legacy_old = recordings / f"{uuid.uuid4().hex}.mp3.part"
    legacy_new = recordings / f"{uuid.uuid4().hex}.mp3.part"
    orphan_old = recordings / f"{uuid.uuid4().hex}.wav"  # copied, but its session never committed
    orphan_new = recordings / f"{uuid.uuid4().hex}.wav"  # may be an import about to commit
    for path in (dead_part, live_part, legacy_new, orphan_new):
        path.write_bytes(b"TBREC1" + os.urandom(64))
    for path in (legacy_old, orphan_old):
        path.write_bytes(b"TBREC1" + os.urandom(64))
        aged(path, old)
    stored = aged(recordings / kept[0], old)  # an old recording that a session refers to

    found = leftovers.clean(ctx.settings, ctx.db, ctx.workstation)
    assert (found.partial_imports, found.orphan_recordings) == (2, 1)
    assert not dead_part.exists() and not legacy_old.exists() and not orphan_old.exists()
    assert live_part.exists() and legacy_new.exists() and orphan_new.exists() and stored.exists()
    assert SessionService(ctx, therapist).get_sync(info.id).status == "queued"


def test_plaintext_folders_and_decoded_audio_of_dead_processes_are_removed(ctx: AppContext) -> None:
    from tbdesktop.services.recording_vault import scratch_root

    dead = dead_pid()
    folder = scratch_root() / f"tbdesktop-{os.getuid()}" / f"p{dead}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rec-abc.wav").write_bytes(b"RIFF" + os.urandom(64))
    empty = scratch_root() / f"tbdesktop-{os.getuid()}" / f"p{dead_pid()}"
    empty.mkdir(parents=True, exist_ok=True)  # left by a process that exited before it could remove its folder
    shared_root = SHM if SHM.is_dir() else ctx.settings.cache_dir / "scratch"
    shared_root.mkdir(parents=True, exist_ok=True)
    shared = shared_root / f"tb-audio-{dead}-{uuid.uuid4().hex}.f32"
    shared.write_bytes(os.urandom(64))
    mine = shared_root / f"tb-audio-{os.getpid()}-{uuid.uuid4().hex}.f32"
    mine.write_bytes(os.urandom(64))
    try:
        found = leftovers.clean(ctx.settings, ctx.db, ctx.workstation)
        assert found.plaintext >= 1 and found.scratch >= 1
        assert not folder.exists() and not empty.exists() and not shared.exists()
        assert mine.exists()  # this process is alive: its audio is in use
    finally:
        mine.unlink(missing_ok=True)


def test_jobs_of_dead_processes_are_requeued_with_their_try_given_back(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from tbdesktop.store.models import ProcessingJob, utcnow
    from tbdesktop.store.repositories import MAX_INTERRUPTIONS

    service = SessionService(ctx, therapist)
    mine = service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    theirs = service.import_recording_sync(
        ImportRequest(source=two_speaker[0], consent_method="verbal", allow_duplicate=True)
    )

    def hold(session_id: uuid.UUID, pid: int, lease_s: float, attempts: int = 1) -> None:
        with ctx.db.unit_of_work() as s:
            job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == session_id)).one()
            job.status, job.attempts = "running", attempts
            job.lease_owner = f"{ctx.workstation}:{pid}:abc"
            job.lease_expires_at = utcnow() + timedelta(seconds=lease_s)

    def job(session_id: uuid.UUID) -> ProcessingJob:
        with ctx.db.unit_of_work() as s:
            row = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == session_id)).one()
            s.expunge(row)
            return row

    hold(mine.id, os.getpid(), -600)  # this live process, its lease run out during a long step: kept
    hold(theirs.id, dead_pid(), 600)  # a dead process, its lease still running: requeued now
    assert leftovers.requeue_interrupted(ctx.db, ctx.workstation) == [theirs.id]
    assert job(mine.id).status == "running"
    requeued = job(theirs.id)
    assert requeued.status == "queued" and requeued.attempts == 0 and requeued.params["interrupted"] == 1
    assert service.get_sync(theirs.id).stage_detail == "Waiting to resume"

    for n in range(2, MAX_INTERRUPTIONS + 2):  # a job that keeps going down with its process counts in the end
        hold(theirs.id, dead_pid(), 600, attempts=1)
        leftovers.requeue_interrupted(ctx.db, ctx.workstation)
        assert job(theirs.id).attempts == (0 if n <= MAX_INTERRUPTIONS else 1)
