"""The live recorder: one recording, from the device to the session it becomes.

Threads. PortAudio calls the stream callback on its own thread; the callback only copies the block into a queue.
The recorder's writer thread ("tb-recorder") takes blocks from the queue, measures them, writes them to the
encrypted journal and watches the device. Observers are called on the writer thread (level, elapsed time, device
errors, and the state changes it causes: device lost, time limit, storage failure) or on the thread that called
start/pause/resume/stop/save/discard (their own state changes) — never on PortAudio's thread. A GUI forwards them
to its UI thread (Qt: emit a signal; a queued connection crosses threads). Controls must not be called from an
observer running on the writer thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tbdesktop.errors import TBError, ValidationError
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.recording.capture import Capture
from tbdesktop.services.recording.devices import (
    AudioBackend,
    CaptureFormat,
    InputStreamLike,
    capture_format,
    pick_device,
)
from tbdesktop.services.recording.events import (
    DeviceProblem,
    RecorderObserver,
    RecorderState,
    RecorderStatus,
    RecordingParams,
)
from tbdesktop.services.recording.feed import StreamFeed, close_stream
from tbdesktop.services.recording.finalize import NothingRecordedError
from tbdesktop.services.recording.journal import JournalLock, JournalWriter, lock_path
from tbdesktop.services.recording.writer import JournalThread

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import SessionInfo, UserInfo

log = logging.getLogger(__name__)


CAPTURING = (RecorderState.RECORDING, RecorderState.PAUSED)


class RecordingHost(Protocol):
    """What a recorder needs from the service that made it (``RecordingService`` is the one)."""

    @property
    def ctx(self) -> AppContext: ...
    @property
    def user(self) -> UserInfo: ...
    @property
    def backend(self) -> AudioBackend: ...
    @property
    def in_progress_dir(self) -> Path: ...
    def remembered_device_sync(self) -> str | None: ...
    def remember_device_sync(self, name: str) -> None: ...
    def check_free_space(self, fmt: CaptureFormat) -> None: ...
    def master_key(self) -> bytes: ...
    def audit_journal(self, action: str, journal_id: str | None) -> None: ...
    def finalize_journal(
        self, path: Path, journal_lock: JournalLock, details: dict[str, Any] | None = None
    ) -> SessionInfo: ...


class Recorder:
    """Made by ``RecordingService.recorder(params)``: start, pause, resume, stop, then save (or discard)."""

    def __init__(
        self, service: RecordingHost, params: RecordingParams, observers: tuple[RecorderObserver, ...] = ()
    ) -> None:
        self._service = service
        self._backend = service.backend
        self.params = params
        self._observers: list[RecorderObserver] = list(observers)
        self._lock = threading.RLock()
        self._state = RecorderState.IDLE
        self._format = CaptureFormat(0, 0)
        self._feed = StreamFeed(self._backend)
        self._writer: JournalThread | None = None
        self._journal: JournalWriter | None = None
        self._journal_lock: JournalLock | None = None
        self._capture: Capture | None = None
        self._problem: DeviceProblem | None = None
        self._details: dict[str, Any] = {
            "client_name": (params.client_name or "").strip() or None,
            "client_id": str(params.client_id) if params.client_id else None,
            "session_date": (params.session_date or date.today()).isoformat(),
            "session_type": params.session_type,
            "consent_method": params.consent_method,
        }

    # -- observers and status ---------------------------------------------------------------------------

    def add_observer(self, observer: RecorderObserver) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: RecorderObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def _emit(self, method: str, *args: Any) -> None:
        for observer in list(self._observers):
            try:
                getattr(observer, method)(*args)
            except Exception as exc:  # an observer's failure never stops the recording
                log.warning("recorder observer failed", extra={"callback": method, "error_type": type(exc).__name__})

    @property
    def state(self) -> RecorderState:
        return self._state

    @property
    def journal_id(self) -> str | None:
        return self._journal.header.id if self._journal is not None else None

    @property
    def journal_path(self) -> Path | None:
        return self._journal.path if self._journal is not None else None

    @property
    def backlog(self) -> int:
        """Blocks captured and not yet written (near 0 unless the disk is slow)."""
        return self._feed.queue.qsize()

    @property
    def elapsed_s(self) -> float:
        return self._capture.elapsed_s if self._capture is not None else 0.0

    def status(self) -> RecorderStatus:
        with self._lock:
            rate = self._format.sample_rate
            capture = self._capture
            return RecorderStatus(
                state=self._state,
                elapsed_s=self.elapsed_s,
                device=self._feed.device.name if self._feed.device else None,
                sample_rate=rate,
                channels=self._format.channels,
                overflows=capture.overflows if capture else 0,
                gap_s=capture.gap_frames / rate if capture and rate else 0.0,
                journal_id=self.journal_id,
                problem=self._problem,
            )

    def _interrupt(
        self, state: RecorderState, problem: DeviceProblem | None
    ) -> tuple[InputStreamLike | None, RecorderStatus]:
        """The writer thread ends capture: the stream to close and the status to announce."""
        with self._lock:
            stream = self._feed.detach()
            self._feed.paused = False
            self._state = state
            self._problem = problem
            log.info("recorder state", extra={"journal_id": self.journal_id, "state": state.value})
            return stream, self.status()

    def _journal_call(self, action: Callable[[JournalWriter], Any], *, wait: bool = False) -> None:
        if self._writer is not None:
            self._writer.call(action, wait=wait)

    def _note(self, name: str, *, sync: bool = False, wait: bool = False, **values: Any) -> None:
        if self._writer is not None:
            self._writer.note(name, sync=sync, wait=wait, **values)

    def _finish_writer(self) -> None:
        if self._writer is not None:
            self._writer.finish()

    def _change(self, state: RecorderState) -> RecorderStatus:
        with self._lock:
            self._state = state
            status = self.status()
        log.info("recorder state", extra={"journal_id": status.journal_id, "state": state.value})
        self._emit("state_changed", status)
        return status

    # -- controls ---------------------------------------------------------------------------------------------

    def start(self) -> RecorderStatus:
        """Opens the device and starts the journal; raises TBError (and keeps nothing) when it cannot."""
        with self._lock:
            if self._state is not RecorderState.IDLE:
                raise ValidationError("This recorder has already been used; start a new recording.")
            device = pick_device(self._backend, self.params.device, self._service.remembered_device_sync())
            fmt = capture_format(self._backend, device, self.params.sample_rate, self.params.channels)
            limit_s = self._service.ctx.settings.max_duration_s
            if self.params.stop_after_s is not None:
                if self.params.stop_after_s <= 0:
                    raise ValidationError("The recording length must be more than 0 seconds.")
                limit_s = min(limit_s, self.params.stop_after_s)
            self._service.check_free_space(fmt)
            master = self._service.master_key()
            journal_id = uuid.uuid4().hex
            folder = self._service.in_progress_dir
            folder.mkdir(parents=True, exist_ok=True)
            # Locked before the journal exists: no other process ever takes it for an interrupted one.
            journal_lock = JournalLock(lock_path(folder / f"{journal_id}.tbj"))
            if not journal_lock.acquire():
                raise TBError("The recording could not be started; try again.")
            try:
                journal = JournalWriter.create(
                    folder, self._service.user.id, master, fmt.sample_rate, fmt.channels, journal_id
                )
                journal.details(dict(self._details))
                journal.sync()
            except OSError as exc:
                journal_lock.release(remove=True)
                raise TBError(f"The recording could not be started in the data folder: {exc.strerror}.") from exc
            self._format, self._journal, self._journal_lock = fmt, journal, journal_lock
            self._capture = Capture(journal, fmt, int(round(limit_s * fmt.sample_rate)))
            self._writer = JournalThread(
                self._capture,
                self._feed,
                lock=self._lock,
                stop_after_s=self.params.stop_after_s,
                capturing=lambda: self._state in CAPTURING,
                interrupt=self._interrupt,
                emit=self._emit,
            )
            self._writer.start()
            try:
                self._feed.open(device, fmt)
            except BaseException:
                self._finish_writer()
                self._remove_journal()
                raise
            self._state = RecorderState.RECORDING
            status = self.status()
        log.info(
            "recording started",
            extra={
                "journal_id": journal_id,
                "sample_rate": fmt.sample_rate,
                "channels": fmt.channels,
                "device_index": device.index,
            },
        )
        self._service.remember_device_sync(device.name)
        self._emit("state_changed", status)
        return status

    def pause(self) -> RecorderStatus:
        """Stops keeping audio (the device stays open, so the level meter goes on); all kept so far is on disk."""
        with self._lock:
            if self._state is RecorderState.PAUSED:
                return self.status()
            if self._state is not RecorderState.RECORDING:
                raise ValidationError("The recorder is not recording.")
            self._feed.paused = True  # blocks captured from now on are measured, not kept
            self._state = RecorderState.PAUSED
            status = self.status()
        log.info("recorder state", extra={"journal_id": status.journal_id, "state": status.state.value})
        self._note("paused", sync=True, wait=True)
        self._emit("state_changed", status)
        return status

    def resume(self, device: str | int | None = None) -> RecorderStatus:
        """Goes on after a pause or a lost device, on the same device or on ``device``: same journal, same format
        (a one-channel device fills both channels of a two-channel recording)."""
        with self._lock:
            if self._state not in (RecorderState.PAUSED, RecorderState.DEVICE_LOST):
                raise ValidationError("Only a paused recording, or one whose device was lost, can resume.")
            current = self._feed.device
            same = device is None or (current is not None and str(device).strip() in (current.name, str(current.index)))
            if self._feed.stream is None or not same:
                wanted = device if device is not None else (current.name if current else None)
                chosen = pick_device(self._backend, wanted)
                old = self._feed.detach()
                if old is not None:
                    close_stream(old, abort=False)
                self._feed.open(chosen, self._format)
                self._note("device", device_index=chosen.index)
            self._feed.paused = False
            self._problem = None
            self._state = RecorderState.RECORDING
            status = self.status()
        log.info("recorder state", extra={"journal_id": status.journal_id, "state": status.state.value})
        self._note("resumed")
        self._emit("state_changed", status)
        return status

    def set_details(
        self,
        *,
        client_name: str | None = None,
        client_id: uuid.UUID | None = None,
        session_date: date | None = None,
        session_type: str | None = None,
        consent_method: str | None = None,
    ) -> None:
        """What the session will be created with, changed while recording (sealed in the journal for a recovery)."""
        if self._state in (RecorderState.SAVED, RecorderState.DISCARDED):
            raise ValidationError("This recording is already saved.")
        update: dict[str, Any] = {
            "client_name": client_name.strip() or None if client_name is not None else None,
            "client_id": str(client_id) if client_id is not None else None,
            "session_date": session_date.isoformat() if session_date is not None else None,
            "session_type": session_type,
            "consent_method": consent_method,
        }
        with self._lock:
            self._details.update({k: v for k, v in update.items() if v is not None})
            if client_name is not None:
                self._details["client_name"] = update["client_name"]
            values = dict(self._details)
        self._journal_call(lambda j: j.details(values), wait=True)

    def stop(self) -> RecorderStatus:
        """Ends capture: everything captured is sealed and synced; ``save`` then makes it a session."""
        if self._writer is not None and self._writer.is_current():
            raise ValidationError("The recorder cannot be stopped from one of its observers.")
        with self._lock:
            if self._state is RecorderState.IDLE:
                raise ValidationError("The recorder was not started.")
            if self._state in (RecorderState.SAVED, RecorderState.DISCARDED):
                return self.status()
            already = self._state is RecorderState.STOPPED  # by the time limit or a storage failure
            stream = self._feed.detach()
        if stream is not None:
            close_stream(stream, abort=False)  # delivers the blocks still in PortAudio's buffer
        self._finish_writer()
        if already:
            return self.status()
        status = self._change(RecorderState.STOPPED)
        log.info("recording stopped", extra={"journal_id": status.journal_id, "seconds": round(status.elapsed_s, 2)})
        return status

    def save_sync(self) -> SessionInfo:
        """Stops if needed, then the journal becomes an encrypted recording and a queued session (the import
        path, consent gate included); the journal is removed once the session exists, and kept if it fails."""
        self.stop()
        with self._lock:
            if self._state is not RecorderState.STOPPED or self._journal is None:
                raise ValidationError("This recording was already saved or discarded.")
            if self._journal_lock is None:
                raise ValidationError("This recording was closed; recover it from the interrupted recordings.")
            path, journal_lock, details = self._journal.path, self._journal_lock, dict(self._details)
        try:
            info = self._service.finalize_journal(path, journal_lock, details)
        except NothingRecordedError:
            self._journal_lock = None
            self._change(RecorderState.DISCARDED)
            raise
        self._journal_lock = None
        self._change(RecorderState.SAVED)
        return info

    save = off_loop(save_sync)

    def discard(self) -> None:
        """Stops if needed and deletes everything recorded (the caller has asked the user)."""
        if self._state in (RecorderState.IDLE, RecorderState.DISCARDED):
            return
        self.stop()
        with self._lock:
            if self._state is RecorderState.SAVED:
                raise ValidationError("This recording is already saved as a session.")
            self._remove_journal()
        self._service.audit_journal("recording.discard", self.journal_id)
        self._change(RecorderState.DISCARDED)

    def close(self) -> None:
        """Lets go of an unsaved recording: capture stops and the journal stays, to be offered by
        ``RecordingService.find_interrupted`` as after a crash. Nothing to do once saved or discarded."""
        if self._state in (RecorderState.IDLE, RecorderState.SAVED, RecorderState.DISCARDED):
            return
        self.stop()
        with self._lock:
            if self._journal_lock is not None:
                self._journal_lock.release()
                self._journal_lock = None

    def _remove_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal.path.unlink(missing_ok=True)
        if self._journal_lock is not None:
            self._journal_lock.release(remove=True)
            self._journal_lock = None
