"""The processing pipeline: decode → VAD → (transcription ∥ diarization) → merge → roles.

``Pipeline`` is the coordinator. It decodes the recording once and finds speech once, then hands the same
audio (a private memory-mapped scratch file) to two spawned worker processes — transcription and
diarization — and awaits both together with ``asyncio.gather``. Models load once per worker process and
stay warm between recordings. Progress is ``(stage, fraction, eta_seconds)`` at least every second; a
cancelled run kills the workers (they restart with the next recording) and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tbdesktop.engine import audio as audio_mod
from tbdesktop.engine import channels, merge, roles, vad
from tbdesktop.engine.errors import AudioDecodeError, Cancelled, EngineError, ModelError, WorkerCrashedError
from tbdesktop.engine.progress import MeasuredEta
from tbdesktop.engine.rediarize import rediarize_async
from tbdesktop.engine.scratch import memory_backed_dir, remove_stale_scratch, scratch_audio
from tbdesktop.engine.types import (
    CancelCheck,
    DiarizationResult,
    PipelineResult,
    ProgressCallback,
    Segment,
    SpeakerInfo,
    SpeakerTurn,
)
from tbdesktop.engine.worker_protocol import Error, Result, Run
from tbdesktop.engine.workers import ASR, DIARIZATION, EngineWorker, WorkerFailed, peak_rss_mb, reset_peak_rss

log = logging.getLogger(__name__)

STAGE_PREPROCESSING = "preprocessing"
STAGE_TRANSCRIBING = "transcribing"
STAGE_DIARIZING = "diarizing"
STAGE_MERGING = "merging"
HEARTBEAT_S = 1.0
# Wall seconds per second of speech before this process has measured its own speed (2-core CPU, base int8).
PRIOR_SECONDS_PER_SPEECH_SECOND = {ASR: 0.035, DIARIZATION: 0.02}
ASR_SHARE = 0.85  # while both run, the transcription's progress weighs this much of the combined figure


@dataclass(frozen=True)
class PipelineOptions:
    cache_dir: Path
    model: str = "base"
    device: str = "auto"
    compute_type: str = "auto"
    language: str | None = None
    cpu_threads: int = 0
    batch_size: int = 0  # 0: on a CPU 4 per replica (greedy pass; 1 with an explicit beam), 8 on a GPU
    beam_size: int = 0  # 0: on a CPU greedy, with beam 5 again for unsure or looping windows; on a GPU 5
    max_duration_s: float | None = None
    decode_timeout_s: float = 600.0
    asr_backend: str = "local"
    openai_base_url: str = ""
    openai_model: str = ""
    openai_api_key: str | None = None
    diarization_backend: str = "local"  # local | pyannote | none
    pyannote_model_dir: str = ""
    diarization_threads: int = 1
    speakers_hint: int | None = None
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 6
    scratch_dir: Path | None = None

    def worker_options(self) -> dict[str, Any]:
        out = asdict(self)
        out["cache_dir"] = str(self.cache_dir)
        out["scratch_dir"] = str(self.scratch_dir) if self.scratch_dir else None
        return out

    def __repr__(self) -> str:  # never print the API key
        backends = f"asr={self.asr_backend!r}, diarization={self.diarization_backend!r}"
        return f"PipelineOptions(model={self.model!r}, {backends})"


class _Progress:
    """Combines the two workers' progress into one figure with an ETA; emits at least every second."""

    def __init__(self, on_progress: ProgressCallback | None, asr_expected_s: float, diar_expected_s: float | None):
        self.on_progress = on_progress
        self.asr = MeasuredEta(expected_s=asr_expected_s)
        self.diar = MeasuredEta(expected_s=diar_expected_s) if diar_expected_s is not None else None
        self.last_emit = 0.0
        self._high: dict[str, float] = {}

    def update(self, which: str, fraction: float) -> None:
        part = self.asr if which == ASR else self.diar
        if part is not None:
            part.advance_to(max(fraction, 0.0))
        self.emit()

    def finish(self, which: str) -> None:
        part = self.asr if which == ASR else self.diar
        if part is not None:
            part.finish()
        self.emit()

    def emit(self) -> None:
        """Every update goes on: the one throttle is at the process boundary (engine/worker_protocol.serve)."""
        self.last_emit = time.monotonic()
        if self.on_progress is None:
            return
        asr_f, asr_eta = self.asr.estimate()
        eta: float | None
        if self.diar is None:
            stage, fraction, eta = STAGE_TRANSCRIBING, asr_f, asr_eta
        else:
            diar_f, diar_eta = self.diar.estimate()
            if self.asr.done and not self.diar.done:
                stage, fraction, eta = STAGE_DIARIZING, diar_f, diar_eta
            else:
                stage = STAGE_TRANSCRIBING
                fraction = ASR_SHARE * asr_f + (1 - ASR_SHARE) * diar_f
                eta = None if asr_eta is None or diar_eta is None else max(asr_eta, diar_eta)
        fraction = max(min(fraction, 0.999), self._high.get(stage, 0.0))  # never goes back
        self._high[stage] = fraction
        self.on_progress(stage, fraction, eta)


class Pipeline:
    """Keeps the two worker processes (and their models) warm; ``run`` may be called for many recordings."""

    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self._vad: vad.SileroVad | None = None
        worker_options = options.worker_options()
        self.asr_worker = EngineWorker(ASR, worker_options, threads=options.cpu_threads or None)
        self.diar_worker: EngineWorker | None = None
        if options.diarization_backend != "none":
            self.diar_worker = EngineWorker(DIARIZATION, worker_options, threads=options.diarization_threads)
        self._load_reported = False
        self.model_load_seconds = 0.0
        self._rates = dict(PRIOR_SECONDS_PER_SPEECH_SECOND)
        for directory in {self.scratch_dir(), Path(options.cache_dir) / "scratch"}:
            remove_stale_scratch(directory)

    def _learn_rate(self, kind: str, seconds: float, speech_s: float) -> None:
        """Measured speed of this workstation, for the next recording's first ETA."""
        if speech_s >= 5.0 and seconds > 0:
            self._rates[kind] = 0.5 * self._rates[kind] + 0.5 * seconds / speech_s

    # -- lifecycle ------------------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Start both workers and load their models (in parallel); raises ModelError when one cannot load."""
        asyncio.run(self._warm_up())

    async def _warm_up(self) -> None:
        started = time.perf_counter()
        workers = [w for w in (self.asr_worker, self.diar_worker) if w is not None]
        errors = await asyncio.gather(*(asyncio.to_thread(w.warm_up) for w in workers), return_exceptions=True)
        for worker, error in zip(workers, errors, strict=True):
            if isinstance(error, BaseException):
                raise ModelError(f"The {worker.kind} worker could not start ({type(error).__name__}).")
            if error:
                raise ModelError(str(error))
        if self._vad is None:
            self._vad = vad.SileroVad()
        self.model_load_seconds = time.perf_counter() - started

    def close(self) -> None:
        for worker in (self.asr_worker, self.diar_worker):
            if worker is not None:
                worker.shutdown()

    def kill(self) -> None:
        for worker in (self.asr_worker, self.diar_worker):
            if worker is not None:
                worker.kill()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def worker_pids(self) -> list[int]:
        return [w.pid for w in (self.asr_worker, self.diar_worker) if w is not None and w.pid is not None]

    def scratch_dir(self, needed_bytes: int = 0) -> Path:
        """Where the decoded audio is shared with the workers: memory-backed when there is room."""
        if self.options.scratch_dir is not None:
            return Path(self.options.scratch_dir)
        return memory_backed_dir(needed_bytes) or Path(self.options.cache_dir) / "scratch"

    # -- running --------------------------------------------------------------------------------------------

    def speech_detector(self) -> vad.SileroVad:
        """The speech detector, loaded once per process."""
        if self._vad is None:
            self._vad = vad.SileroVad()
        return self._vad

    def rediarize(
        self,
        audio_path: Path,
        *,
        num_speakers: int | None = None,
        speakers_hint: int | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> DiarizationResult:
        """Speaker separation alone (no transcription), with ``num_speakers`` voices or automatic: the speaker
        turns to lay over words transcribed earlier (engine/rediarize.py)."""
        return asyncio.run(
            rediarize_async(
                self,
                Path(audio_path),
                num_speakers=num_speakers,
                speakers_hint=speakers_hint,
                on_progress=on_progress,
                should_cancel=should_cancel,
            )
        )

    def run(
        self,
        audio_path: Path,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        *,
        speakers_hint: int | None = None,
        channel_speakers: bool = False,
    ) -> PipelineResult:
        return asyncio.run(
            self.run_async(
                audio_path,
                on_progress=on_progress,
                should_cancel=should_cancel,
                speakers_hint=speakers_hint,
                channel_speakers=channel_speakers,
            )
        )

    async def run_async(
        self,
        audio_path: Path,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        *,
        speakers_hint: int | None = None,
        channel_speakers: bool = False,
    ) -> PipelineResult:
        """``channel_speakers``: a two-channel recording with one microphone per person — who spoke is read
        from the louder channel (engine/channels.py), diarization filling in where that is unclear."""
        total_started = time.perf_counter()
        timings: dict[str, float] = {}
        lock = threading.Lock()
        last: list[Any] = [0.0, None]  # when, (stage, fraction, eta)

        def report(stage: str, fraction: float, eta: float | None) -> None:
            # Called from this loop and from decoding/VAD threads: one report at a time.
            with lock:
                last[0], last[1] = time.monotonic(), (stage, min(max(fraction, 0.0), 1.0), eta)
                if on_progress is not None:
                    on_progress(*last[1])

        async def heartbeat() -> None:
            # Slow steps (decoding a long file, loading models) still report at least every second.
            while True:
                await asyncio.sleep(HEARTBEAT_S / 2)
                waited = time.monotonic() - last[0]
                if last[1] is not None and waited >= HEARTBEAT_S:
                    stage, fraction, eta = last[1]
                    report(stage, fraction, None if eta is None else max(eta - waited, 0.0))

        beat = asyncio.ensure_future(heartbeat())
        try:
            return await self._run(
                audio_path, report, should_cancel, speakers_hint, total_started, timings, channel_speakers
            )
        finally:
            beat.cancel()
            await _settle(beat)

    async def _run(
        self,
        audio_path: Path,
        report: ProgressCallback,
        should_cancel: CancelCheck | None,
        speakers_hint: int | None,
        total_started: float,
        timings: dict[str, float],
        channel_speakers: bool = False,
    ) -> PipelineResult:

        def check() -> None:
            if should_cancel is not None and should_cancel():
                raise Cancelled()

        check()
        reset_peak_rss()
        # Start (or reuse) both workers while this process decodes: model loading overlaps decoding.
        warm = asyncio.ensure_future(self._warm_up())
        report(STAGE_PREPROCESSING, 0.0, None)
        started = time.perf_counter()
        try:
            info, samples = await asyncio.to_thread(
                audio_mod.load,
                Path(audio_path),
                max_duration_s=self.options.max_duration_s,
                timeout_s=self.options.decode_timeout_s,
                should_cancel=should_cancel,
            )
        except EngineError:
            await _settle(warm)
            raise
        except Exception as exc:
            await _settle(warm)
            log.warning("preprocessing failed", extra={"error_type": type(exc).__name__})
            raise AudioDecodeError("The recording could not be read as audio.") from exc
        timings["decode"] = round(time.perf_counter() - started, 4)
        report(STAGE_PREPROCESSING, 0.5, None)
        check()

        started = time.perf_counter()
        if self._vad is None:
            self._vad = vad.SileroVad()
        vad_model = self._vad
        probs = await asyncio.to_thread(
            vad_model.probabilities,
            samples,
            on_fraction=lambda f: report(STAGE_PREPROCESSING, 0.5 + 0.5 * f, None),
            should_cancel=should_cancel,
            threads=min(os.cpu_count() or 1, 2),
        )
        asr_regions = vad.speech_regions(probs, samples.shape[0], vad.ASR_PARAMS)
        diar_regions = vad.speech_regions(probs, samples.shape[0], vad.DIARIZATION_PARAMS)
        del probs
        timings["vad"] = round(time.perf_counter() - started, 4)
        report(STAGE_PREPROCESSING, 1.0, 0.0)

        load_started = time.perf_counter()
        await warm  # raises ModelError when a model cannot load
        timings["model_load"] = 0.0 if self._load_reported else round(self.model_load_seconds, 4)
        timings["model_wait"] = round(time.perf_counter() - load_started, 4)
        self._load_reported = True
        check()

        hint = speakers_hint if speakers_hint is not None else self.options.speakers_hint
        n_samples = int(samples.shape[0])
        # The channels' loudness is measured while the workers run (it needs the original, unmixed file).
        energy_task = (
            asyncio.ensure_future(
                asyncio.to_thread(channels.channel_energy, Path(audio_path), should_cancel=should_cancel)
            )
            if channel_speakers
            else None
        )
        try:
            with scratch_audio(self.scratch_dir(samples.nbytes), samples) as scratch:
                del samples  # the workers read the scratch copy; this process keeps none
                result = await self._parallel(
                    scratch, n_samples, asr_regions, diar_regions, hint, report, should_cancel, timings
                )
        except BaseException:
            if energy_task is not None:
                await _settle(energy_task)
            raise
        transcript, diarization, resources = result

        started = time.perf_counter()
        report(STAGE_MERGING, 0.0, None)
        segments = [Segment.from_dict(s) for s in transcript["segments"]]
        warnings: list[str] = []
        if diarization is None:
            turns: tuple[SpeakerTurn, ...] = ()
        else:
            turns = diarization.turns
        if turns:
            segments = merge.assign_speakers(segments, turns)
        if energy_task is not None:
            try:
                energy = await energy_task
            except Exception as exc:  # the voices from diarization stand
                log.warning("channel loudness not read", extra={"error_type": type(exc).__name__})
                energy = None
            if energy is not None:
                segments = channels.assign_by_channel(segments, energy)
                turns = channels.turns_from_segments(segments)
                log.info("speakers read from the recording's channels")
        role_map = roles.assign_roles(segments, speakers_hint=hint)
        segments = roles.apply_roles(segments, role_map)
        speakers = _speaker_infos(segments, turns, role_map)
        timings["merge"] = round(time.perf_counter() - started, 4)
        timings["total"] = round(time.perf_counter() - total_started, 4)
        resources["main"] = round(peak_rss_mb(), 1)
        report(STAGE_MERGING, 1.0, 0.0)
        log.info(
            "pipeline finished",
            extra={"duration_s": round(info.duration_s, 2), "speakers": len(speakers), "timings": timings},
        )
        return PipelineResult(
            duration_s=info.duration_s,
            language=str(transcript.get("language") or ""),
            segments=tuple(segments),
            timings=timings,
            speakers=tuple(speakers),
            turns=turns,
            peak_rss_mb=resources,
            warnings=tuple(warnings),
        )

    async def _parallel(
        self,
        scratch: Path,
        n_samples: int,
        asr_regions: list[tuple[float, float]],
        diar_regions: list[tuple[float, float]],
        hint: int | None,
        report: ProgressCallback,
        should_cancel: CancelCheck | None,
        timings: dict[str, float],
    ) -> tuple[dict[str, Any], DiarizationResult | None, dict[str, float]]:
        job = uuid.uuid4().hex
        asr_speech = vad.speech_seconds(asr_regions)
        diar_speech = vad.speech_seconds(diar_regions)
        progress = _Progress(
            report,
            asr_speech * self._rates[ASR],
            diar_speech * self._rates[DIARIZATION] if self.diar_worker is not None else None,
        )
        common = {"audio": str(scratch), "samples": n_samples}
        asr_run = Run(job, ASR, {**common, "regions": asr_regions, "params": {"language": self.options.language}})
        diar_run = Run(
            job,
            DIARIZATION,
            {
                **common,
                "regions": diar_regions,
                "params": {
                    "num_speakers": self.options.num_speakers,
                    "min_speakers": self.options.min_speakers,
                    "max_speakers": self.options.max_speakers,
                    "speakers_hint": hint,
                },
            },
        )

        async def one(worker: EngineWorker, run: Run) -> Result | Error:
            reply = await worker.request(run, lambda p: progress.update(worker.kind, p.fraction))
            if isinstance(reply, Result):
                progress.finish(worker.kind)
            return reply

        tasks = [asyncio.ensure_future(one(self.asr_worker, asr_run))]
        if self.diar_worker is not None:
            tasks.append(asyncio.ensure_future(one(self.diar_worker, diar_run)))
        gathered = asyncio.gather(*tasks)
        try:
            while not gathered.done():
                if should_cancel is not None and should_cancel():
                    raise Cancelled()
                if time.monotonic() - progress.last_emit >= HEARTBEAT_S:
                    progress.emit()  # the clock moves the estimate on between the workers' reports
                await asyncio.wait({gathered}, timeout=0.2)
            replies = gathered.result()
        except WorkerFailed as exc:
            self.kill()
            log.warning("engine worker died", extra={"error": str(exc)[:80]})
            raise WorkerCrashedError() from exc
        except BaseException:
            # Cancelled (or the caller went away): stop both workers now; they restart with the next recording.
            gathered.cancel()
            self.kill()
            with contextlib.suppress(BaseException):
                await gathered
            raise

        asr_reply = replies[0]
        if isinstance(asr_reply, Error):
            if self.diar_worker is not None:
                self.diar_worker.cancel(job)
            raise asr_reply.to_exception()
        diarization: DiarizationResult | None = None
        resources: dict[str, float] = {ASR: round(asr_reply.peak_rss_mb, 1)}
        timings["asr"] = round(asr_reply.finished - asr_reply.started, 4)
        self._learn_rate(ASR, timings["asr"], asr_speech)
        if len(replies) > 1:
            diar_reply = replies[1]
            if isinstance(diar_reply, Error):
                raise diar_reply.to_exception()
            diarization = DiarizationResult.from_dict(diar_reply.data)
            timings["diarization"] = round(diar_reply.finished - diar_reply.started, 4)
            self._learn_rate(DIARIZATION, timings["diarization"], diar_speech)
            overlap = min(asr_reply.finished, diar_reply.finished) - max(asr_reply.started, diar_reply.started)
            timings["overlap"] = round(max(overlap, 0.0), 4)
            resources[DIARIZATION] = round(diar_reply.peak_rss_mb, 1)
        else:
            timings["diarization"] = 0.0
            timings["overlap"] = 0.0
        return dict(asr_reply.data), diarization, resources


async def _settle(task: asyncio.Future[Any]) -> None:
    with contextlib.suppress(BaseException):
        await task


def _speaker_infos(
    segments: list[Segment], turns: tuple[SpeakerTurn, ...], role_map: dict[str, str]
) -> list[SpeakerInfo]:
    talk: dict[str, float] = {}
    for turn in turns:
        talk[turn.speaker] = talk.get(turn.speaker, 0.0) + (turn.end - turn.start)
    words: dict[str, int] = {}
    for seg in segments:
        words[seg.speaker] = words.get(seg.speaker, 0) + (len(seg.words) or len(seg.text.split()))
        if not turns:
            talk[seg.speaker] = talk.get(seg.speaker, 0.0) + (seg.end - seg.start)
    order = list(dict.fromkeys([t.speaker for t in turns] + [s.speaker for s in segments]))
    return [
        SpeakerInfo(
            id=speaker,
            role=role_map.get(speaker),
            talk_time_s=round(talk.get(speaker, 0.0), 2),
            words=words.get(speaker, 0),
        )
        for speaker in order
    ]


def run(
    audio_path: Path,
    options: PipelineOptions,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> PipelineResult:
    """One-shot: start the workers, process one recording, stop them."""
    with Pipeline(options) as pipeline:
        return pipeline.run(audio_path, on_progress=on_progress, should_cancel=should_cancel)


__all__ = ["Pipeline", "PipelineOptions", "run"]
