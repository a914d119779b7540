"""Stopping a capture stream never blocks the recorder: a stop that does not return is given up for an abort."""

from __future__ import annotations

import threading

import pytest

from tbdesktop.services.recording import feed


class Stream:
    def __init__(self, *, stop_hangs: bool = False, abort_hangs: bool = False) -> None:
        self.release = threading.Event()
        self.stop_hangs, self.abort_hangs = stop_hangs, abort_hangs
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")
        if self.stop_hangs:
            self.release.wait(60)

    def abort(self) -> None:
        self.calls.append("abort")
        if self.abort_hangs:
            self.release.wait(60)

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed, "STOP_TIMEOUT_S", 0.2)


def test_a_stop_that_returns_delivers_and_closes() -> None:
    stream = Stream()
    feed.close_stream(stream, abort=False)  # type: ignore[arg-type]
    assert stream.calls == ["stop", "close"]


def test_a_stop_that_hangs_is_aborted_and_closed() -> None:
    stream = Stream(stop_hangs=True)
    feed.close_stream(stream, abort=False)  # type: ignore[arg-type]
    assert stream.calls == ["stop", "abort", "close"]
    stream.release.set()


def test_a_stream_that_will_not_end_is_left_without_blocking() -> None:
    stream = Stream(stop_hangs=True, abort_hangs=True)
    feed.close_stream(stream, abort=False)  # type: ignore[arg-type]
    assert stream.calls == ["stop", "abort"]  # not closed while PortAudio may still be inside it
    stream.release.set()
