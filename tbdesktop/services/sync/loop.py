"""Background sync: a thread that syncs every so often, soon after a local change, and as soon as another
workstation pushed a change for this clinician (PostgreSQL LISTEN/NOTIFY); with growing pauses while the server is
unreachable. It never touches the window: the state goes out through a callback the GUI marshals to its thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress

from tbdesktop.errors import TBError
from tbdesktop.services.sync.service import ClinicUnreachableError, SyncReport, SyncService, SyncStatus

log = logging.getLogger(__name__)

INTERVAL_S = 60.0
CHANGE_DELAY_S = 2.0
BACKOFF_MAX_S = 600.0


def notify_channel(owner: uuid.UUID) -> str:
    """The channel a push announces itself on: the clinician's id only, never content."""
    return f"tb_sync_{owner.hex}"


class SyncLoop:
    def __init__(
        self,
        service: SyncService,
        *,
        on_status: Callable[[SyncStatus], None] | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
        interval_s: float = INTERVAL_S,
        change_delay_s: float = CHANGE_DELAY_S,
        listen: bool = True,
    ) -> None:
        self.service = service
        self.on_status = on_status
        self.on_report = on_report
        self.interval_s = interval_s
        self.change_delay_s = change_delay_s
        self.listen = listen
        self._wake = threading.Condition()
        self._due = 0.0  # monotonic time of the next sync
        self._stop = False
        self._failures = 0
        self._thread: threading.Thread | None = None
        self._listeners: dict[uuid.UUID, threading.Thread] = {}
        self._listening: set[uuid.UUID] = set()
        self.syncs = 0  # completed syncs (for tests and the status line)

    @property
    def failures(self) -> int:
        """Failed syncs in a row (the pause before the next one grows with them)."""
        return self._failures

    def listening(self) -> bool:
        """True when every joined clinician's channel is being listened to."""
        accounts = {a.user_id for a in self.service.accounts()}
        return bool(accounts) and accounts <= self._listening

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="tb-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def poke(self, delay_s: float | None = None) -> None:
        """Sync soon: after a local change (a short delay gathers a burst of edits), or now."""
        delay = self.change_delay_s if delay_s is None else delay_s
        with self._wake:
            self._due = min(self._due, time.monotonic() + delay) if self._due else time.monotonic() + delay
            self._wake.notify_all()

    def sync_now(self) -> None:
        self.poke(0.0)

    def _emit_status(self) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(self.service.status())
        except Exception:  # a status read must never stop the loop
            log.exception("sync status failed")

    def _changes_waiting(self) -> bool:
        try:
            return self._failures == 0 and self.service.pending() > 0
        except Exception:
            return False

    def _run(self) -> None:
        self._due = time.monotonic()
        while True:
            with self._wake:
                while not self._stop and time.monotonic() < self._due:
                    self._wake.wait(max(0.05, min(self.change_delay_s, self._due - time.monotonic())))
                    # a change saved here (by any process on this workstation) is pushed within moments
                    if not self._stop and time.monotonic() < self._due and self._changes_waiting():
                        break
                if self._stop:
                    return
                self._due = 0.0
            delay = self._once()
            with self._wake:
                if not self._due or self._due > time.monotonic() + delay:
                    self._due = time.monotonic() + delay

    def _once(self) -> float:
        """One sync; returns the pause before the next one."""
        if not self.service.accounts():
            self._emit_status()
            return self.interval_s
        try:
            report = self.service.sync_now()
            self._failures = 0
            self.syncs += 1
            if self.on_report is not None:
                self.on_report(report)
            self._ensure_listeners()
            pause = self.interval_s
        except ClinicUnreachableError:
            self._failures += 1
            pause = min(BACKOFF_MAX_S, min(self.interval_s, 15.0) * (2 ** min(self._failures - 1, 6)))
        except TBError as exc:
            log.warning("sync failed", extra={"error_type": type(exc).__name__})
            self._failures += 1
            pause = min(BACKOFF_MAX_S, self.interval_s * (2 ** min(self._failures - 1, 4)))
        except Exception:
            log.exception("sync failed unexpectedly")
            self._failures += 1
            pause = BACKOFF_MAX_S
        self._emit_status()
        return pause

    # -- pushes from other workstations --------------------------------------------------------------------

    def _ensure_listeners(self) -> None:
        if not self.listen:
            return
        for acct in self.service.accounts():
            t = self._listeners.get(acct.user_id)
            if t is not None and t.is_alive():
                continue
            t = threading.Thread(target=self._listen, args=(acct.user_id,), name="tb-sync-listen", daemon=True)
            self._listeners[acct.user_id] = t
            t.start()

    def _listen(self, user_id: uuid.UUID) -> None:
        """Holds one connection that LISTENs on this clinician's channel; a notification from another
        workstation triggers a pull. Ends (and is restarted by the next successful sync) when the link drops."""
        conn = None
        try:
            conn = self.service.listen_connection(user_id)
            if conn is None:
                return
            mine = self.service.workstation_id()
            conn.execute(f'LISTEN "{notify_channel(user_id)}"')
            self._listening.add(user_id)
            while not self._stop:
                for note in conn.notifies(timeout=1.0, stop_after=1):
                    if note.payload != str(mine):
                        self.poke(0.2)
        except Exception as exc:  # the server went away: the polling loop carries on
            log.info("sync listener ended", extra={"error_type": type(exc).__name__})
        finally:
            self._listening.discard(user_id)
            if conn is not None:
                with suppress(Exception):
                    conn.close()
