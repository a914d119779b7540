"""One way for a service to run its blocking ``*_sync`` method off the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def off_loop(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The async twin of a blocking method: ``list_templates = off_loop(list_sync)`` in the class body.

    The twin takes the same arguments and runs the method in a worker thread (``asyncio.to_thread``), so the
    UI's event loop never waits on the database or the disk. The method is looked up on the instance at call
    time, so a subclass or a test that replaces ``x_sync`` is what ``x`` runs.
    """
    name = fn.__name__

    @functools.wraps(fn)
    async def run_off_loop(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        method: Callable[P, R] = getattr(self, name)
        return await asyncio.to_thread(method, *args, **kwargs)

    # The twin is named for what callers use, not for the blocking method it wraps.
    public = name.removesuffix("_sync")
    run_off_loop.__name__ = public
    run_off_loop.__qualname__ = fn.__qualname__.removesuffix(name) + public
    return run_off_loop
