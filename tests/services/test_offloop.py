"""``off_loop``: the async twin of a blocking service method runs it on a worker thread, returns what it returns,
raises what it raises, and keeps its name and docstring."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from tbdesktop.errors import ValidationError
from tbdesktop.services.offloop import off_loop


class Counter:
    def __init__(self) -> None:
        self.threads: list[int] = []

    def add_sync(self, a: int, b: int = 1, *, times: int = 1) -> int:
        """The sum, ``times`` times over."""
        self.threads.append(threading.get_ident())
        return (a + b) * times

    add = off_loop(add_sync)

    def refuse_sync(self, reason: str) -> None:
        raise ValidationError(reason)

    refuse = off_loop(refuse_sync)


def test_returns_the_result_with_every_kind_of_argument() -> None:
    counter = Counter()
    assert asyncio.run(counter.add(2)) == 3
    assert asyncio.run(counter.add(2, 3, times=2)) == 10
    assert asyncio.run(counter.add(a=1, b=1)) == 2


def test_the_exception_reaches_the_caller() -> None:
    with pytest.raises(ValidationError, match="not today"):
        asyncio.run(Counter().refuse("not today"))


def test_runs_off_the_event_loop_thread() -> None:
    counter = Counter()

    async def call() -> int:
        return threading.get_ident()

    async def both() -> int:
        await counter.add(1)
        return await call()

    loop_thread = asyncio.run(both())
    assert counter.threads and counter.threads[0] != loop_thread


def test_the_loop_keeps_running_while_the_method_blocks() -> None:
    started, release = threading.Event(), threading.Event()

    class Slow:
        def wait_sync(self) -> str:
            started.set()
            assert release.wait(10)
            return "done"

        wait = off_loop(wait_sync)

    async def run() -> str:
        task = asyncio.ensure_future(Slow().wait())
        while not started.is_set():  # the loop still turns: this coroutine gets its turns
            await asyncio.sleep(0.001)
        release.set()
        return await task

    assert asyncio.run(run()) == "done"


def test_the_method_is_looked_up_when_called() -> None:
    counter = Counter()
    counter.add_sync = lambda a, b=1, *, times=1: -1  # type: ignore[method-assign]
    assert asyncio.run(counter.add(1)) == -1


def test_name_doc_and_signature() -> None:
    assert Counter.add.__name__ == "add"
    assert Counter.add.__qualname__ == "Counter.add"
    assert Counter.add.__doc__ == "The sum, ``times`` times over."
    assert inspect.iscoroutinefunction(Counter.add)
    assert inspect.signature(Counter.add) == inspect.signature(Counter.add_sync)
