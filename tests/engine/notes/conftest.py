"""Fixtures for the note tests: a real llama.cpp OpenAI-compatible server running the test note model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llm_support import LlamaServer, start_llama_server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One server for the session's tests that leave it running and idle."""
    server = start_llama_server(tmp_path_factory.mktemp("llama-server") / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LlamaServer]]:
    """A server of the test's own, for tests that kill it or leave it busy; killed at the test's end."""
    started: list[LlamaServer] = []

    def start(**options: Any) -> LlamaServer:
        server = start_llama_server(tmp_path_factory.mktemp("llama-server") / "server.log", **options)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()  # it may still be writing an abandoned answer: nothing to wait for
