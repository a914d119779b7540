"""A short real run of a note model: load it, ask for a tiny JSON-schema answer, report speeds and the device.

Run in a process of its own (never the window's): `probe_child` is the target of a spawned process and sends
one result message; ``python -m tbdesktop.engine.notes.llm.probe MODEL.gguf`` prints the same result as JSON.
The text it sends the model is a fixed sample, never anything from a session.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tbdesktop.engine.notes.llm.runtime import ALL_LAYERS, DEFAULT_CONTEXT, RuntimeOptions
from tbdesktop.engine.notes.types import NotesError

SAMPLE = (
    "The community garden opened in spring. Volunteers built six raised beds, planted tomatoes, beans and herbs, "
    "and set up a rota for watering during the summer. By August the beds gave more vegetables than the "
    "volunteers could eat, so the surplus went to the food bank on Fridays. Next year the group plans a "
    "greenhouse, a compost corner and a workshop on saving seeds."
)
MESSAGES = [
    {"role": "system", "content": "You answer in JSON only."},
    {"role": "user", "content": f"Text: {SAMPLE}\n\nGive the topic of the text and three words from it."},
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "maxLength": 60},
        "words": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 3, "maxItems": 3},
    },
    "required": ["topic", "words"],
}
ANSWER_TOKENS = 48


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    model_name: str
    file_bytes: int = 0
    error: str = ""  # what went wrong, safe to show
    load_seconds: float = 0.0
    prompt_tokens: int = 0
    prompt_tokens_per_s: float = 0.0
    completion_tokens: int = 0
    tokens_per_s: float = 0.0
    answer_valid: bool = False  # the answer parsed as JSON in the schema's shape
    gpu_devices: list[str] = field(default_factory=list)  # what this runtime build can offload to
    gpu_layers: int = 0  # layers asked to be offloaded (0 when there is no GPU)
    threads: int = 0  # 0: every core
    context_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def probe(options: RuntimeOptions) -> ProbeResult:
    """Load the model and run one short constrained answer; a problem is reported in the result, not raised."""
    from tbdesktop.engine.notes.llm.runtime import LlamaRuntime, check_model_file

    path = options.model_path
    base: dict[str, Any] = {
        "model_name": path.name,
        "file_bytes": _file_bytes(path),
        "threads": options.threads,
        "context_tokens": options.context_tokens,
    }
    try:
        check_model_file(path)
        runtime = LlamaRuntime(options)
    except NotesError as exc:
        return ProbeResult(ok=False, error=exc.message, **base)
    try:
        started = time.perf_counter()
        answer = runtime.complete(MESSAGES, SCHEMA, max_tokens=ANSWER_TOKENS)
        elapsed = time.perf_counter() - started
    except NotesError as exc:
        return ProbeResult(
            ok=False, error=exc.message, load_seconds=runtime.load_seconds, gpu_devices=runtime.gpu, **base
        )
    finally:
        runtime.close()
    try:
        parsed = json.loads(answer.content)
        valid = isinstance(parsed, dict) and isinstance(parsed.get("topic"), str)
    except ValueError:
        valid = False
    completion_seconds = answer.completion_seconds or elapsed
    return ProbeResult(
        ok=True,
        load_seconds=round(runtime.load_seconds, 3),
        prompt_tokens=answer.prompt_tokens,
        prompt_tokens_per_s=round(answer.prompt_tokens / answer.prompt_seconds, 1) if answer.prompt_seconds else 0.0,
        completion_tokens=answer.completion_tokens,
        tokens_per_s=round(answer.completion_tokens / completion_seconds, 1) if completion_seconds else 0.0,
        answer_valid=valid,
        gpu_devices=list(runtime.gpu),
        gpu_layers=int(options.gpu_layers) if runtime.gpu else 0,
        **base,
    )


def devices() -> list[str]:
    """The GPU devices of this runtime build (empty for the CPU-only build, or when the runtime is missing)."""
    try:
        from tbdesktop.engine.notes.llm.runtime import gpu_devices

        return gpu_devices()
    except ImportError:
        return []


class ProbeHandler:
    """The model-test process: ``devices`` (the GPUs the runtime sees) or ``test`` (load a model and time a short
    answer), one job per process; the runtime stays out of the app's own process."""

    def warm_up(self) -> None:
        pass

    def run(self, task: str, args: dict[str, Any], report: Any, cancelled: Any) -> Any:
        if task == "devices":
            return devices()
        options = RuntimeOptions(
            model_path=Path(str(args.get("model_path") or "")),
            threads=int(args.get("threads") or 0),
            gpu_layers=int(args.get("gpu_layers", ALL_LAYERS)),
            context_tokens=int(args.get("context_tokens") or DEFAULT_CONTEXT),
        )
        return probe(options).to_json()

    def close(self) -> None:
        pass


def probe_child(conn: Connection) -> None:
    """Entry point of the spawned model-test process."""
    from tbdesktop.engine.worker_protocol import serve

    serve(conn, ProbeHandler(), name="model-test")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load a GGUF note model and time a short answer.")
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--gpu-layers", type=int, default=ALL_LAYERS)
    parser.add_argument("--context", type=int, default=DEFAULT_CONTEXT)
    args = parser.parse_args(argv)
    options = RuntimeOptions(args.model, args.threads, args.gpu_layers, args.context)
    result = probe(options)
    sys.stdout.write(json.dumps(result.to_json()) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
