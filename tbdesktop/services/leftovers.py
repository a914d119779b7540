"""What a process that was killed (a crash, a power cut, an app closed mid-job) can leave behind, removed by the next
process that opens the data folder — the window or any command.

- decrypted recordings in a dead process's scratch folder (where the platform has no anonymous memory for them);
- decoded audio the processing coordinator shared with its engine workers;
- a job left running: it goes back to the queue, its try given back;
- a recording whose import was interrupted: its partial encrypted copy (``*.p<pid>.part``) and a complete copy that
  no session refers to (the import stopped between the copy and the database).
Each is removed only when the process that wrote it is gone, so a window and a command working side by side never
take each other's files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tbdesktop.config import Settings
from tbdesktop.engine.scratch import SHM, pid_alive, remove_stale_scratch
from tbdesktop.services.recording_vault import remove_stale_plaintext
from tbdesktop.store.db import Database
from tbdesktop.store.models import ProcessingJob, ProcessingStatus, utcnow
from tbdesktop.store.repositories import SystemJobRepository, SystemStateRepository

log = logging.getLogger(__name__)

PART_RE = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]+\.p(\d+)\.part$")
LEGACY_PART_RE = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]+\.part$")
STORED_RE = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]+$")
# A stored copy is written and then its session row committed, a moment later: younger than this, it may still be
# an import in progress in another process.
SETTLED_S = 15 * 60


@dataclass(frozen=True)
class Leftovers:
    interrupted_jobs: int = 0
    plaintext: int = 0
    scratch: int = 0
    partial_imports: int = 0
    orphan_recordings: int = 0

    @property
    def total(self) -> int:
        return self.interrupted_jobs + self.plaintext + self.scratch + self.partial_imports + self.orphan_recordings


def clean(settings: Settings, db: Database, workstation: str) -> Leftovers:
    """Remove what dead processes left and requeue their jobs; never fails the caller (a file that cannot be
    removed is logged)."""
    found = Leftovers(
        interrupted_jobs=_safely(lambda: len(requeue_interrupted(db, workstation))),
        plaintext=_safely(remove_stale_plaintext),
        scratch=_safely(lambda: sum(remove_stale_scratch(d) for d in (SHM, settings.cache_dir / "scratch"))),
        partial_imports=_safely(lambda: _partial_imports(settings.recordings_dir)),
        orphan_recordings=_safely(lambda: _orphan_recordings(settings.recordings_dir, db)),
    )
    if found.total:
        log.info(
            "removed what an interrupted run left",
            extra={
                "interrupted_jobs": found.interrupted_jobs,
                "plaintext": found.plaintext,
                "scratch": found.scratch,
                "partial_imports": found.partial_imports,
                "orphan_recordings": found.orphan_recordings,
            },
        )
    return found


def requeue_interrupted(db: Database, workstation: str) -> list[uuid.UUID]:
    """Jobs left running by a process that is gone go back to the queue (their try given back: the app dying is
    not the job failing), so no list shows a job as progressing when nothing holds it. A job whose lease another
    workstation keeps alive is left alone. Returns the sessions requeued."""
    host = workstation + ":"
    now = utcnow()

    def abandoned(job: ProcessingJob) -> bool:
        owner = job.lease_owner or ""
        if owner.startswith(host):
            # here the process itself is asked: a live one keeps its job even when a long step let its lease run
            # out (it renews it with its next progress), a dead one's job goes back to the queue at once
            try:
                return not app_process_alive(int(owner.split(":")[1]))
            except (IndexError, ValueError):
                return True
        return job.lease_expires_at is None or job.lease_expires_at < now  # another workstation: its lease

    with db.unit_of_work() as s:
        requeued = SystemJobRepository(s).requeue_abandoned(abandoned)
        for job in requeued:
            SystemStateRepository(s).update_state(
                job.session_id,
                processing_status=ProcessingStatus.QUEUED,
                processing_stage_detail="Waiting to resume",
                eta_seconds=None,
            )
        return [job.session_id for job in requeued]


def app_process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process of this app (not another program that was given a dead one's number)."""
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if pid == os.getpid() or not cmdline.parent.is_dir():
        return True
    try:
        words = cmdline.read_bytes().decode("utf-8", "replace").lower()
    except OSError:
        return True
    return any(name in words for name in ("tbdesktop", "therapybridge", "python", "pytest"))


def _safely(step: Callable[[], int]) -> int:
    try:
        return step()
    except Exception as exc:
        log.warning("leftovers not removed", extra={"error_type": type(exc).__name__})
        return 0


def _partial_imports(folder: Path) -> int:
    removed = 0
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        match = PART_RE.match(entry.name)
        stale = match is not None and not pid_alive(int(match.group(1)))
        # a partial copy written before copies named their process: gone once nothing has written it for a while
        legacy = LEGACY_PART_RE.match(entry.name) is not None and now - _mtime(entry) > SETTLED_S
        if stale or legacy:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
    return removed


def _orphan_recordings(folder: Path, db: Database) -> int:
    if not folder.is_dir():
        return 0
    now = time.time()
    candidates = [
        e for e in folder.iterdir() if STORED_RE.match(e.name) and now - _mtime(e) > SETTLED_S and e.is_file()
    ]
    if not candidates:
        return 0
    with db.unit_of_work() as s:
        known = SystemStateRepository(s).recording_names()
    removed = 0
    for entry in candidates:
        if entry.name not in known:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
