"""The OpenAI-compatible transcriber: parallel chunk uploads, retries, progress and cancellation."""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from tbdesktop.engine.asr.openai.chunks import SAMPLE_RATE, WAV_HEADER_BYTES, Chunk, encode_wav, plan_chunks
from tbdesktop.engine.asr.openai.response import clamp, language_code, number, segments_from_response
from tbdesktop.engine.errors import Cancelled, EngineError, RemoteServiceError
from tbdesktop.engine.progress import MeasuredEta, reporter
from tbdesktop.engine.progress import check_cancel as _check_cancel
from tbdesktop.engine.remote import display_host, http_base, parse_retry_after
from tbdesktop.engine.types import CancelCheck, ProgressCallback, Segment, TranscriptResult

log = logging.getLogger(__name__)

STAGE = "transcribing"
_report = reporter(STAGE)
HEARTBEAT_S = 2.0  # progress is reported at least this often while requests are out
POLL_S = 0.2  # cancellation is checked at least this often
MULTIPART_OVERHEAD_BYTES = 4096  # boundaries and form fields around the WAV in the request body
CONNECT_TIMEOUT_S = 15.0
RETRYABLE_STATUS = frozenset({408, 429})


class OpenAITranscriber:
    """Sends speech to a remote Whisper-style service; the API key is held here and never logged.

    ``max_chunk_bytes`` bounds each uploaded WAV with its form fields, ``max_chunk_s`` each chunk's duration;
    ``max_in_flight`` requests run at once. Connection errors, timeouts, 408, 429 and 5xx are retried up to
    ``max_retries`` times after ``backoff_s`` doubling (with jitter, at most ``max_backoff_s``) or the server's
    ``Retry-After`` (at most ``max_retry_after_s``); other refusals fail at once with a `RemoteServiceError`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_chunk_bytes: int = 24_000_000,
        max_chunk_s: float = 600.0,
        max_in_flight: int = 3,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 60.0,
    ) -> None:
        max_samples = min(
            int(max_chunk_s * SAMPLE_RATE), (max_chunk_bytes - WAV_HEADER_BYTES - MULTIPART_OVERHEAD_BYTES) // 2
        )
        if max_samples < SAMPLE_RATE:
            raise ValueError("chunk limits must allow at least one second of audio")
        if max_in_flight < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("max_in_flight must be >= 1, max_retries >= 0 and timeout_s > 0")
        if not model:
            raise ValueError("a model name is required")
        self.url = transcriptions_url(base_url)
        self.host = display_host(self.url)
        self.model = model
        self._api_key = api_key or None
        self.max_chunk_samples = max_samples
        self.max_in_flight = max_in_flight
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._ssl_context: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAITranscriber(url={self.url!r}, model={self.model!r}, api_key={'set' if self._api_key else None})"

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        regions: Sequence[tuple[float, float]] | None = None,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> TranscriptResult:
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        _check_cancel(should_cancel)
        chunks = plan_chunks(audio, regions, self.max_chunk_samples)
        started = time.perf_counter()
        tracker = _ProgressTracker(sum(c.duration_s for c in chunks), started, on_progress)
        tracker.emit()
        bodies = self._run(audio, chunks, language or None, tracker, should_cancel) if chunks else {}
        segments: list[Segment] = []
        detected: str | None = None
        probability = 1.0 if language else 0.0
        for chunk in chunks:
            body = bodies[chunk.index]
            if detected is None and (detected := language_code(body.get("language"))) is not None:
                # The API gives no confidence for its choice; servers that do are believed.
                probability = clamp(number(body.get("language_probability"), 1.0), 0.0, 1.0)
            segments.extend(segments_from_response(body, chunk))
        _report(on_progress, 1.0, 0.0)
        log.info(
            "transcribed remotely",
            extra={
                "host": self.host,
                "audio_s": round(audio.shape[0] / SAMPLE_RATE, 2),
                "sent_s": round(tracker.total_s, 2),
                "chunks": len(chunks),
                "segments": len(segments),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return TranscriptResult(
            language=language or detected or "",
            language_probability=1.0 if language else probability,
            segments=tuple(segments),
        )

    def _run(
        self,
        audio: npt.NDArray[np.float32],
        chunks: list[Chunk],
        language: str | None,
        tracker: _ProgressTracker,
        should_cancel: CancelCheck | None,
    ) -> dict[int, Mapping[str, Any]]:
        """Keep up to ``max_in_flight`` requests out on daemon threads; stop submitting on error or cancel.

        A request already out when the run stops finishes (or times out) on its own and is ignored.
        """
        results: queue.Queue[tuple[int, Mapping[str, Any] | BaseException]] = queue.Queue()
        stop = threading.Event()
        pending = deque(chunks)
        durations = {c.index: c.duration_s for c in chunks}
        bodies: dict[int, Mapping[str, Any]] = {}
        in_flight = 0
        last_beat = time.monotonic()
        try:
            while pending or in_flight:
                _check_cancel(should_cancel)
                while pending and in_flight < self.max_in_flight:
                    chunk = pending.popleft()
                    samples = audio[chunk.start : chunk.end]
                    worker = threading.Thread(
                        target=self._work,
                        args=(chunk, samples, language, stop, results),
                        name=f"asr-remote-{chunk.index}",
                        daemon=True,
                    )
                    worker.start()
                    in_flight += 1
                try:
                    index, outcome = results.get(timeout=min(POLL_S, HEARTBEAT_S / 4))
                except queue.Empty:
                    if time.monotonic() - last_beat >= HEARTBEAT_S:
                        tracker.emit()
                        last_beat = time.monotonic()
                    continue
                in_flight -= 1
                if isinstance(outcome, BaseException):
                    raise outcome
                bodies[index] = outcome
                tracker.advance(durations[index])
                last_beat = time.monotonic()
            _check_cancel(should_cancel)
        finally:
            stop.set()
        return bodies

    def _work(
        self,
        chunk: Chunk,
        samples: npt.NDArray[np.float32],
        language: str | None,
        stop: threading.Event,
        results: queue.Queue[tuple[int, Mapping[str, Any] | BaseException]],
    ) -> None:
        try:
            results.put((chunk.index, self._post(chunk, encode_wav(samples), language, stop)))
        except EngineError as exc:
            results.put((chunk.index, exc))
        except Exception as exc:  # handed to the caller's thread as an engine error
            log.error("transcription request failed", extra={"chunk": chunk.index, "error_type": type(exc).__name__})
            message = f"The transcription request failed unexpectedly ({type(exc).__name__})."
            results.put((chunk.index, RemoteServiceError(message)))

    def _post(self, chunk: Chunk, wav: bytes, language: str | None, stop: threading.Event) -> Mapping[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        }
        if language:
            data["language"] = language
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, CONNECT_TIMEOUT_S))
        attempts = self.max_retries + 1
        with httpx.Client(timeout=timeout, headers=headers, verify=self._ssl()) as client:
            for attempt in range(1, attempts + 1):
                if stop.is_set():
                    raise Cancelled()
                sent = time.perf_counter()
                retry_after: float | None = None
                status: int | None = None
                error_type: str | None = None
                try:
                    response = client.post(
                        self.url, data=data, files={"file": (f"chunk-{chunk.index:04d}.wav", wav, "audio/wav")}
                    )
                except httpx.TransportError as exc:
                    failure = self._transport_error(exc)
                    error_type = type(exc).__name__
                else:
                    status = response.status_code
                    if 200 <= status < 300:
                        log.info(
                            "chunk transcribed",
                            extra={
                                "chunk": chunk.index,
                                "audio_s": round(chunk.duration_s, 2),
                                "attempt": attempt,
                                "seconds": round(time.perf_counter() - sent, 2),
                            },
                        )
                        return _parse_body(response)
                    failure = _status_error(status, self.host, self._api_key is not None, attempts)
                    if status not in RETRYABLE_STATUS and status < 500:
                        log.error("transcription request refused", extra={"chunk": chunk.index, "status": status})
                        raise failure
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                if attempt == attempts:
                    log.error(
                        "transcription request gave up",
                        extra={"chunk": chunk.index, "status": status, "error_type": error_type, "attempts": attempts},
                    )
                    raise failure
                delay = self._backoff(attempt, retry_after)
                log.warning(
                    "transcription request will be retried",
                    extra={
                        "chunk": chunk.index,
                        "status": status,
                        "error_type": error_type,
                        "attempt": attempt,
                        "delay_s": round(delay, 2),
                    },
                )
                if stop.wait(delay):
                    raise Cancelled()
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, exc: httpx.TransportError) -> RemoteServiceError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return RemoteServiceError(f"The transcription service is unreachable at {self.host}.")
        if isinstance(exc, httpx.TimeoutException):
            return RemoteServiceError(
                f"The transcription service at {self.host} did not answer within {self.timeout_s:g} s."
            )
        return RemoteServiceError(f"The connection to the transcription service at {self.host} was interrupted.")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        base = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        return base * random.uniform(0.5, 1.0)  # jitter keeps parallel chunks from retrying in lockstep

    def _ssl(self) -> ssl.SSLContext:
        # Loading the CA bundle costs tens of milliseconds: once per transcriber, shared by its requests.
        with self._ssl_lock:
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            return self._ssl_context


def transcriptions_url(base_url: str) -> str:
    """``http://host``, ``http://host/v1`` and the full endpoint all name the same endpoint."""
    base = http_base(base_url)
    if base is None:
        raise RemoteServiceError("The transcription service address is not an http:// or https:// URL.")
    if base.endswith("/audio/transcriptions"):
        return base
    if base.endswith("/v1"):
        return f"{base}/audio/transcriptions"
    return f"{base}/v1/audio/transcriptions"


def _status_error(status: int, host: str, has_key: bool, attempts: int) -> RemoteServiceError:
    if status == 401:
        message = (
            f"The transcription service rejected the API key ({status})."
            if has_key
            else f"The transcription service requires an API key ({status})."
        )
    elif status == 403:
        message = f"The transcription service refused access for this API key ({status})."
    elif status == 404:
        message = f"The transcription service at {host} has no transcription endpoint or no such model ({status})."
    elif status == 413:
        message = f"The transcription service refused an audio chunk as too large ({status})."
    elif status == 429:
        message = f"The transcription service kept refusing requests as too many ({status}) after {attempts} tries."
    elif status >= 500 or status == 408:
        message = f"The transcription service at {host} kept failing ({status}) after {attempts} tries."
    else:
        message = f"The transcription service rejected the request ({status})."
    return RemoteServiceError(message, status_code=status)


def _parse_body(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        if response.headers.get("content-type", "").startswith("text/plain"):
            return {"text": response.text}
        body = None
    if not isinstance(body, Mapping):
        raise RemoteServiceError("The transcription service sent a response that could not be read.")
    return body


class _ProgressTracker:
    """Fractions of the audio seconds sent that have come back, and an ETA from the speed measured so far."""

    def __init__(self, total_s: float, started: float, on_progress: ProgressCallback | None) -> None:
        self.total_s = total_s
        self._on_progress = on_progress
        self._done_s = 0.0
        self._eta = MeasuredEta(started)

    def advance(self, seconds: float) -> None:
        self._done_s += seconds
        if self.total_s > 0:
            self._eta.advance_to(self._done_s / self.total_s)
        self.emit()

    def emit(self) -> None:
        if self.total_s <= 0:
            _report(self._on_progress, 0.0, None)
            return
        _report(self._on_progress, self._eta.fraction, self._eta.eta())
