"""`process`: transcribe a file with the engine alone, no database (the engine stands on its own)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tbdesktop.cli.common import EXIT_OK, echo, echo_err, emit, fmt_ts, settings_for, signed_in
from tbdesktop.errors import TBError

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers


def cmd_process(args: argparse.Namespace) -> int:
    # the engine loads numpy and the speech runtimes: imported when a file is processed, not at start-up
    from tbdesktop.engine.errors import EngineError
    from tbdesktop.engine.pipeline import PipelineOptions, run
    from tbdesktop.services.context import engine_options

    settings = settings_for(args)
    secrets = None
    if settings.asr_backend == "openai":  # the API key is in the acting profile's secrets
        with signed_in(args) as (ctx, _user):
            secrets = ctx.secrets
    values = engine_options(
        settings,
        secrets,
        model=args.model,
        language=args.language,
        speakers_hint=args.speakers_hint,
        num_speakers=args.num_speakers,
        diarization_backend=args.diarization,
    )
    values["cache_dir"] = Path(values["cache_dir"])
    options = PipelineOptions(**values)
    last = [-1]

    def on_progress(stage: str, fraction: float, eta: float | None) -> None:
        pct = int(fraction * 100)
        if not args.json and pct != last[0] and (pct % 10 == 0 or fraction >= 1.0):
            last[0] = pct
            echo_err(f"{stage}: {pct}%" + (f" (about {int(eta)} s left)" if eta else ""))

    try:
        result = run(Path(args.audio), options, on_progress=on_progress)
    except EngineError as exc:
        raise TBError(exc.message) from exc
    data = result.to_dict()

    def human() -> None:
        for seg in data["segments"]:
            who = seg.get("role") or seg["speaker"]
            echo(f"[{fmt_ts(seg['start'])}] {who} ({seg['speaker']}): {seg['text']}")
        roles = ", ".join(f"{s['id']} = {s['role'] or 'unknown'}" for s in data["speakers"])
        t = data["timings"]
        echo(f"-- {data['duration_s']:.1f} s of audio, language {data['language']}; speakers: {roles or 'none'}")
        echo(
            f"-- {t.get('total', 0):.1f} s in all (transcription {t.get('asr', 0):.1f} s, speakers "
            f"{t.get('diarization', 0):.1f} s, {t.get('overlap', 0):.1f} s of it in parallel)"
        )

    emit(args, data, human)
    return EXIT_OK


def add_process_command(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("process", parents=[common], help="transcribe a file with the engine only (no database)")
    p.add_argument("audio")
    p.add_argument("--model", default=None, help="model name or path (default: settings, 'base')")
    p.add_argument("--language", default=None, help="language code, e.g. en (default: detect)")
    p.add_argument("--speakers-hint", type=int, default=None, help="voices to expect: 2 individual, 3 couples (a hint)")
    p.add_argument("--num-speakers", type=int, default=None, help="exact number of voices, when known")
    p.add_argument(
        "--diarization", choices=["local", "pyannote", "none"], default=None, help="speaker backend (default: settings)"
    )
    p.set_defaults(func=cmd_process)
