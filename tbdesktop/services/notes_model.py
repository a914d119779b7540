"""Trying a note model before it is used: a short real run in a process of its own, never in the caller's.

A model can take minutes to load and may crash the runtime (a damaged file, too little memory): both stay out
of the window's process. The test is bounded by a timeout, and cancelling the awaiting task ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tbdesktop.engine.notes.llm.probe import ProbeResult, probe_child
from tbdesktop.engine.worker_protocol import Error, ProcessHandle, Run, WorkerFailed
from tbdesktop.services.dto import JsonMixin

log = logging.getLogger(__name__)

TEST_TIMEOUT_S = 600.0
DEVICES_TIMEOUT_S = 60.0
POLL_S = 0.2
MIN_CONTEXT = 512
MAX_CONTEXT = 131072
MAX_THREADS = 256
MAX_GPU_LAYERS = 999


@dataclass(frozen=True)
class ModelTestResult(JsonMixin):
    """What a test run found: loads or not (with the reason), how fast, on which device, the file's size."""

    ok: bool
    model_name: str
    error: str = ""
    file_bytes: int = 0
    load_seconds: float = 0.0
    prompt_tokens_per_s: float = 0.0
    tokens_per_s: float = 0.0
    answer_valid: bool = False
    gpu_devices: list[str] = field(default_factory=list)
    gpu_layers: int = 0
    threads: int = 0
    context_tokens: int = 0
    seconds: float = 0.0  # the whole test, process start included

    @property
    def uses_gpu(self) -> bool:
        return bool(self.gpu_devices) and self.gpu_layers > 0

    @property
    def device_text(self) -> str:
        if self.uses_gpu:
            return f"GPU ({', '.join(self.gpu_devices)}), {self.gpu_layers} layers offloaded"
        if self.gpu_devices:
            return "CPU (GPU layers set to 0)"
        return "CPU (this runtime has no GPU)"

    def lines(self) -> list[str]:
        """The result in words, one fact a line (the CLI prints them; the window shows them)."""
        if not self.ok:
            return [self.error]
        threads = "every core" if self.threads <= 0 else f"{self.threads} threads"
        out = [
            f"{self.model_name} loads and answers.",
            f"Load time: {self.load_seconds:.1f} s",
            f"Prompt: {self.prompt_tokens_per_s:.0f} tokens/s · generation: {self.tokens_per_s:.1f} tokens/s",
            f"Device: {self.device_text}; {threads}; context {self.context_tokens} tokens",
            f"File size: {file_size_text(self.file_bytes)}",
        ]
        if not self.answer_valid:
            out.append("Its test answer was not valid JSON: notes from this model may come out empty.")
        return out


def file_size_text(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return f"{size / 1024**2:.0f} MB"


def notes_model_path(value: str, model_dir: Path | None = None) -> str:
    """The GGUF file a notes-model setting names: a notes pack's file for a pack's name, else ``value`` itself.

    ``model_dir`` is the machine-wide model folder (default: the one the settings in force name)."""
    from tbdesktop.services.model_packs import NAME_RE, resolve_model_setting

    value = value.strip()
    if not NAME_RE.match(value) or value.lower().endswith(".gguf") or Path(value).expanduser().is_file():
        return value  # a file's path, never a pack's name: no settings read for it
    if model_dir is None:
        from tbdesktop.config import load_settings

        model_dir = load_settings().model_dir
    return resolve_model_setting(model_dir, value, "notes")


def model_file_problem(path: str, model_dir: Path | None = None) -> str | None:
    """Why a GGUF model file (or the notes pack of that name) cannot be used (missing, unreadable, not GGUF),
    or None."""
    from tbdesktop.engine.notes.llm.runtime import check_model_file
    from tbdesktop.engine.notes.types import NotesError
    from tbdesktop.services.model_packs import NAME_RE

    if not path:
        return "Choose the note model file (.gguf)."
    resolved = notes_model_path(path, model_dir)
    if resolved == path.strip() and NAME_RE.match(resolved) and not Path(resolved).suffix:
        if not Path(resolved).expanduser().exists():
            return f"No note model file or notes model pack is named '{resolved}' (see `tbdesktop model list`)."
    try:
        check_model_file(Path(resolved).expanduser())
    except NotesError as exc:
        return exc.message
    return None


def options_problem(threads: int, gpu_layers: int, context: int) -> str | None:
    if not 0 <= threads <= MAX_THREADS:
        return f"CPU threads take 0 (every core) to {MAX_THREADS}."
    if not 0 <= gpu_layers <= MAX_GPU_LAYERS:
        return f"GPU layers take 0 (CPU only) to {MAX_GPU_LAYERS} (every layer)."
    if not MIN_CONTEXT <= context <= MAX_CONTEXT:
        return f"The context takes {MIN_CONTEXT} to {MAX_CONTEXT} tokens."
    return None


class NotesModelService:
    """Runs note-model checks in child processes; holds no state but the runtime's GPU list once known."""

    _devices: list[str] | None = None

    async def test_model(
        self,
        path: str,
        threads: int = 0,
        gpu_layers: int = MAX_GPU_LAYERS,
        context: int = 8192,
        *,
        timeout: float = TEST_TIMEOUT_S,
    ) -> ModelTestResult:
        """Load the model at ``path`` in a new process and time a short answer; problems come back in the result."""
        path = notes_model_path(path) if path.strip() else ""  # a notes pack's name stands for its file
        file = Path(path).expanduser() if path else Path()
        name = file.name or "the model"
        problem = model_file_problem(path) or options_problem(threads, gpu_layers, context)
        if problem:
            return ModelTestResult(ok=False, model_name=name, error=problem)
        request = {
            "mode": "test",
            "model_path": str(file),
            "threads": threads,
            "gpu_layers": gpu_layers,
            "context_tokens": context,
        }
        started = time.monotonic()
        message = await self._run(request, timeout)
        seconds = round(time.monotonic() - started, 2)
        if message is None:
            error = f"The model test did not finish within {timeout:g} s; it was stopped."
            return ModelTestResult(ok=False, model_name=name, error=error, seconds=seconds)
        if message.get("type") != "result":
            error = str(message.get("message") or "The model test stopped without an answer.")
            return ModelTestResult(ok=False, model_name=name, error=error, seconds=seconds)
        probe = ProbeResult.from_json(dict(message.get("data") or {}))
        log.info(
            "note model tested",
            extra={"ok": probe.ok, "load_s": probe.load_seconds, "tokens_per_s": probe.tokens_per_s},
        )
        return ModelTestResult(
            ok=probe.ok,
            model_name=probe.model_name,
            error=probe.error,
            file_bytes=probe.file_bytes,
            load_seconds=probe.load_seconds,
            prompt_tokens_per_s=probe.prompt_tokens_per_s,
            tokens_per_s=probe.tokens_per_s,
            answer_valid=probe.answer_valid,
            gpu_devices=list(probe.gpu_devices),
            gpu_layers=probe.gpu_layers,
            threads=probe.threads,
            context_tokens=probe.context_tokens,
            seconds=seconds,
        )

    def test_model_sync(
        self,
        path: str,
        threads: int = 0,
        gpu_layers: int = MAX_GPU_LAYERS,
        context: int = 8192,
        *,
        timeout: float = TEST_TIMEOUT_S,
    ) -> ModelTestResult:
        return asyncio.run(self.test_model(path, threads, gpu_layers, context, timeout=timeout))

    async def gpu_devices(self) -> list[str]:
        """The GPUs the notes runtime can use (asked once, in a child process: the runtime stays out of ours)."""
        cls = type(self)
        if cls._devices is None:
            message = await self._run({"mode": "devices"}, DEVICES_TIMEOUT_S)
            if message is None or message.get("type") != "devices":
                return []  # unknown: asked again next time
            cls._devices = [str(d) for d in message.get("devices") or []]
        return list(cls._devices)

    @staticmethod
    async def _run(request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The child's answer, an error message when it died, None past ``timeout``; the process ends either way."""
        mode = str(request.get("mode") or "test")
        handle = ProcessHandle(probe_child, (), "tbdesktop-model-test", daemon=True)
        try:
            reply = await handle.request(Run(mode, mode, request), timeout=timeout)
        except WorkerFailed as exc:
            log.warning("model test process ended", extra={"detail": str(exc)})
            return {
                "type": "error",
                "message": "The notes runtime stopped while loading the model: the file may be damaged, "
                "or it needs more memory than is free.",
            }
        except TimeoutError:
            return None
        finally:
            await asyncio.shield(asyncio.to_thread(handle.kill))
        if isinstance(reply, Error):
            return {"type": "error", "message": reply.message}
        if mode == "devices":
            return {"type": "devices", "devices": reply.data}
        return {"type": "result", "data": reply.data}
