"""The recorder's writer thread ("tb-recorder"): takes captured blocks from the queue, writes them to the journal
(it alone touches the journal), measures them for the observers, and notices a lost device, a full disk or the
time limit. ``Recorder`` holds one per recording."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tbdesktop.services.recording.capture import Block, Capture
from tbdesktop.services.recording.devices import InputStreamLike
from tbdesktop.services.recording.events import DeviceProblem, RecorderState, RecorderStatus
from tbdesktop.services.recording.feed import StreamFeed, close_stream
from tbdesktop.services.recording.journal import JournalWriter

log = logging.getLogger(__name__)


@dataclass
class JournalCall:
    """Journal work for the writer thread; ``done`` is set once it ran."""

    action: Callable[[JournalWriter], Any]
    done: threading.Event = field(default_factory=threading.Event)


STOP = object()


Interrupt = Callable[[RecorderState, DeviceProblem | None], tuple[InputStreamLike | None, RecorderStatus]]


class JournalThread:
    """The writer thread of one recording, made by ``Recorder.start`` once its journal and capture exist.

    What it needs from the recorder comes in explicitly: the recorder's ``lock`` (held while it checks the device),
    ``capturing()`` (recording or paused), ``interrupt(state, problem)`` (ends capture and returns the stream to
    close and the status to announce) and ``emit(method, *args)`` (calls the observers)."""

    def __init__(
        self,
        capture: Capture,
        feed: StreamFeed,
        *,
        lock: threading.RLock,
        stop_after_s: float | None,
        capturing: Callable[[], bool],
        interrupt: Interrupt,
        emit: Callable[..., None],
    ) -> None:
        self._capture = capture
        self._journal = capture.journal
        self._feed = feed
        self._queue = feed.queue
        self._lock = lock
        self._stop_after_s = stop_after_s
        self._capturing = capturing
        self._interrupt = interrupt
        self._emit = emit
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="tb-recorder", daemon=True)

    @property
    def journal_id(self) -> str:
        return self._journal.header.id

    @property
    def elapsed_s(self) -> float:
        return self._capture.elapsed_s

    def start(self) -> None:
        self._thread.start()

    def is_current(self) -> bool:
        """Whether the caller runs on this writer thread (an observer called by it)."""
        return threading.current_thread() is self._thread

    def call(self, action: Callable[[JournalWriter], Any], *, wait: bool = False) -> None:
        """Journal work, done on the writer thread in order with the audio (dropped once the thread has ended)."""
        if not self._thread.is_alive():
            return
        call = JournalCall(action)
        self._queue.put(call)
        if wait:
            call.done.wait(timeout=10.0)

    def note(self, name: str, *, sync: bool = False, wait: bool = False, **values: Any) -> None:
        """An event in the journal (pause, resume, device change) at the frame the audio has reached."""
        self.call(lambda journal: self._event(journal, name, sync=sync, **values), wait=wait)

    def finish(self) -> None:
        """Writes what is queued, closes the journal and ends the thread."""
        if self._thread.is_alive():
            self._queue.put(STOP)
            self._thread.join()

    def _event(self, journal: JournalWriter, name: str, *, sync: bool = False, **values: Any) -> None:
        journal.event({"event": name, "frame": self._capture.frames, **values})
        if sync:
            journal.sync()

    def _run(self) -> None:
        capture, journal = self._capture, self._journal
        try:
            while True:
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    item = None
                if item is STOP:
                    break
                try:
                    if isinstance(item, JournalCall):
                        try:
                            if not self._failed:
                                item.action(journal)
                        finally:
                            item.done.set()
                        continue
                    if self._failed:
                        continue
                    if isinstance(item, Block):
                        self._on_block(capture, item)
                    journal.tick(time.monotonic())
                    self._watch_device(journal)
                    if capture.at_limit and self._capturing():
                        self._reach_limit(journal)
                except OSError as exc:
                    self._storage_failed(exc)
        finally:
            while not self._queue.empty():  # nobody waits for journal work that will never run
                item = self._queue.get_nowait()
                if isinstance(item, JournalCall):
                    item.done.set()
            try:
                journal.flush()
                journal.close()
            except OSError as exc:
                log.error("journal not closed cleanly", extra={"error_type": type(exc).__name__})

    def _on_block(self, capture: Capture, block: Block) -> None:
        self._feed.last_block_at = max(self._feed.last_block_at, block.arrival)
        result = capture.add(block)
        if result.overflow_lost is not None:
            rate = capture.fmt.sample_rate
            log.info("input overflow", extra={"journal_id": self.journal_id, "lost_frames": result.overflow_lost})
            message = (
                f"The input device could not keep up: {result.overflow_lost / rate:.2f} s lost, marked as silence."
            )
            self._emit("device_error", DeviceProblem("overflow", message, capture.elapsed_s, True))
        self._emit("level", result.level)
        if result.recorded:
            self._emit("elapsed", capture.elapsed_s)

    def _watch_device(self, journal: JournalWriter) -> None:
        with self._lock:
            if self._feed.stream is None or not self._capturing():
                return
            gone, stalled = self._feed.lost()
            if not gone:
                return
            name = self._feed.device.name if self._feed.device else "the input device"
            problem = DeviceProblem(
                "device_lost",
                f"The input device '{name}' stopped (unplugged or switched off?). Everything recorded so far is "
                "kept: resume on it or on another device, or stop to save the session.",
                self.elapsed_s,
                True,
            )
            stream, status = self._interrupt(RecorderState.DEVICE_LOST, problem)
        log.warning("input device lost", extra={"journal_id": self.journal_id, "stalled": stalled})
        journal.flush()
        self._event(journal, "device_lost", sync=True, stalled=stalled)
        if stream is not None:
            close_stream(stream, abort=True)
        self._emit("device_error", problem)
        self._emit("state_changed", status)

    def _reach_limit(self, journal: JournalWriter) -> None:
        asked = self._stop_after_s is not None and self.elapsed_s >= self._stop_after_s - 1e-6
        problem = None
        if not asked:
            problem = DeviceProblem(
                "limit",
                "The recording reached the longest length accepted (TB_MAX_DURATION_MIN) and was stopped.",
                self.elapsed_s,
                False,
            )
        stream, status = self._interrupt(RecorderState.STOPPED, problem)
        journal.flush()
        journal.sync()
        if stream is not None:
            close_stream(stream, abort=True)
        if problem is not None:
            self._emit("device_error", problem)
        self._emit("state_changed", status)

    def _storage_failed(self, exc: OSError) -> None:
        self._failed = True
        log.error("journal write failed", extra={"journal_id": self.journal_id, "error_type": type(exc).__name__})
        problem = DeviceProblem(
            "storage",
            f"The recording could not be written to the data folder ({exc.strerror}) and was stopped. What was "
            "written before is kept.",
            self.elapsed_s,
            False,
        )
        stream, status = self._interrupt(RecorderState.STOPPED, problem)
        if stream is not None:
            close_stream(stream, abort=True)
        self._emit("device_error", problem)
        self._emit("state_changed", status)
