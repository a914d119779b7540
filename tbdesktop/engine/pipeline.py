"""The processing pipeline: preprocess a recording, then transcribe it, with progress and cancellation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from tbdesktop.engine import audio as audio_mod
from tbdesktop.engine.errors import AudioDecodeError, Cancelled, EngineError
from tbdesktop.engine.types import CancelCheck, PipelineResult, ProgressCallback

log = logging.getLogger(__name__)

STAGE_PREPROCESSING = "preprocessing"
STAGE_TRANSCRIBING = "transcribing"


@dataclass(frozen=True)
class PipelineOptions:
    cache_dir: Path
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"
    language: str | None = None
    cpu_threads: int = 0
    max_duration_s: float | None = None


class Pipeline:
    """Loads the models once; ``run`` may then be called for many recordings in the same process."""

    def __init__(self, options: PipelineOptions) -> None:
        from tbdesktop.engine.asr.local import LocalTranscriber
        from tbdesktop.engine.models import resolve_model

        self.options = options
        started = time.perf_counter()
        model_path = resolve_model(options.model, Path(options.cache_dir))
        self.transcriber = LocalTranscriber(
            model_path,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
        )
        self.model_load_seconds = time.perf_counter() - started
        self._load_reported = False

    def run(
        self,
        audio_path: Path,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> PipelineResult:
        timings: dict[str, float] = {}
        # Loading is paid once per process; it is charged to the first recording only.
        timings["model_load"] = 0.0 if self._load_reported else round(self.model_load_seconds, 4)
        self._load_reported = True

        def report(stage: str, fraction: float, eta: float | None) -> None:
            if on_progress is not None:
                on_progress(stage, min(max(fraction, 0.0), 1.0), eta)

        def check() -> None:
            if should_cancel is not None and should_cancel():
                raise Cancelled()

        check()
        started = time.perf_counter()
        report(STAGE_PREPROCESSING, 0.0, None)
        try:
            info = audio_mod.probe(Path(audio_path), max_duration_s=self.options.max_duration_s)
            check()
            report(STAGE_PREPROCESSING, 0.3, None)
            samples = audio_mod.decode(Path(audio_path), should_cancel=should_cancel)
        except EngineError:
            raise
        except Exception as exc:
            log.warning("preprocessing failed", extra={"error_type": type(exc).__name__})
            raise AudioDecodeError("The recording could not be read as audio.") from exc
        timings[STAGE_PREPROCESSING] = round(time.perf_counter() - started, 4)
        report(STAGE_PREPROCESSING, 1.0, 0.0)
        check()

        started = time.perf_counter()
        transcript = self.transcriber.transcribe(
            samples,
            language=self.options.language,
            on_progress=report,
            should_cancel=should_cancel,
        )
        timings[STAGE_TRANSCRIBING] = round(time.perf_counter() - started, 4)
        log.info("pipeline finished", extra={"duration_s": round(info.duration_s, 2), "timings": timings})
        return PipelineResult(
            duration_s=info.duration_s,
            language=transcript.language,
            segments=transcript.segments,
            timings=timings,
        )


def run(
    audio_path: Path,
    options: PipelineOptions,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> PipelineResult:
    """One-shot convenience: load the models, process one recording."""
    return Pipeline(options).run(audio_path, on_progress=on_progress, should_cancel=should_cancel)
