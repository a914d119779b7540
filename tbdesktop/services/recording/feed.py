"""The device side of a recording: PortAudio input streams whose callback copies each block into a queue.

The callback runs on PortAudio's thread and does nothing but copy and enqueue: no locks, no disk, no observers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from tbdesktop.errors import TBError
from tbdesktop.services.recording.capture import Block
from tbdesktop.services.recording.devices import (
    AudioBackend,
    CaptureFormat,
    InputDevice,
    InputStreamLike,
    stream_channels,
)

log = logging.getLogger(__name__)

BLOCK_S = 0.05  # PortAudio block: level readings come 20 times a second
STALL_S = 2.0  # no block for this long from a running stream: the device is gone
FIRST_BLOCK_GRACE_S = 5.0  # a device may take a moment to deliver its first block
MAX_BACKLOG_S = 30.0  # audio waiting for the writer before blocks are dropped (and marked as a gap)


class StreamFeed:
    def __init__(self, backend: AudioBackend) -> None:
        self.backend = backend
        self.queue: queue.Queue[Any] = queue.Queue()
        self.stream: InputStreamLike | None = None
        self.device: InputDevice | None = None
        self.paused = False  # read by the callback: blocks captured while paused are measured, not kept
        self.last_block_at = 0.0
        self._generation = 0
        self._finished_generation = -1
        self._dropped = 0
        self._max_backlog = int(MAX_BACKLOG_S / BLOCK_S)

    def open(self, device: InputDevice, fmt: CaptureFormat) -> None:
        """Opens and starts a stream on ``device`` in the recording's format; raises TBError when it cannot."""
        rate = fmt.sample_rate
        channels = stream_channels(device, fmt.channels)
        try:
            self.backend.check_input_settings(device.index, channels, rate)
        except Exception as exc:  # PortAudio's refusal: the user picks another device
            raise TBError(f"The input device '{device.name}' cannot record at {rate} Hz.") from exc
        self._generation += 1
        generation = self._generation
        self.last_block_at = time.monotonic() + FIRST_BLOCK_GRACE_S
        try:
            stream = self.backend.open_input(
                device=device.index,
                channels=channels,
                samplerate=rate,
                blocksize=max(1, int(rate * BLOCK_S)),
                callback=self._callback(generation, channels),
                finished_callback=self._finished(generation),
            )
        except Exception as exc:  # busy, or unplugged between listing and opening
            log.warning("input stream not opened", extra={"error_type": type(exc).__name__})
            raise TBError(
                f"The input device '{device.name}' could not be opened; it may be in use or unplugged."
            ) from exc
        try:
            stream.start()
        except Exception as exc:
            close_stream(stream, abort=True)
            raise TBError(f"The input device '{device.name}' could not start recording.") from exc
        self.stream = stream
        self.device = device

    def detach(self) -> InputStreamLike | None:
        """The current stream, no longer the feed's (the caller closes it)."""
        stream, self.stream = self.stream, None
        return stream

    def lost(self) -> tuple[bool, bool]:
        """(gone, stalled): the stream ended by itself and its blocks are all taken, or it went silent."""
        finished = self._finished_generation == self._generation and self.queue.empty()
        stalled = time.monotonic() - self.last_block_at > STALL_S
        return finished or stalled, stalled

    def _callback(self, generation: int, channels: int) -> Callable[[Any, int, Any, Any], None]:
        put = self.queue.put_nowait
        backlog = self.queue.qsize

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if backlog() >= self._max_backlog:
                self._dropped += frames
                return
            dropped, self._dropped = self._dropped, 0
            try:
                adc = float(time_info.inputBufferAdcTime)
            except (AttributeError, TypeError, ValueError):
                adc = 0.0
            overflow = bool(getattr(status, "input_overflow", False))
            data = indata.tobytes() if hasattr(indata, "tobytes") else bytes(indata)
            put(Block(generation, data, frames, channels, adc, time.monotonic(), overflow, self.paused, dropped))

        return callback

    def _finished(self, generation: int) -> Callable[[], None]:
        def finished() -> None:
            self._finished_generation = max(self._finished_generation, generation)

        return finished


STOP_TIMEOUT_S = 5.0


def close_stream(stream: InputStreamLike, *, abort: bool) -> None:
    """Stops (delivering what PortAudio still holds) or aborts, then closes; a device already gone may refuse. A
    stop that does not return (an audio server that stopped answering) is given up after a few seconds and the
    stream aborted instead, so Ctrl+C or Stop always ends the recording; a stream that will not even abort is left
    to the process's end rather than blocking it."""

    def attempt(action: Callable[[], object], what: str) -> bool:
        done = threading.Event()

        def run() -> None:
            try:
                action()
            except Exception as exc:
                log.info(f"input stream {what} refused", extra={"error_type": type(exc).__name__})
            finally:
                done.set()

        threading.Thread(target=run, name=f"tbdesktop-stream-{what}", daemon=True).start()
        if done.wait(STOP_TIMEOUT_S):
            return True
        log.warning(f"input stream {what} did not return", extra={"seconds": STOP_TIMEOUT_S})
        return False

    ended = attempt(stream.abort if abort else stream.stop, "abort" if abort else "stop")
    if not ended and not abort:
        ended = attempt(stream.abort, "abort")
    if ended:
        attempt(stream.close, "close")
