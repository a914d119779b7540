"""The one worker protocol: typed messages, the child loop and the parent's request, with a real spawned process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import until
from protocol_support import toy_main

from tbdesktop.engine.errors import Cancelled, EngineError, ModelError, WorkerCrashedError
from tbdesktop.engine.worker_protocol import Error, ProcessHandle, Progress, Result, Run, WorkerFailed


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[tuple[ProcessHandle, Path]]:
    marker = tmp_path / "toy.marker"
    handle = ProcessHandle(toy_main, (str(marker),), "toy", daemon=True)
    handle.start()
    try:
        yield handle, marker
    finally:
        handle.kill()


def test_request_returns_result_and_warm_up_happens_once(toy: tuple[ProcessHandle, Path]) -> None:
    handle, _ = toy
    assert handle.warm_up() is None and handle.warm
    reply = asyncio.run(handle.request(Run("j1", "echo", {"x": 1})))
    assert isinstance(reply, Result) and reply.job == "j1"
    assert reply.data == {"echo": {"x": 1}, "warmed": 1}
    assert reply.finished >= reply.started > 0 and reply.peak_rss_mb > 0


def test_progress_is_throttled_but_stage_changes_and_the_end_always_arrive(toy: tuple[ProcessHandle, Path]) -> None:
    handle, _ = toy
    seen: list[Progress] = []

    async def on_progress(p: Progress) -> None:  # an async sink is awaited
        seen.append(p)

    reply = asyncio.run(handle.request(Run("j2", "progress", {"steps": 2000}), on_progress))
    assert isinstance(reply, Result) and reply.data == "counted"
    counting = [p for p in seen if p.stage == "counting"]
    assert counting[0].fraction == 0.0 and counting[-1].fraction == 1.0
    assert len(counting) < 50, "2000 reports in a moment must not all cross the pipe"
    assert seen[-1].stage == "finishing" and all(p.job == "j2" for p in seen)


@pytest.mark.parametrize(
    ("task", "error_type", "message"),
    [
        ("engine_error", "AudioDecodeError", "This file is not audio the app can read."),
        ("bug", "ValueError", "Processing failed unexpectedly (ValueError)."),
        ("memory", "MemoryError", "The workstation ran out of memory while processing this recording."),
    ],
)
def test_errors_become_messages_for_the_user(
    toy: tuple[ProcessHandle, Path], task: str, error_type: str, message: str
) -> None:
    handle, _ = toy
    reply = asyncio.run(handle.request(Run("j3", task, {})))
    assert isinstance(reply, Error) and (reply.error_type, reply.message) == (error_type, message)
    assert "detail that must not" not in reply.message
    # the process lives on for the next job
    assert isinstance(asyncio.run(handle.request(Run("j4", "echo", {}))), Result)


def test_error_maps_back_to_the_engine_error() -> None:
    assert isinstance(Error("j", "Cancelled", "Stopped.").to_exception(), Cancelled)
    assert isinstance(Error("j", "ModelError", "No model.").to_exception(), ModelError)
    assert isinstance(Error("j", "WorkerCrashedError", "Gone.").to_exception(), WorkerCrashedError)
    other = Error("j", "AudioDecodeError", "Not audio.").to_exception()
    assert type(other) is EngineError and str(other) == "Not audio."


def test_cancel_stops_the_running_job(toy: tuple[ProcessHandle, Path]) -> None:
    handle, _ = toy

    async def go() -> Result | Error:
        started = asyncio.Event()

        def on_progress(p: Progress) -> None:
            started.set()

        task = asyncio.ensure_future(handle.request(Run("j5", "until_cancelled", {}), on_progress))
        await asyncio.wait_for(started.wait(), 60)
        handle.cancel("j5")
        return await asyncio.wait_for(task, 60)

    reply = asyncio.run(go())
    assert isinstance(reply, Error) and reply.error_type == "Cancelled"


def test_a_dying_process_raises_worker_failed(toy: tuple[ProcessHandle, Path]) -> None:
    handle, _ = toy
    with pytest.raises(WorkerFailed):
        asyncio.run(handle.request(Run("j6", "die", {})))
    # its pipe closes a moment before the process has exited
    until(lambda: not handle.alive, 10, "the dead worker process to be gone")
    assert not handle.alive


def test_a_request_past_its_timeout_raises(toy: tuple[ProcessHandle, Path]) -> None:
    handle, _ = toy
    with pytest.raises(TimeoutError):
        asyncio.run(handle.request(Run("j7", "sleep", {"seconds": 30}), timeout=0.5))


def test_warm_up_failure_is_a_message(tmp_path: Path) -> None:
    marker = tmp_path / "toy.marker"
    marker.with_suffix(".broken").write_text("")
    handle = ProcessHandle(toy_main, (str(marker),), "toy", daemon=True)
    try:
        assert handle.warm_up() == "The speech model could not be loaded."
        assert not handle.warm
        reply = asyncio.run(handle.request(Run("j8", "echo", {})))
        assert isinstance(reply, Error) and reply.error_type == "ModelError"
    finally:
        handle.kill()


def test_shutdown_ends_the_loop_and_closes_the_handler(toy: tuple[ProcessHandle, Path]) -> None:
    handle, marker = toy
    handle.shutdown()
    until(marker.exists, 30, "the worker to close its handler")
    assert marker.read_text() == "closed" and not handle.alive
