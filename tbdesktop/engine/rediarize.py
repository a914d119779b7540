"""Speaker separation again, for a recording already transcribed: decode → VAD → diarization with a chosen number
of voices. Only the pipeline's diarization worker runs (the words are kept, so no transcription); the caller lays
the turns over its stored words with ``merge.assign_speakers``.

Progress stages: ``preprocessing`` (decoding and finding speech) then ``diarizing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from tbdesktop.engine import audio as audio_mod
from tbdesktop.engine import vad
from tbdesktop.engine.errors import AudioDecodeError, Cancelled, EngineError, ModelError, WorkerCrashedError
from tbdesktop.engine.scratch import scratch_audio
from tbdesktop.engine.types import CancelCheck, DiarizationResult, ProgressCallback
from tbdesktop.engine.worker_protocol import Error, Run
from tbdesktop.engine.workers import DIARIZATION, EngineWorker, WorkerFailed

log = logging.getLogger(__name__)

STAGE_PREPROCESSING = "preprocessing"
STAGE_DIARIZING = "diarizing"


class DiarizationOptions(Protocol):
    """The settings speaker separation reads (engine/pipeline.PipelineOptions has them)."""

    @property
    def max_duration_s(self) -> float | None: ...
    @property
    def decode_timeout_s(self) -> float: ...
    @property
    def min_speakers(self) -> int: ...
    @property
    def max_speakers(self) -> int: ...


class DiarizingPipeline(Protocol):
    """What speaker separation needs from the running pipeline (engine/pipeline.Pipeline is one)."""

    @property
    def options(self) -> DiarizationOptions: ...
    @property
    def diar_worker(self) -> EngineWorker | None: ...
    def speech_detector(self) -> vad.SileroVad: ...
    def scratch_dir(self, needed_bytes: int = 0) -> Path: ...


async def rediarize_async(
    pipeline: DiarizingPipeline,
    audio_path: Path,
    *,
    num_speakers: int | None = None,
    speakers_hint: int | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> DiarizationResult:
    worker = pipeline.diar_worker
    if worker is None:
        raise EngineError("Speaker separation is turned off in the settings (diarization backend 'none').")

    def report(stage: str, fraction: float, eta: float | None = None) -> None:
        if on_progress is not None:
            on_progress(stage, min(max(fraction, 0.0), 1.0), eta)

    def check() -> None:
        if should_cancel is not None and should_cancel():
            raise Cancelled()

    started = time.perf_counter()
    check()
    warm = asyncio.ensure_future(asyncio.to_thread(worker.warm_up))  # the model loads while the audio decodes
    try:
        report(STAGE_PREPROCESSING, 0.0)
        try:
            _info, samples = await asyncio.to_thread(
                audio_mod.load,
                Path(audio_path),
                max_duration_s=pipeline.options.max_duration_s,
                timeout_s=pipeline.options.decode_timeout_s,
                should_cancel=should_cancel,
            )
        except EngineError:
            raise
        except Exception as exc:
            raise AudioDecodeError("The recording could not be read as audio.") from exc
        report(STAGE_PREPROCESSING, 0.5)
        check()
        vad_model = pipeline.speech_detector()
        probs = await asyncio.to_thread(
            vad_model.probabilities,
            samples,
            on_fraction=lambda f: report(STAGE_PREPROCESSING, 0.5 + 0.5 * f),
            should_cancel=should_cancel,
            threads=min(os.cpu_count() or 1, 2),
        )
        regions = vad.speech_regions(probs, samples.shape[0], vad.DIARIZATION_PARAMS)
        del probs
        report(STAGE_PREPROCESSING, 1.0, 0.0)
        error = await warm
        if error:
            raise ModelError(str(error))
        check()
        n_samples = int(samples.shape[0])
        with scratch_audio(pipeline.scratch_dir(samples.nbytes), samples) as scratch:
            del samples
            result = await _diarize(pipeline, scratch, n_samples, regions, num_speakers, speakers_hint, report, check)
    except BaseException:
        if not warm.done():
            warm.cancel()
        with contextlib.suppress(BaseException):
            await warm
        raise
    log.info(
        "speakers separated again",
        extra={"speakers": len(result.speakers), "seconds": round(time.perf_counter() - started, 2)},
    )
    return result


async def _diarize(
    pipeline: DiarizingPipeline,
    scratch: Path,
    n_samples: int,
    regions: list[tuple[float, float]],
    num_speakers: int | None,
    speakers_hint: int | None,
    report: Any,
    check: Any,
) -> DiarizationResult:
    worker = pipeline.diar_worker
    assert worker is not None
    options = pipeline.options
    run = Run(
        uuid.uuid4().hex,
        DIARIZATION,
        {
            "audio": str(scratch),
            "samples": n_samples,
            "regions": regions,
            "params": {
                "num_speakers": num_speakers,
                "min_speakers": options.min_speakers,
                "max_speakers": options.max_speakers,
                "speakers_hint": speakers_hint if num_speakers is None else None,
            },
        },
    )
    report(STAGE_DIARIZING, 0.0)
    task = asyncio.ensure_future(worker.request(run, lambda p: report(STAGE_DIARIZING, p.fraction, p.eta)))
    try:
        while not task.done():
            check()
            await asyncio.wait({task}, timeout=0.2)
        reply = task.result()
    except WorkerFailed as exc:
        worker.kill()
        raise WorkerCrashedError() from exc
    except BaseException:
        task.cancel()
        worker.kill()  # cancelled: it restarts with the next recording
        with contextlib.suppress(BaseException):
            await task
        raise
    if isinstance(reply, Error):
        raise reply.to_exception()
    report(STAGE_DIARIZING, 1.0, 0.0)
    return DiarizationResult.from_dict(reply.data)
