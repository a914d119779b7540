"""A GGUF chat model run in this process by llama.cpp (the ``xllamacpp`` binding), answering in a JSON schema.

The model is a file the clinic's IT installs; nothing is downloaded. One model is held per process (loading
takes seconds to minutes), reused while its file and settings stay the same. llama.cpp's server also listens
on 127.0.0.1 while the model is loaded: it gets a random API key that never leaves this process, so nothing
else on the workstation can use it. Answers are streamed so that a cancel stops generation within a token.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes.types import ModelUnavailable, NotesError
from tbdesktop.engine.types import CancelCheck

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
DEFAULT_CONTEXT = 8192
DEFAULT_SEED = 20261204
DEFAULT_TEMPERATURE = 0.2
ALL_LAYERS = 999  # llama.cpp offloads at most the model's layers


@dataclass(frozen=True)
class RuntimeOptions:
    model_path: Path
    threads: int = 0  # 0: every core
    gpu_layers: int = ALL_LAYERS  # used only when the runtime has a GPU device
    context_tokens: int = DEFAULT_CONTEXT
    seed: int = DEFAULT_SEED
    temperature: float = DEFAULT_TEMPERATURE


@dataclass(frozen=True)
class Answer:
    content: str
    truncated: bool  # stopped at max_tokens
    prompt_tokens: int  # evaluated for this request (the cached prefix not included)
    completion_tokens: int
    cached_tokens: int  # reused from the previous request's prefix
    prompt_seconds: float
    completion_seconds: float


def check_model_file(path: Path) -> None:
    """A readable GGUF file, else a `NotesError` saying what is wrong (before llama.cpp tries to load it)."""
    if not str(path):
        raise ModelUnavailable("No note model file is set (Settings → Notes, or TB_NOTES_MODEL).")
    if not path.is_file():
        raise ModelUnavailable(f"The note model file {path.name} was not found.")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError:
        raise ModelUnavailable(f"The note model file {path.name} cannot be read.") from None
    if magic != GGUF_MAGIC:
        raise ModelUnavailable(f"The note model file {path.name} is not a GGUF model.")


def gpu_devices() -> list[str]:
    """The GPU devices this llama.cpp build can offload to (none for the CPU-only wheel)."""
    import xllamacpp

    devices = []
    for device in xllamacpp.get_device_info():
        kind = getattr(device.get("type"), "name", str(device.get("type")))
        if "GPU" in kind:
            devices.append(str(device.get("description") or device.get("name")))
    return devices


class LlamaRuntime:
    """A loaded model. ``complete()`` may be called from one thread at a time."""

    def __init__(self, options: RuntimeOptions) -> None:
        import xllamacpp

        check_model_file(options.model_path)
        self.options = options
        self.gpu = gpu_devices()
        params = xllamacpp.CommonParams()
        params.model.path = str(options.model_path)
        params.n_ctx = int(options.context_tokens)
        params.n_parallel = 1
        params.verbosity = 0  # llama.cpp's own log stays quiet: no prompts or timings on stderr
        params.endpoint_metrics = True  # for the start-up handshake below (counters only, behind the API key)
        params.api_keys = [secrets.token_urlsafe(32)]
        params.n_gpu_layers = int(options.gpu_layers) if self.gpu else 0
        if options.threads > 0:
            params.cpuparams.n_threads = int(options.threads)
            params.cpuparams_batch.n_threads = int(options.threads)
        params.sampling.seed = int(options.seed)
        params.sampling.temp = float(options.temperature)
        started = time.perf_counter()
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError:
            raise ModelUnavailable(
                f"The note model {options.model_path.name} could not be loaded: the file may be damaged, or it "
                "needs more memory than is free."
            ) from None
        # A round trip through the server's task loop before anyone can stop it: a server destroyed before its
        # loop has started never stops (the binding joins a loop that missed the stop signal).
        self._server.handle_metrics()
        self.load_seconds = time.perf_counter() - started
        self._lock = threading.Lock()
        log.info(
            "note model loaded",
            extra={"seconds": round(self.load_seconds, 2), "gpu_layers": params.n_gpu_layers, "ctx": params.n_ctx},
        )

    @property
    def name(self) -> str:
        return self.options.model_path.name

    def complete(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        *,
        max_tokens: int,
        should_cancel: CancelCheck | None = None,
        on_token: Callable[[int], None] | None = None,
    ) -> Answer:
        """One chat completion constrained to ``schema``; raises `Cancelled` within a token of a cancel."""
        request = {
            "messages": messages,
            "max_tokens": int(max_tokens),
            "temperature": self.options.temperature,
            "seed": self.options.seed,
            "stream": True,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
        }
        parts: list[str] = []
        state: dict[str, Any] = {"finish": None, "timings": None, "usage": None, "error": None, "cancelled": False}
        tokens = 0

        def on_chunk(chunk: Any) -> bool:
            nonlocal tokens
            if isinstance(chunk, str):
                try:
                    chunk = json.loads(chunk)
                except ValueError:
                    return False
            if not isinstance(chunk, dict):
                return False
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    parts.append(delta)
                    tokens += 1
                    if on_token is not None:
                        on_token(tokens)
                if choice.get("finish_reason"):
                    state["finish"] = choice["finish_reason"]
            state["timings"] = chunk.get("timings") or state["timings"]
            state["usage"] = chunk.get("usage") or state["usage"]
            if should_cancel is not None and should_cancel():
                state["cancelled"] = True
                return True  # llama.cpp stops this generation
            return False

        started = time.perf_counter()
        with self._lock:
            try:
                result = self._server.handle_chat_completions(request, on_chunk)
            except RuntimeError as exc:
                raise NotesError("The note model failed while writing (llama.cpp reported an error).") from exc
        if state["cancelled"]:
            raise Cancelled()
        if state["error"] is not None or (isinstance(result, dict) and "error" in result):
            error = state["error"] or result["error"]
            message = str(error.get("message") if isinstance(error, dict) else error)
            if "context" in message.lower() or "exceed" in message.lower():
                raise NotesError("The note model's context is too small for this request; set a larger context.")
            raise NotesError("The note model refused the request.")
        timings = state["timings"] or {}
        usage = state["usage"] or {}
        elapsed = time.perf_counter() - started
        completion_tokens = int(usage.get("completion_tokens") or timings.get("predicted_n") or tokens)
        return Answer(
            content="".join(parts),
            truncated=state["finish"] == "length",
            prompt_tokens=int(timings.get("prompt_n") or usage.get("prompt_tokens") or 0),
            completion_tokens=completion_tokens,
            cached_tokens=int(timings.get("cache_n") or 0),
            prompt_seconds=float(timings.get("prompt_ms") or 0.0) / 1000.0,
            completion_seconds=float(timings.get("predicted_ms") or elapsed * 1000.0) / 1000.0,
        )

    def close(self) -> None:
        server = getattr(self, "_server", None)
        self._server = None
        del server  # the binding stops llama.cpp's loop when the server object goes


_held: tuple[RuntimeOptions, float, LlamaRuntime] | None = None
_held_lock = threading.Lock()


def load(options: RuntimeOptions) -> LlamaRuntime:
    """The process's loaded model for ``options``, loading it (and releasing another) when needed."""
    global _held
    check_model_file(options.model_path)
    stamp = options.model_path.stat().st_mtime
    with _held_lock:
        if _held is not None and _held[0] == options and _held[1] == stamp:
            return _held[2]
        release_locked()
        runtime = LlamaRuntime(options)
        _held = (options, stamp, runtime)
        return runtime


def release() -> None:
    with _held_lock:
        release_locked()


def release_locked() -> None:
    global _held
    if _held is not None:
        _held[2].close()
        _held = None
