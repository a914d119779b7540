"""The OpenAI-compatible transcriber against a real local HTTP server speaking the transcription protocol.

The fake server decodes the WAV it receives, finds the tones in it and answers verbose_json whose timestamps
and text come from that audio, so re-based timestamps and chunk order are checked against the recording.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import wave
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from polling import heartbeats, poll

from tbdesktop.engine.asr import DEFAULT_SPEAKER, Transcriber
from tbdesktop.engine.asr.openai import (
    Chunk,
    OpenAITranscriber,
    encode_wav,
    parse_retry_after,
    plan_chunks,
    segments_from_response,
    transcriptions_url,
)
from tbdesktop.engine.asr.openai import transcriber as transcriber_mod
from tbdesktop.engine.errors import Cancelled, EngineError, RemoteServiceError

SR = 16000
KEY = "sk-test-0123456789"
MODEL = "whisper-1"


# ---------------------------------------------------------------- the fake service


@dataclass
class Received:
    fields: dict[str, list[str]]
    auth: str | None
    file_bytes: int
    samples: npt.NDArray[np.float32]


@dataclass
class FakeService:
    """State shared with the handler threads; tests set the knobs and read what was received."""

    mode: str = "verbose"  # verbose | nested | no_words | text_only | plain_text
    language: str = "english"
    gate: threading.Event | None = None  # when given, every request waits for it before answering
    hold: Callable[[int], bool] | None = None  # when given, a tone is answered once hold(tone) holds (or after 10 s)
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)  # canned replies, first come
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # tone of the first run, in answer order
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path != "/v1/audio/transcriptions":
            return 404, {}, b'{"error": {"message": "not found"}}'
        fields, file_bytes = _parse_multipart(headers["Content-Type"], body)
        with self.lock:
            samples = _decode_wav(file_bytes)
            self.received.append(Received(fields, headers.get("Authorization"), len(file_bytes), samples))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            canned = self.script.popleft() if self.script else None
        try:
            if headers.get("Authorization") != f"Bearer {KEY}":
                return 401, {}, b'{"error": {"message": "Incorrect API key provided"}}'
            if fields.get("model") != [MODEL]:
                return 400, {}, b'{"error": {"message": "unknown model"}}'
            if canned is not None:
                return canned[0], canned[1], b'{"error": {"message": "try again"}}'
            runs = _tone_runs(samples)
            if self.gate is not None:
                self.gate.wait(10)
            if self.hold is not None:
                hold, tone = self.hold, runs[0][2] if runs else 0
                poll(lambda: hold(tone), 10.0)  # past the deadline it answers anyway: the test's assertions fail
            with self.lock:
                self.answered.append(runs[0][2] if runs else 0)
            if self.mode == "plain_text":
                return 200, {"Content-Type": "text/plain"}, " ".join(f"tone {f}" for _, _, f in runs).encode()
            return 200, {"Content-Type": "application/json"}, json.dumps(self._answer(runs, samples)).encode()
        finally:
            with self.lock:
                self.active -= 1

    def _answer(self, runs: list[tuple[float, float, int]], samples: npt.NDArray[np.float32]) -> dict[str, Any]:
        duration = samples.shape[0] / SR
        text = " ".join(f"tone {f}" for _, _, f in runs)
        if self.mode == "text_only":
            return {"text": text}
        segments: list[dict[str, Any]] = []
        words: list[dict[str, Any]] = []
        for i, (start, end, freq) in enumerate(runs):
            middle = (start + end) / 2
            seg_words = [
                {"word": "tone", "start": start, "end": middle},
                # Ends past its segment (and sometimes past the chunk): the client must clamp it.
                {"word": str(freq), "start": middle, "end": end + 0.5},
            ]
            segment: dict[str, Any] = {"id": i, "start": start, "end": end, "text": f" tone {freq}"}
            segment["avg_logprob"] = -0.2
            if self.mode == "nested":
                for w in seg_words:
                    w["probability"] = 0.8
                segment["words"] = seg_words
            elif self.mode == "verbose":
                words.extend(seg_words)
            segments.append(segment)
        segments.append({"id": len(runs), "start": duration, "end": duration, "text": "  "})  # dropped: no text
        answer: dict[str, Any] = {"task": "transcribe", "language": self.language, "duration": duration}
        answer.update(text=text, segments=segments)
        if self.mode == "verbose":
            answer["words"] = words
        return answer


def _remote_workers() -> set[threading.Thread]:
    """The transcriber's request threads alive now (it names them asr-remote-<chunk>)."""
    return {t for t in threading.enumerate() if t.name.startswith("asr-remote-")}


class _RetryAnnounced(logging.Handler):
    """Notes the moment a request thread says it will retry (it then waits out the backoff), and which thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.announced = threading.Event()
        self.thread: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if "will be retried" in record.getMessage():
            self.thread = threading.current_thread()
            self.announced.set()


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], bytes]:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, list[str]] = {}
    file_bytes = b""
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, content = part.partition(b"\r\n\r\n")
        content = content[: -len(b"\r\n")]
        disposition = head.decode().split('name="', 1)[1]
        name = disposition.split('"', 1)[0]
        if 'filename="' in disposition:
            file_bytes = content
        else:
            fields.setdefault(name, []).append(content.decode())
    return fields, file_bytes


def _decode_wav(data: bytes) -> npt.NDArray[np.float32]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SR)
        frames = wav.readframes(wav.getnframes())
    return (np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32767.0).astype(np.float32)


def _tone_runs(samples: npt.NDArray[np.float32]) -> list[tuple[float, float, int]]:
    """(start_s, end_s, frequency rounded to 100 Hz) for each stretch of tone, on the chunk's clock."""
    loud = np.flatnonzero(np.abs(samples) > 0.05)
    if loud.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(loud) > SR // 20)
    runs: list[tuple[float, float, int]] = []
    for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, loud.size - 1], strict=True):
        lo, hi = int(loud[first]), int(loud[last])
        piece = samples[lo : hi + 1]
        crossings = np.count_nonzero(np.diff(np.signbit(piece)))
        freq = crossings / 2 / max(piece.shape[0] / SR, 1e-6)
        runs.append((lo / SR, (hi + 1) / SR, int(round(freq / 100.0)) * 100))
    return runs


def _make_handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, payload = service.handle(self.path, self.headers, body)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def service() -> Iterator[tuple[FakeService, str]]:
    state = FakeService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if state.gate is not None:
            state.gate.set()
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- audio


def tones(starts: list[float], length_s: float, total_s: float) -> tuple[npt.NDArray[np.float32], list[int]]:
    """Silence with a sine burst at each start; burst ``i`` is at ``200 * (i + 1)`` Hz."""
    audio = np.zeros(int(total_s * SR), dtype=np.float32)
    freqs = []
    for i, start in enumerate(starts):
        freq = 200 * (i + 1)
        lo = int(start * SR)
        t = np.arange(int(length_s * SR)) / SR
        audio[lo : lo + t.size] = 0.3 * np.sin(2 * np.pi * freq * t)
        freqs.append(freq)
    return audio, freqs


def client(url: str, **kwargs: Any) -> OpenAITranscriber:
    kwargs.setdefault("backoff_s", 0.01)
    return OpenAITranscriber(url, MODEL, kwargs.pop("api_key", KEY), **kwargs)


STARTS = [0.5 + 2.0 * i for i in range(6)]
REGIONS = [(s, s + 1.0) for s in STARTS]


def assert_tones(result: Any, starts: list[float], freqs: list[int], length_s: float = 1.0) -> None:
    assert [s.text for s in result.segments] == [f"tone {f}" for f in freqs]
    for segment, start in zip(result.segments, starts, strict=True):
        assert segment.start == pytest.approx(start, abs=0.005)
        assert segment.end == pytest.approx(start + length_s, abs=0.005)
        assert segment.speaker == DEFAULT_SPEAKER
        assert [w.word for w in segment.words] == ["tone", segment.text.split()[1]]
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
    ends = [s.end for s in result.segments]
    assert ends == sorted(ends)


# ---------------------------------------------------------------- end to end


def test_is_a_transcriber() -> None:
    transcriber: Transcriber = client("http://127.0.0.1:9")
    assert KEY not in repr(transcriber)


def test_chunks_go_out_in_parallel_and_come_back_in_order(
    service: tuple[FakeService, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = service
    # Nothing is answered before two requests are out at once, and the first chunk only after the second, so
    # answers arrive out of order.
    state.hold = lambda freq: state.max_active >= 2 and (freq != 200 or 400 in state.answered)
    audio, freqs = tones(STARTS, 1.0, 12.5)
    caplog.set_level(logging.DEBUG)
    result = client(url, max_chunk_s=1.5).transcribe(audio, regions=REGIONS)

    assert_tones(result, STARTS, freqs)
    assert result.language == "en"
    assert len(state.received) == 6
    assert 2 <= state.max_active <= 3
    assert state.answered != sorted(state.answered)
    for request in state.received:
        assert request.auth == f"Bearer {KEY}"
        assert request.fields["model"] == [MODEL]
        assert request.fields["response_format"] == ["verbose_json"]
        assert sorted(request.fields["timestamp_granularities[]"]) == ["segment", "word"]
        assert "language" not in request.fields
        # Each chunk is its region padded by at most a fraction of a second, never the silence around it.
        assert 1.0 < request.samples.shape[0] / SR <= 1.5
    assert KEY not in caplog.text
    assert "tone" not in caplog.text  # no transcript text in the logs


def test_nearby_regions_share_a_chunk_and_long_silences_split(service: tuple[FakeService, str]) -> None:
    state, url = service
    starts = [1.0, 3.0, 5.0, 45.0]
    audio, freqs = tones(starts, 1.0, 50.0)
    result = client(url).transcribe(audio, regions=[(s, s + 1.0) for s in starts])
    assert_tones(result, starts, freqs)
    # Three close regions in one request; the region after 39 s of silence in its own.
    assert sorted(len(_tone_runs(r.samples)) for r in state.received) == [1, 3]
    assert sum(r.samples.shape[0] for r in state.received) < 12 * SR


def test_fixed_language_base_url_with_v1_and_words_inside_segments(service: tuple[FakeService, str]) -> None:
    state, url = service
    state.mode = "nested"
    audio, freqs = tones(STARTS[:2], 1.0, 4.0)
    result = client(url + "/v1/", max_chunk_s=1.5).transcribe(audio, regions=REGIONS[:2], language="de")
    assert_tones(result, STARTS[:2], freqs)
    assert (result.language, result.language_probability) == ("de", 1.0)
    assert all(r.fields["language"] == ["de"] for r in state.received)
    assert {w.probability for s in result.segments for w in s.words} == {0.8}


@pytest.mark.parametrize("mode", ["no_words", "text_only", "plain_text"])
def test_answers_without_word_timestamps(service: tuple[FakeService, str], mode: str) -> None:
    state, url = service
    state.mode = mode
    audio, freqs = tones(STARTS[:3], 1.0, 6.0)
    result = client(url, max_chunk_s=1.5).transcribe(audio, regions=REGIONS[:3])
    assert [s.text for s in result.segments] == [f"tone {f}" for f in freqs]
    assert all(s.words == () for s in result.segments)
    if mode == "no_words":
        assert [s.start for s in result.segments] == pytest.approx(STARTS[:3], abs=0.005)
    else:  # one segment spanning each chunk: the padded region
        assert [s.start for s in result.segments] == pytest.approx([s - 0.2 for s in STARTS[:3]], abs=0.005)
        assert [s.end for s in result.segments] == pytest.approx([s + 1.2 for s in STARTS[:3]], abs=0.005)


def test_without_regions_the_audio_is_cut_at_its_quiet_points(service: tuple[FakeService, str]) -> None:
    state, url = service
    starts = [0.25 + 0.8 * i for i in range(8)]
    audio, freqs = tones(starts, 0.3, 9.5)  # ends with 3 s of silence
    result = client(url, max_chunk_s=2.0).transcribe(audio)
    assert_tones(result, starts, freqs, length_s=0.3)
    assert result.language == "en"
    assert len(state.received) >= 4
    for request in state.received:
        assert request.samples.shape[0] <= 2 * SR
        edges = np.r_[request.samples[: SR // 50], request.samples[-SR // 50 :]]
        assert np.max(np.abs(edges)) < 1e-3  # cut in silence, not through a tone
    # Chunks of the silent tail are not sent.
    assert all(_tone_runs(r.samples) for r in state.received)
    assert sum(r.samples.shape[0] for r in state.received) < audio.shape[0] - SR


def test_chunks_stay_under_the_byte_limit(service: tuple[FakeService, str]) -> None:
    state, url = service
    limit = 44 + 4096 + 2 * int(1.2 * SR)
    audio, _ = tones(STARTS[:3], 1.0, 6.0)
    long_regions = [(0.5, 1.5), (2.5, 5.5)]  # the second is longer than a chunk may be
    result = client(url, max_chunk_bytes=limit).transcribe(audio, regions=long_regions)
    assert len(state.received) >= 4
    assert all(r.file_bytes <= limit for r in state.received)
    heard = [int(s.text.split()[1]) for s in result.segments]  # a tone cut in two is heard twice
    assert heard == sorted(heard)
    assert set(heard) == {200, 400, 600}
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)


def test_silence_only_sends_nothing(service: tuple[FakeService, str]) -> None:
    state, url = service
    events: list[tuple[str, float, float | None]] = []
    audio = np.zeros(SR * 30, dtype=np.float32)
    transcriber = client(url)
    result = transcriber.transcribe(audio, regions=[], on_progress=lambda *e: events.append(e))
    assert result.segments == ()
    assert transcriber.transcribe(audio).segments == ()  # no regions: the silent chunk is left out too
    assert state.received == []
    assert events[0][:2] == ("transcribing", 0.0)
    assert events[-1] == ("transcribing", 1.0, 0.0)


def test_retries_after_500_and_429_then_succeeds(
    service: tuple[FakeService, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = service
    state.script.extend([(500, {}), (429, {"Retry-After": "0"}), (503, {})])
    audio, freqs = tones(STARTS[:2], 1.0, 4.0)
    caplog.set_level(logging.WARNING)
    result = client(url, max_chunk_s=1.5, max_in_flight=1).transcribe(audio, regions=REGIONS[:2])
    assert_tones(result, STARTS[:2], freqs)
    assert len(state.received) == 5
    assert len([r for r in caplog.records if "retried" in r.getMessage()]) == 3


def test_gives_up_after_the_last_retry(service: tuple[FakeService, str]) -> None:
    state, url = service
    state.script.extend([(503, {})] * 10)
    audio, _ = tones(STARTS[:1], 1.0, 2.0)
    with pytest.raises(RemoteServiceError) as caught:
        client(url, max_retries=2).transcribe(audio, regions=REGIONS[:1])
    assert caught.value.status_code == 503
    assert "failing (503) after 3 tries" in caught.value.message
    assert len(state.received) == 3


def test_a_rejected_key_fails_at_once_with_a_clear_message(
    service: tuple[FakeService, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = service
    audio, _ = tones(STARTS, 1.0, 12.5)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RemoteServiceError) as caught:
        client(url, api_key="sk-wrong-secret", max_chunk_s=1.5, max_in_flight=1).transcribe(audio, regions=REGIONS)
    assert caught.value.message == "The transcription service rejected the API key (401)."
    assert caught.value.status_code == 401
    assert len(state.received) == 1  # no retry, and no further chunk sent
    assert "sk-wrong-secret" not in caplog.text

    with pytest.raises(RemoteServiceError, match=r"requires an API key \(401\)"):
        client(url, api_key=None).transcribe(audio, regions=REGIONS[:1])
    assert state.received[-1].auth is None


@pytest.mark.parametrize(
    ("suffix", "model", "message"),
    [
        ("", "no-such-model", "rejected the request (400)"),
        ("/other", MODEL, "has no transcription endpoint or no such model (404)"),
    ],
)
def test_other_client_errors_are_not_retried(
    service: tuple[FakeService, str], suffix: str, model: str, message: str
) -> None:
    state, url = service
    audio, _ = tones(STARTS[:1], 1.0, 2.0)
    transcriber = OpenAITranscriber(url + suffix, model, KEY, backoff_s=0.01)
    with pytest.raises(RemoteServiceError) as caught:
        transcriber.transcribe(audio, regions=REGIONS[:1])
    assert message in caught.value.message
    assert len(state.received) == (1 if suffix == "" else 0)


def test_an_unreachable_service_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    audio, _ = tones(STARTS[:1], 1.0, 2.0)
    with pytest.raises(RemoteServiceError) as caught:
        client(f"http://127.0.0.1:{port}", max_retries=1).transcribe(audio, regions=REGIONS[:1])
    assert caught.value.message == f"The transcription service is unreachable at 127.0.0.1:{port}."
    assert isinstance(caught.value, EngineError)


def test_a_slow_service_times_out(service: tuple[FakeService, str]) -> None:
    state, url = service
    state.gate = threading.Event()  # not opened until the test ends: the service answers after any timeout
    audio, _ = tones(STARTS[:1], 1.0, 2.0)
    with pytest.raises(RemoteServiceError, match=r"did not answer within 0.2 s"):
        client(url, timeout_s=0.2, max_retries=0).transcribe(audio, regions=REGIONS[:1])


def test_cancel_returns_while_requests_are_out_and_sends_no_more(service: tuple[FakeService, str]) -> None:
    state, url = service
    state.gate = threading.Event()
    audio, _ = tones(STARTS, 1.0, 12.5)
    before = _remote_workers()
    # Cancelled once the service holds two requests: four chunks are still to be sent.
    with pytest.raises(Cancelled):
        client(url, max_chunk_s=1.5, max_in_flight=2).transcribe(
            audio, regions=REGIONS, should_cancel=lambda: state.max_active >= 2
        )
    assert state.answered == []  # returned while the service still held both requests
    out = _remote_workers() - before
    assert len(out) == 2
    state.gate.set()
    for worker in out:  # the two requests finish on their own; nothing is left that could send another
        worker.join(10)
    assert not any(worker.is_alive() for worker in out), "a request thread outlived its answer"
    assert len(state.answered) == 2
    assert len(state.received) == 2


def test_cancel_interrupts_a_retry_wait(service: tuple[FakeService, str], caplog: pytest.LogCaptureFixture) -> None:
    state, url = service
    state.script.append((429, {"Retry-After": "30"}))
    audio, _ = tones(STARTS[:1], 1.0, 2.0)
    caplog.set_level(logging.WARNING, logger=transcriber_mod.__name__)
    retrying = _RetryAnnounced()
    logging.getLogger(transcriber_mod.__name__).addHandler(retrying)
    try:
        # Cancelled while the request thread waits out the 30 s the service asked for.
        with pytest.raises(Cancelled):
            client(url).transcribe(audio, regions=REGIONS[:1], should_cancel=retrying.announced.is_set)
    finally:
        logging.getLogger(transcriber_mod.__name__).removeHandler(retrying)
    assert retrying.thread is not None
    retrying.thread.join(10)
    assert not retrying.thread.is_alive(), "the retry wait went on after the cancel"
    assert len(state.received) == 1


def test_progress_heartbeat_fractions_and_eta(service: tuple[FakeService, str], monkeypatch: Any) -> None:
    state, url = service
    monkeypatch.setattr(transcriber_mod, "HEARTBEAT_S", 0.05)
    events: list[tuple[str, float, float | None]] = []
    # Chunk n (tone 200 n) is answered once the client has sent 3 n heartbeats while waiting.
    state.hold = lambda freq: heartbeats(events) >= 3 * (freq // 200)
    audio, _ = tones(STARTS[:4], 1.0, 8.0)
    client(url, max_chunk_s=1.5, max_in_flight=2).transcribe(
        audio, regions=REGIONS[:4], on_progress=lambda *e: events.append(e)
    )
    assert {stage for stage, _, _ in events} == {"transcribing"}
    fractions = [f for _, f, _ in events]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0
    assert events[-1] == ("transcribing", 1.0, 0.0)
    # Each of the four equal chunks moves the bar a quarter; heartbeats fill the waits between.
    assert {round(f, 3) for f in fractions} >= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert heartbeats(events) >= 12, events
    assert len(events) >= 4 + 12
    assert all(eta is not None and eta >= 0 for _, f, eta in events if f > 0)


# ---------------------------------------------------------------- the parts


def test_transcriptions_url_accepts_either_base() -> None:
    want = "https://asr.example:8443/v1/audio/transcriptions"
    for base in ("https://asr.example:8443", "https://asr.example:8443/", "https://asr.example:8443/v1/", want):
        assert transcriptions_url(base) == want
    assert transcriptions_url("http://h/proxy") == "http://h/proxy/v1/audio/transcriptions"
    for bad in ("asr.example", "ftp://h", "http://h:port"):
        with pytest.raises(RemoteServiceError):
            transcriptions_url(bad)
    transcriber = OpenAITranscriber("https://user:secret@asr.example:8443", MODEL)
    assert transcriber.host == "asr.example:8443"


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-1") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert client("http://h", max_retry_after_s=5)._backoff(1, 120.0) == 5.0
    delays = [client("http://h", backoff_s=1.0, max_backoff_s=4.0)._backoff(n, None) for n in (1, 2, 3, 6)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0 and delays[3] <= 4.0


def test_encode_wav_round_trips() -> None:
    samples = np.linspace(-1.2, 1.2, 1001, dtype=np.float32)
    data = encode_wav(samples)
    assert len(data) == 44 + 2 * samples.size
    decoded = _decode_wav(data)
    np.testing.assert_allclose(decoded, np.clip(samples, -1, 1), atol=1e-4)


def test_plan_chunks_tidies_regions() -> None:
    audio = np.zeros(SR * 10, dtype=np.float32)
    # Unsorted, overlapping, out of range, empty and NaN regions.
    regions = [(5.0, 6.0), (1.0, 2.0), (1.5, 2.5), (9.9, 12.0), (3.0, 3.0), (float("nan"), 1.0), (-1.0, 0.1)]
    chunks = plan_chunks(audio, regions, max_samples=SR * 2)
    assert [(c.start / SR, c.end / SR) for c in chunks] == [(0.0, 0.3), (0.8, 2.7), (4.8, 6.2), (9.7, 10.0)]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    assert plan_chunks(audio, [], SR) == []
    assert plan_chunks(np.zeros(0, dtype=np.float32), None, SR) == []


def test_segments_from_response_rebases_clamps_and_assigns_words() -> None:
    chunk = Chunk(index=3, start=10 * SR, end=14 * SR)
    body = {
        "language": "english",
        "segments": [
            {"start": 2.0, "end": 9.0, "text": " second", "avg_logprob": -0.5},  # ends past the chunk
            {"start": 0.0, "end": 1.0, "text": " first"},
            {"start": 1.2, "end": 1.4, "text": ""},
        ],
        "words": [
            {"word": "first", "start": -0.5, "end": 1.3},  # starts before the chunk, nearer the first segment
            {"word": "second", "start": 1.8, "end": 2.5},  # in the gap, nearer the second
        ],
    }
    first, second = segments_from_response(body, chunk)
    assert (first.start, first.end, first.text) == (10.0, 11.0, "first")
    assert (second.start, second.end, second.text) == (12.0, 14.0, "second")
    assert [(w.word, w.start, w.end) for w in first.words] == [("first", 10.0, 11.0)]
    assert [(w.word, w.start, w.end) for w in second.words] == [("second", 12.0, 12.5)]
    assert first.words[0].probability == 1.0
    assert second.words[0].probability == pytest.approx(np.exp(-0.5))
    only_text = segments_from_response({"text": " hello "}, chunk)
    assert [(s.start, s.end, s.text, s.words) for s in only_text] == [(10.0, 14.0, "hello", ())]
    assert segments_from_response({"text": ""}, chunk) == []
    assert segments_from_response({}, chunk) == []


def test_detected_language_comes_from_the_first_chunk(service: tuple[FakeService, str]) -> None:
    state, url = service
    state.language = "German"
    audio, _ = tones(STARTS[:2], 1.0, 4.0)
    result = client(url, max_chunk_s=1.5).transcribe(audio, regions=REGIONS[:2])
    assert (result.language, result.language_probability) == ("de", 1.0)
