"""The background sync loop: a change saved on one workstation shows on another without anyone pressing Sync (the
pushing workstation announces it, the other pulls at once), and an unreachable server makes it wait and retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from clinic_support import Clinic, add_session, shared_session
from polling import until
from sqlalchemy import select

from tbdesktop.services.notes import NoteService
from tbdesktop.services.sync.loop import SyncLoop
from tbdesktop.services.sync.service import SyncStatus
from tbdesktop.store.models import Note

pytestmark = pytest.mark.postgres

T1 = "t1@clinic.example"


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    until(predicate, timeout, what, interval=0.05)


def _plan(ws: Any, session_id: Any) -> str:
    with ws.ctx.db.unit_of_work() as s:
        note = s.scalars(select(Note).where(Note.session_id == session_id)).one()
        return str(note.sections["plan"]["text"])


def test_an_edit_reaches_the_other_workstation_without_pressing_sync(clinic: Clinic, workstations: Any) -> None:
    a, b, user, b_user, session_id = shared_session(clinic, workstations)
    # a long poll interval: only the change itself (A) and the announcement (B) can make this quick
    loops = [SyncLoop(ws.sync, interval_s=3600, change_delay_s=0.3) for ws in (a, b)]
    for loop in loops:
        loop.start()
    try:
        wait_for(lambda: all(loop.syncs >= 1 for loop in loops), what="the first background syncs")
        wait_for(lambda: all(loop.listening() for loop in loops), what="both workstations listening")
        for n in range(3):
            text = f"Plan, revision {n} from Room 2"
            NoteService(a.ctx, user).update_section_sync(session_id, "plan", text)
            wait_for(lambda text=text: _plan(b, session_id) == text, what=f"revision {n} on Room 4")  # type: ignore[misc]
        NoteService(b.ctx, b_user).update_section_sync(session_id, "plan", "Answered from Room 4")
        wait_for(lambda: _plan(a, session_id) == "Answered from Room 4", what="the edit back on Room 2")
    finally:
        for loop in loops:
            loop.stop()


def test_the_loop_waits_while_the_server_is_down_and_catches_up(
    clinic: Clinic, clinic_cluster: Any, workstations: Any
) -> None:
    a = workstations("Room 2")
    user = a.join(clinic, T1)
    statuses: list[SyncStatus] = []
    loop = SyncLoop(a.sync, interval_s=3600, change_delay_s=0.2, on_status=statuses.append, listen=False)
    loop.start()
    try:
        wait_for(lambda: loop.syncs >= 1, what="the first background sync")
        clinic_cluster.stop()
        try:
            add_session(a, user.id)
            wait_for(lambda: any(s.state == "offline" for s in statuses), what="the offline state")
            assert a.sync.pending() > 0
            assert loop.failures >= 1
        finally:
            clinic_cluster.start()
        loop.sync_now()  # what the indicator's "Sync now" does; without it the backoff would retry later
        wait_for(lambda: a.sync.pending() == 0, what="the queued changes to be sent")
        wait_for(lambda: statuses[-1].state == "synced", what="the synced state")
        assert clinic.count("therapy_sessions") == 1
    finally:
        loop.stop()
