"""Live recording: the recorder's stream path fed by a fake PortAudio stream with real audio, the encrypted
journal, kill recovery in a real subprocess, a 3-hour run within memory bounds, and a real capture through
PulseAudio processed by the real pipeline."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from polling import until

from tbdesktop.errors import TBError
from tbdesktop.services.context import AppContext
from tbdesktop.services.recording import (
    CAPTURE_KEY,
    DeviceProblem,
    LevelReading,
    NoInputDeviceError,
    RecorderObserver,
    RecorderState,
    RecorderStatus,
    RecordingParams,
    RecordingService,
)
from tbdesktop.services.recording import feed as feed_module
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT
from tbdesktop.services.sessions import SessionService
from tbdesktop.store.models import TherapySession

RATE = 16000
SECOND = RATE
TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[1]


# -- a fake PortAudio: the same calls the recorder makes of sounddevice, fed with real audio -------------------


def load_wav(path: Path) -> np.ndarray[Any, Any]:
    """The fixture's samples as (frames, channels) int16."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()).copy()


@dataclass
class FakeTime:
    inputBufferAdcTime: float  # noqa: N815 - PortAudio's name


@dataclass
class FakeStatus:
    input_overflow: bool = False


class FakeDevice:
    """An input device playing ``audio`` (frames × channels) into whatever stream is opened on it.

    ``allow(n)`` lets it deliver n more frames (None: no limit); ``overflow_at`` skips frames at a source position
    and flags an overflow on the next block, as PortAudio does; ``vanish_at`` unplugs it after that many frames
    (``finished``: PortAudio ends the stream; ``stall``: the callbacks just stop); ``realtime`` paces it."""

    def __init__(
        self,
        name: str,
        audio: np.ndarray[Any, Any] | Callable[[int, int], np.ndarray[Any, Any]],
        *,
        rate: int = RATE,
        channels: int | None = None,
        total: int | None = None,
        realtime: float = 0.0,
        counter_file: Path | None = None,
        block_frames: int | None = None,
    ) -> None:
        self.name = name
        self.audio = audio
        self.rate = rate
        self.channels = channels or (audio.shape[1] if isinstance(audio, np.ndarray) else 1)
        self.total = total if total is not None else (len(audio) if isinstance(audio, np.ndarray) else 0)
        self.realtime = realtime
        self.block_frames = block_frames  # PortAudio may deliver other sizes than the one asked for
        self.position = 0
        self.fed = 0
        self.budget: int | None = None
        self.overflow_at: dict[int, int] = {}
        self.vanish_at: int | None = None
        self.vanish_mode = "finished"
        self.present = True
        self.throttle: Callable[[], None] | None = None
        self.cond = threading.Condition()
        self._counter = os.open(counter_file, os.O_RDWR | os.O_CREAT, 0o600) if counter_file else None

    def allow(self, frames: int) -> None:
        with self.cond:
            self.budget = (self.budget or 0) + frames
            self.cond.notify_all()

    def hold(self) -> None:
        with self.cond:
            self.budget = 0

    def wait_fed(self, frames: int, timeout: float = 20.0) -> None:
        until(lambda: self.fed >= frames, timeout, f"{frames} frames fed (fed {self.fed})")

    def block(self, start: int, n: int) -> np.ndarray[Any, Any]:
        if isinstance(self.audio, np.ndarray):
            return self.audio[start : start + n]
        return self.audio(start, n)

    def record_fed(self) -> None:
        if self._counter is not None:
            os.pwrite(self._counter, struct.pack("<Q", self.fed), 0)


class FakeStream:
    def __init__(self, device: FakeDevice, channels: int, blocksize: int, callback: Any, finished: Any) -> None:
        self.device = device
        self.channels = channels
        self.blocksize = device.block_frames or blocksize
        self.callback = callback
        self.finished = finished
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.active = False
        self.closed = False

    def start(self) -> None:
        self.active = True
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        d = self.device
        base = 1000.0
        while not self._stop.is_set():
            with d.cond:
                while not self._stop.is_set() and d.budget is not None and d.budget < self.blocksize:
                    d.cond.wait(0.05)
            if self._stop.is_set():
                break
            if d.position >= d.total:
                time.sleep(0.01)  # the source has run out: a silent device delivers nothing here
                continue
            overflow = False
            skip = d.overflow_at.pop(d.position, 0)
            if skip:
                d.position += skip
                overflow = True
            n = min(self.blocksize, d.total - d.position)
            samples = d.block(d.position, n)
            adc = base + d.position / d.rate
            d.position += n
            data = np.ascontiguousarray(samples[:, : self.channels])
            self.callback(data, n, FakeTime(adc), FakeStatus(overflow))
            d.fed += n
            d.record_fed()
            with d.cond:
                if d.budget is not None:
                    d.budget -= n
            if d.vanish_at is not None and d.fed >= d.vanish_at:
                d.present = False
                if d.vanish_mode == "finished":
                    self.active = False
                    self.finished()
                return
            if d.throttle is not None:
                d.throttle()
            if d.realtime:
                time.sleep(n / d.rate / d.realtime)  # the scenario: a device delivers audio as time passes
        self.active = False
        self.finished()

    def stop(self) -> None:
        self._stop.set()
        with self.device.cond:
            self.device.cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    abort = stop

    def close(self) -> None:
        self.stop()
        self.closed = True


class FakeBackend:
    """Stands in for sounddevice: ``query_devices``, ``check_input_settings``, ``InputStream``."""

    def __init__(self, devices: list[FakeDevice]) -> None:
        self.devices = devices
        self.streams: list[FakeStream] = []

    def query_devices(self) -> list[dict[str, Any]]:
        return [
            {
                "name": d.name,
                "index": i,
                "max_input_channels": d.channels,
                "default_samplerate": float(d.rate),
                "hostapi": 0,
            }
            for i, d in enumerate(self.devices)
            if d.present
        ]

    def default_input(self) -> int | None:
        return 0 if self.devices and self.devices[0].present else None

    def hostapi_name(self, index: int) -> str:
        return "Fake"

    def check_input_settings(self, device: int, channels: int, samplerate: int) -> None:
        d = self.devices[device]
        if not d.present or channels > d.channels or samplerate != d.rate:
            raise ValueError("Invalid sample rate or channel count")

    def open_input(self, *, device: int, channels: int, samplerate: int, blocksize: int, callback: Any,
                   finished_callback: Any) -> FakeStream:  # fmt: skip
        d = self.devices[device]
        if not d.present:
            raise OSError("device unavailable")
        stream = FakeStream(d, channels, blocksize, callback, finished_callback)
        self.streams.append(stream)
        return stream

    def rescan(self) -> bool:
        return True


class Events(RecorderObserver):
    def __init__(self) -> None:
        self.levels: list[LevelReading] = []
        self.elapsed_s: list[float] = []
        self.states: list[RecorderStatus] = []
        self.problems: list[DeviceProblem] = []
        self.threads: set[str] = set()

    def level(self, reading: LevelReading) -> None:
        self.threads.add(threading.current_thread().name)
        self.levels.append(reading)

    def elapsed(self, seconds: float) -> None:
        self.elapsed_s.append(seconds)

    def state_changed(self, status: RecorderStatus) -> None:
        self.states.append(status)

    def device_error(self, problem: DeviceProblem) -> None:
        self.problems.append(problem)


@pytest.fixture(autouse=True)
def patient_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake device held by the test delivers nothing for a while; only the stall test wants that noticed."""
    monkeypatch.setattr(feed_module, "STALL_S", 60.0)


@pytest.fixture
def source(two_speaker: Any) -> np.ndarray[Any, Any]:
    audio = load_wav(two_speaker[0])
    assert audio.shape[1] == 1 and len(audio) > 20 * SECOND
    return audio


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    until(check, timeout, "the recorder")


def sealed_audio_bytes(journal: Path) -> int:
    """Bytes of audio in the journal's whole records on disk, from the record lengths (nothing is decrypted)."""
    from tbdesktop.services.recording.journal import RECORD_HEAD, TAG, JournalHeader, Kind

    data = journal.read_bytes()
    offset, total = JournalHeader.read(journal).size, 0
    while offset + RECORD_HEAD.size <= len(data):
        length, kind = RECORD_HEAD.unpack_from(data, offset)
        offset += RECORD_HEAD.size + length
        if offset <= len(data) and kind == Kind.AUDIO:
            total += length - TAG
    return total


def recorded_audio(ctx: AppContext, user: Any, session_id: Any) -> tuple[np.ndarray[Any, Any], int]:
    """The session's stored recording, decrypted and decoded: (frames × channels int16, sample rate)."""
    import av

    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        name, key = str(row.recording_path), row.recording_key
    assert key, "the recording is not encrypted"
    with ctx.recordings.plaintext(name, key, user.id) as plain, av.open(str(plain)) as container:
        stream = container.streams.audio[0]
        channels, rate = stream.codec_context.channels, stream.codec_context.sample_rate
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
    return np.concatenate(frames).reshape(-1, channels), rate


def make_service(ctx: AppContext, user: Any, *devices: FakeDevice) -> tuple[RecordingService, FakeBackend]:
    backend = FakeBackend(list(devices))
    return RecordingService(ctx, user, backend), backend


# -- devices ------------------------------------------------------------------------------------------------


def test_devices_are_listed_chosen_and_remembered(ctx: AppContext, therapist: Any, source: Any) -> None:
    stereo = np.repeat(source, 2, axis=1)
    service, backend = make_service(
        ctx, therapist, FakeDevice("Built-in Microphone", source), FakeDevice("Two-mic interface", stereo)
    )
    listed = service.list_devices_sync()
    assert [(d.name, d.channels, d.is_default) for d in listed] == [
        ("Built-in Microphone", 1, True),
        ("Two-mic interface", 2, False),
    ]
    assert service.remembered_device_sync() is None

    with pytest.raises(NoInputDeviceError, match="'Headset' is not connected.*'Built-in Microphone'"):
        service.recorder(RecordingParams(device="Headset")).start()

    recorder = service.recorder(RecordingParams(device="two-mic", stop_after_s=0.5))  # a unique part of a name
    status = recorder.start()
    assert status.device == "Two-mic interface" and status.channels == 2 and status.sample_rate == RATE
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    recorder.discard()
    assert service.remembered_device_sync() == "Two-mic interface"

    by_default = service.recorder(RecordingParams(stop_after_s=0.5))  # the remembered one, not the default
    assert by_default.start().device == "Two-mic interface"
    by_default.discard()
    by_index = service.recorder(RecordingParams(device=0, stop_after_s=0.5))
    assert by_index.start().device == "Built-in Microphone"
    by_index.discard()

    for d in backend.devices:
        d.present = False
    with pytest.raises(NoInputDeviceError, match="No microphone or other input device was found"):
        service.recorder(RecordingParams()).start()
    assert not any(service.in_progress_dir.iterdir()), "a refused start keeps nothing"


# -- the stream path --------------------------------------------------------------------------------------------


def test_levels_elapsed_and_stop_make_a_session(ctx: AppContext, therapist: Any, source: Any) -> None:
    service, _ = make_service(ctx, therapist, FakeDevice("Room mic", source))
    events = Events()
    recorder = service.recorder(
        RecordingParams(client_name="Jordan Example", consent_method="verbal", stop_after_s=6.0), events
    )
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    assert recorder.elapsed_s == pytest.approx(6.0)
    info = recorder.save_sync()

    assert [s.state for s in events.states] == ["recording", "stopped", "saved"]
    assert events.threads == {"tb-recorder"}, "observers are called on the recorder's thread"
    assert events.elapsed_s == sorted(events.elapsed_s) and events.elapsed_s[-1] == pytest.approx(6.0)
    assert len(events.levels) >= 6 / 0.05 - 1
    quiet = [r.rms_dbfs for r in events.levels if r.elapsed_s <= 0.2]
    speech = [r.rms_dbfs for r in events.levels if r.elapsed_s > 1.0]
    assert max(speech) > -40 and all(-120.0 <= r.rms_dbfs <= r.peak_dbfs <= 0.0 for r in events.levels)
    assert min(quiet) < max(speech) - 20

    assert info.status == "queued" and info.client_name == "Jordan Example" and info.consent_method == "verbal"
    assert info.duration_mins == pytest.approx(0.1, abs=0.001)
    audio, rate = recorded_audio(ctx, therapist, info.id)
    assert rate == RATE and audio.shape == (6 * SECOND, 1)
    assert np.array_equal(audio, source[: 6 * SECOND]), "the session holds exactly what was captured"
    assert list(service.in_progress_dir.iterdir()) == [], "the journal is removed once the session exists"
    assert service.find_interrupted_sync() == []


def test_consent_gate_applies_to_a_recording_without_consent(ctx: AppContext, therapist: Any, source: Any) -> None:
    service, _ = make_service(ctx, therapist, FakeDevice("Room mic", source))
    recorder = service.recorder(RecordingParams(stop_after_s=1.0))
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    info = recorder.save_sync()
    assert info.stage_detail == AWAITING_CONSENT and info.consent_method is None


def test_pause_and_resume_boundaries(ctx: AppContext, therapist: Any, source: Any) -> None:
    device = FakeDevice("Room mic", source)
    device.hold()
    service, _ = make_service(ctx, therapist, device)
    events = Events()
    recorder = service.recorder(RecordingParams(consent_method="verbal"), events)
    recorder.start()

    device.allow(2 * SECOND)
    wait_until(lambda: recorder.elapsed_s >= 2.0)
    paused = recorder.pause()
    assert paused.state is RecorderState.PAUSED and paused.elapsed_s == pytest.approx(2.0)
    levels_before = len(events.levels)
    device.allow(3 * SECOND)  # three seconds said while paused: measured, not kept
    device.wait_fed(5 * SECOND)
    wait_until(lambda: recorder.backlog == 0 and len(events.levels) >= levels_before + 60)
    assert recorder.elapsed_s == pytest.approx(2.0), "paused time is not counted"
    assert all(r.paused for r in events.levels[levels_before:])

    recorder.resume()
    device.allow(4 * SECOND)
    wait_until(lambda: recorder.elapsed_s >= 6.0)
    status = recorder.stop()
    assert status.elapsed_s == pytest.approx(6.0)
    info = recorder.save_sync()
    assert [s.state for s in events.states] == ["recording", "paused", "recording", "stopped", "saved"]

    audio, _ = recorded_audio(ctx, therapist, info.id)
    expected = np.concatenate([source[: 2 * SECOND], source[5 * SECOND : 9 * SECOND]])
    assert np.array_equal(audio, expected), "the audio excludes exactly the paused part"


def test_an_overflow_is_counted_and_marked_so_timing_stays_right(ctx: AppContext, therapist: Any, source: Any) -> None:
    device = FakeDevice("Room mic", source)
    device.overflow_at = {2 * SECOND: SECOND // 4}  # a quarter second lost after two seconds
    service, _ = make_service(ctx, therapist, device)
    events = Events()
    recorder = service.recorder(RecordingParams(consent_method="verbal", stop_after_s=5.0), events)
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    status = recorder.status()
    assert status.overflows == 1 and status.gap_s == pytest.approx(0.25)
    assert [p.kind for p in events.problems] == ["overflow"] and events.problems[0].recoverable
    info = recorder.save_sync()

    audio, _ = recorded_audio(ctx, therapist, info.id)
    gap = slice(2 * SECOND, 2 * SECOND + SECOND // 4)
    expected = source[: 5 * SECOND].copy()
    expected[gap] = 0
    assert len(audio) == 5 * SECOND
    assert np.array_equal(audio, expected), "silence fills the gap and what follows stays at its time"


def test_device_lost_mid_recording_then_resumed_on_another_device(ctx: AppContext, therapist: Any, source: Any) -> None:
    usb = FakeDevice("USB microphone", source)
    usb.vanish_at = 2 * SECOND
    other = source[::-1].copy()
    builtin = FakeDevice("Built-in Microphone", other)
    service, _ = make_service(ctx, therapist, usb, builtin)
    events = Events()
    recorder = service.recorder(RecordingParams(device="USB microphone", consent_method="verbal"), events)
    recorder.start()

    # The state changes before the writer thread reports the problem to its listeners: wait for both.
    wait_until(lambda: recorder.state is RecorderState.DEVICE_LOST and bool(events.problems))
    lost = recorder.status()
    assert lost.elapsed_s == pytest.approx(2.0), "everything recorded before the loss is kept"
    assert lost.problem is not None and lost.problem.kind == "device_lost" and "USB microphone" in lost.problem.message
    assert [p.kind for p in events.problems] == ["device_lost"]
    with pytest.raises(TBError, match="'USB microphone' is not connected"):
        recorder.resume()  # the same device is still gone

    builtin.hold()
    recorder.resume(device="Built-in Microphone")
    builtin.allow(3 * SECOND)
    wait_until(lambda: recorder.elapsed_s >= 5.0)
    recorder.stop()
    info = recorder.save_sync()
    assert [s.state for s in events.states] == ["recording", "device_lost", "recording", "stopped", "saved"]
    audio, _ = recorded_audio(ctx, therapist, info.id)
    assert np.array_equal(audio, np.concatenate([source[: 2 * SECOND], other[: 3 * SECOND]]))


def test_a_device_that_goes_silent_is_noticed(
    ctx: AppContext, therapist: Any, source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "STALL_S", 0.5)
    device = FakeDevice("USB microphone", source)
    device.vanish_at, device.vanish_mode = SECOND, "stall"  # no error, no more callbacks
    service, _ = make_service(ctx, therapist, device)
    recorder = service.recorder(RecordingParams(consent_method="verbal"))
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.DEVICE_LOST, timeout=10)
    assert recorder.elapsed_s == pytest.approx(1.0)
    info = recorder.save_sync()  # stop → the second recorded so far becomes a session
    assert info.duration_mins == pytest.approx(1 / 60, abs=0.005)  # stored to the hundredth of a minute


def test_two_channel_device_is_kept_and_marked(ctx: AppContext, therapist: Any, source: Any) -> None:
    stereo = np.concatenate([source, source[::-1] // 2], axis=1)
    service, _ = make_service(ctx, therapist, FakeDevice("Two-mic interface", stereo))
    recorder = service.recorder(RecordingParams(consent_method="verbal", stop_after_s=2.0))
    assert recorder.start().channels == 2
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    info = recorder.save_sync()
    from tbdesktop.store.models import TherapySession

    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        assert row.speakers[CAPTURE_KEY] == {"channels": 2, "layout": "channel_per_speaker", "sample_rate": RATE}
    assert CAPTURE_KEY not in SessionService(ctx, therapist).get_sync(info.id).speakers  # never shown as a voice
    audio, _ = recorded_audio(ctx, therapist, info.id)
    assert np.array_equal(audio, stereo[: 2 * SECOND]), "each microphone keeps its own channel"


def test_a_one_channel_device_takes_over_a_two_channel_recording(ctx: AppContext, therapist: Any, source: Any) -> None:
    stereo = np.concatenate([source, source[::-1] // 2], axis=1)
    interface = FakeDevice("Two-mic interface", stereo)
    interface.vanish_at = SECOND
    service, _ = make_service(ctx, therapist, interface, FakeDevice("Built-in Microphone", source))
    recorder = service.recorder(RecordingParams(device="Two-mic interface", consent_method="verbal", stop_after_s=2.0))
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.DEVICE_LOST)
    recorder.resume(device="Built-in Microphone")
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    info = recorder.save_sync()
    audio, _ = recorded_audio(ctx, therapist, info.id)
    assert audio.shape == (2 * SECOND, 2)
    assert np.array_equal(audio[:SECOND], stereo[:SECOND])
    assert np.array_equal(audio[SECOND:], np.repeat(source[:SECOND], 2, axis=1)), "one microphone fills both"


def test_the_journal_on_disk_is_encrypted(ctx: AppContext, therapist: Any, source: Any) -> None:
    device = FakeDevice("Room mic", source)
    device.hold()
    service, _ = make_service(ctx, therapist, device)
    recorder = service.recorder(RecordingParams(client_name="Jordan Example", consent_method="verbal"))
    recorder.start()
    device.allow(8 * SECOND)
    wait_until(lambda: recorder.elapsed_s >= 8.0)
    journal = recorder.journal_path
    assert journal is not None and journal.parent == ctx.settings.recordings_dir / "in-progress"
    pcm = source[: 8 * SECOND].tobytes()
    wait_until(lambda: sealed_audio_bytes(journal) >= len(pcm))  # the last record is on disk too
    content = journal.read_bytes()
    pieces = [pcm[i : i + 32] for i in range(0, len(pcm) - 32, 1999) if len(set(pcm[i : i + 32])) >= 16]
    assert len(pieces) > 20
    assert not any(piece in content for piece in pieces), "no sample of the captured audio is in the journal"
    assert b"Jordan" not in content, "the client's name is sealed too"
    assert len(content) >= len(pcm), "and all of it is already on disk"
    assert oct(journal.stat().st_mode & 0o777) == "0o600"
    recorder.discard()
    assert not journal.exists()


def test_three_hours_within_bounded_memory(ctx: AppContext, therapist: Any, artifacts_dir: Path) -> None:
    """Three hours of generated audio fed as fast as the writer takes it: memory stays flat."""
    hours = 3
    total = hours * 3600 * RATE
    tone = (np.sin(np.arange(RATE) * 2 * np.pi * 220 / RATE) * 8000).astype("<i2")

    def generate(start: int, n: int) -> np.ndarray[Any, Any]:
        idx = (np.arange(start, start + n) % RATE).astype(np.int64)
        noise = ((np.arange(start, start + n) * 2654435761) % 2001 - 1000).astype(np.int64)
        return (tone[idx] + noise).astype("<i2").reshape(-1, 1)

    device = FakeDevice("Room mic", generate, total=total, block_frames=RATE // 2)
    service, _ = make_service(ctx, therapist, device)
    recorder = service.recorder(RecordingParams(consent_method="verbal", stop_after_s=hours * 3600.0))

    def throttle() -> None:  # PortAudio would not outrun the writer: give it back-pressure instead of losses
        while recorder.backlog > 8:
            time.sleep(0.001)  # a blocked device thread, as PortAudio's would be; nothing is asserted on it

    device.throttle = throttle
    rss: list[int] = []
    done = threading.Event()

    def sample_rss() -> None:
        while not done.is_set():
            rss.append(_rss_bytes())
            time.sleep(0.05)  # the sampling interval of the memory curve, not a wait

    sampler = threading.Thread(target=sample_rss, daemon=True)
    baseline = _rss_bytes()
    tracemalloc.start()
    sampler.start()
    started = time.monotonic()
    try:
        recorder.start()
        wait_until(lambda: recorder.state is RecorderState.STOPPED, timeout=600)
        recorder.stop()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    journal = recorder.journal_path
    assert journal is not None
    status = recorder.status()
    assert status.elapsed_s == pytest.approx(hours * 3600.0) and status.gap_s == 0
    assert journal.stat().st_size > total * 2, "every frame is in the journal"
    growth = max(rss) - baseline
    report = f"3 h capture: {seconds:.1f} s, tracemalloc peak {peak / 1e6:.1f} MB, RSS growth {growth / 1e6:.1f} MB"
    sys.stderr.write(report + "\n")
    (artifacts_dir / "recording-3h-memory.txt").write_text(report + "\n")
    assert peak < 32e6, report
    assert growth < 64e6, report

    # Saving streams too: journal → FLAC in scratch storage → encrypted recording, one record at a time.
    rss.clear()
    done.clear()
    sampler = threading.Thread(target=sample_rss, daemon=True)
    baseline = _rss_bytes()
    sampler.start()
    started = time.monotonic()
    try:
        info = recorder.save_sync()
    finally:
        done.set()
        sampler.join()
    saving = f"3 h save: {time.monotonic() - started:.1f} s, RSS growth {(max(rss) - baseline) / 1e6:.1f} MB"
    sys.stderr.write(saving + "\n")
    with (artifacts_dir / "recording-3h-memory.txt").open("a") as f:
        f.write(saving + "\n")
    assert info.duration_mins == pytest.approx(hours * 60.0, abs=0.01)
    assert max(rss) - baseline < 96e6, saving


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- crash recovery ----------------------------------------------------------------------------------------------


PASSCODE = "recorder-passcode-1"

RECORD_IN_CHILD = """
import sys, time
from pathlib import Path
sys.path[:0] = [{tests!r}, str(Path({tests!r}).parent)]  # test_recording and the helpers it imports
from test_recording import FakeBackend, FakeDevice, load_wav
from tbdesktop.config import Settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording import RecordingParams, RecordingService

import uuid
ctx = AppContext.open(
    Settings(data_dir=Path({data!r}), secrets_dir=Path({secrets!r}), secret_store="file"),
    credentials=lambda profiles: (uuid.UUID({user!r}), {passcode!r}),
)
user = ProfileService(ctx).get_sync({user!r})
ctx.secrets.unlock(user.id, {passcode!r})
device = FakeDevice("Room mic", load_wav(Path({wav!r})), realtime=1.0, counter_file=Path({counter!r}))
service = RecordingService(ctx, user, FakeBackend([device]))
recorder = service.recorder(RecordingParams(client_name="Jordan Example", consent_method="verbal"))
recorder.start()
print("recording", flush=True)
time.sleep(120)  # recording until the test kills this process
"""


def test_a_killed_recording_is_recovered_up_to_the_last_second(
    make_settings: Any, two_speaker: Any, source: Any, tmp_path: Path
) -> None:
    from tbdesktop.services.profiles import ProfileService

    settings = make_settings(secret_store="file")
    ctx = AppContext.open(settings)
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode=PASSCODE)
        ctx.secrets.unlock(user.id, PASSCODE)
        counter = tmp_path / "fed"
        script = RECORD_IN_CHILD.format(
            tests=str(TESTS_DIR), data=str(settings.data_dir), secrets=str(settings.secrets_dir), user=str(user.id),
            passcode=PASSCODE, wav=str(two_speaker[0]), counter=str(counter),
        )  # fmt: skip
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, text=True
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "recording", child.stderr
            kill_at = 4 * SECOND + 7000  # just before a record is sealed (every half second): near the worst case
            wait_until(lambda: counter.is_file() and _fed(counter) >= kill_at, timeout=60)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            child.stdout.close() if child.stdout else None
            child.stderr.close() if child.stderr else None
        assert child.returncode == -signal.SIGKILL
        fed = _fed(counter)

        service = RecordingService(ctx, user, FakeBackend([]))
        found = service.find_interrupted_sync()
        assert len(found) == 1
        interrupted = found[0]
        assert interrupted.client_name == "Jordan Example" and interrupted.consent_method == "verbal"
        assert fed / RATE - 1.0 <= interrupted.duration_s <= fed / RATE
        info = service.recover_sync(interrupted.id)
        audio, _ = recorded_audio(ctx, user, info.id)
        loss_s = (fed - len(audio)) / RATE
        sys.stderr.write(
            f"kill recovery: fed {fed / RATE:.3f} s, recovered {len(audio) / RATE:.3f} s, lost {loss_s:.3f} s\n"
        )
        assert 0 <= loss_s <= 1.0, loss_s
        assert np.array_equal(audio, source[: len(audio)]), "the recovered audio is the captured audio"
        assert info.client_name == "Jordan Example" and info.status == "queued"
        assert service.find_interrupted_sync() == [] and list(service.in_progress_dir.iterdir()) == []
    finally:
        ctx.close()


def _fed(counter: Path) -> int:
    data = counter.read_bytes()
    return struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else 0


def test_a_torn_journal_is_repaired_and_a_discarded_one_is_gone(ctx: AppContext, therapist: Any, source: Any) -> None:
    service, _ = make_service(ctx, therapist, FakeDevice("Room mic", source))
    recorder = service.recorder(RecordingParams(client_name="Jordan Example", stop_after_s=3.0))
    recorder.start()
    wait_until(lambda: recorder.state is RecorderState.STOPPED)
    recorder.close()  # as if the window had been closed: the journal stays, unclaimed
    journal = recorder.journal_path
    assert journal is not None
    whole = journal.stat().st_size
    with journal.open("ab") as f:
        f.write(struct.pack(">IB", 4000, 1) + os.urandom(1500))  # a record cut short by a power cut

    found = service.find_interrupted_sync()
    assert [(r.duration_s, r.client_name) for r in found] == [(3.0, "Jordan Example")]
    info = service.recover_sync(found[0].id, consent_method="written")
    assert info.consent_method == "written" and info.status == "queued"
    audio, _ = recorded_audio(ctx, therapist, info.id)
    assert np.array_equal(audio, source[: 3 * SECOND])
    assert not journal.exists() and whole > 0

    service, _ = make_service(ctx, therapist, FakeDevice("Room mic", source))
    second = service.recorder(RecordingParams(stop_after_s=1.0))
    second.start()
    wait_until(lambda: second.state is RecorderState.STOPPED)
    second.close()
    (pending,) = service.find_interrupted_sync()
    with pytest.raises(TBError, match="does not exist"):
        service.discard_sync("0" * 32)
    service.discard_sync(pending.id)
    assert service.find_interrupted_sync() == []
    assert list(service.in_progress_dir.iterdir()) == []


def test_a_recording_in_progress_is_not_offered_for_recovery(ctx: AppContext, therapist: Any, source: Any) -> None:
    device = FakeDevice("Room mic", source)
    device.hold()
    service, _ = make_service(ctx, therapist, device)
    recorder = service.recorder(RecordingParams())
    recorder.start()
    device.allow(SECOND)
    wait_until(lambda: recorder.elapsed_s >= 1.0)
    assert service.find_interrupted_sync() == []
    journal_id = recorder.journal_id
    assert journal_id is not None
    with pytest.raises(TBError, match="still being recorded"):
        service.recover_sync(journal_id)
    recorder.discard()


# -- a real capture: PulseAudio null sink → ALSA pulse device → sounddevice → the real pipeline ---------------


@pytest.mark.slow
def test_real_capture_through_pulseaudio_is_transcribed(
    pulse_null_sink: dict[str, str],
    ctx: AppContext,
    therapist: Any,
    two_speaker: Any,
    model_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tbdesktop.services.processing import ProcessingRunner

    wav, _, keywords = two_speaker
    for key, value in pulse_null_sink.items():
        monkeypatch.setenv(key, value)
    service = RecordingService(ctx, therapist)  # sounddevice itself
    names = [d.name for d in service.list_devices_sync(rescan=True)]
    assert "pulse" in names, names
    events = Events()
    recorder = service.recorder(RecordingParams(device="pulse", client_name="Alex", consent_method="verbal"), events)
    status = recorder.start()
    assert status.device == "pulse" and status.channels == 1
    wait_until(lambda: recorder.elapsed_s > 0.2)  # PulseAudio takes a moment to start a stream
    played = subprocess.run(
        ["paplay", "--device=virt", str(wav)], env=dict(os.environ), capture_output=True, timeout=120
    )
    assert played.returncode == 0, played.stderr
    played_at = recorder.elapsed_s
    wait_until(lambda: recorder.elapsed_s >= played_at + 0.5)  # the tail still in the sound server's buffers
    recorder.stop()
    assert recorder.elapsed_s > 20 and events.levels and max(r.rms_dbfs for r in events.levels) > -40
    info = recorder.save_sync()

    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])

    async def process() -> None:
        try:
            await runner.wait_for_session(info.id)
        finally:
            await runner.stop()

    asyncio.run(process())
    sessions = SessionService(ctx, therapist)
    done = sessions.get_sync(info.id)
    assert done.status == "completed", done.error
    said = " ".join(s.text for s in sessions.transcript_sync(info.id)).lower()
    found = [k for k in keywords if k in said]
    assert len(found) >= len(keywords) * 0.7, (found, said)
