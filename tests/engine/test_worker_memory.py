"""The engine workers give large freed buffers back to the system (glibc's mmap threshold, fixed at start)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tbdesktop.engine import workers

# A child that primes glibc the way a model's first large free does (which raises the dynamic mmap and trim
# thresholds), then allocates, touches and frees a 20 MiB buffer, and prints how much of it stayed resident.
_CHILD = textwrap.dedent(
    """
    import ctypes, os, sys
    from tbdesktop.engine.workers import return_freed_memory
    if sys.argv[1] == "fixed":
        assert return_freed_memory()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    size = 20 * 1024 * 1024
    primer = libc.malloc(size + 4 * 1024 * 1024)  # a large buffer freed early, as a model's first run does
    ctypes.memset(primer, 1, size + 4 * 1024 * 1024)
    libc.free(primer)
    keep = libc.malloc(64)  # something small that stays, above where the next buffer will sit
    before = resident()
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.malloc(64)  # keeps the block from being the top of the heap
    libc.free(block)
    print(resident() - before)
    """
)


def _left_resident(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is the one tuned")
def test_a_freed_large_buffer_leaves_the_process_only_with_the_fixed_threshold() -> None:
    mib = 1024 * 1024
    assert _left_resident("default") > 16 * mib  # glibc's own dynamic threshold keeps the freed buffer resident
    assert _left_resident("fixed") < 4 * mib  # mapped for itself, so freeing it returns it


def test_every_engine_worker_fixes_the_threshold_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(workers, "return_freed_memory", lambda: calls.append("threshold") or True)

    def fake_serve(conn: Any, handler: Any, name: str) -> None:
        calls.append(f"serve {name} {type(handler).__name__}")

    monkeypatch.setattr(workers, "serve", fake_serve)
    workers.worker_main(None, workers.ASR, {})  # type: ignore[arg-type]
    workers.worker_main(None, workers.DIARIZATION, {})  # type: ignore[arg-type]
    assert calls == ["threshold", "serve asr EngineHandler", "threshold", "serve diarization EngineHandler"]
