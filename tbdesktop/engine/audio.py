"""Probe and decode recordings with PyAV: strict validation, 16 kHz mono float32 output."""

from __future__ import annotations

import logging
import re
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled, EngineError
from tbdesktop.engine.types import AudioInfo, CancelCheck

log = logging.getLogger(__name__)

MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 32
TARGET_SAMPLE_RATE = 16000

# Demuxers that reference other files or URLs; a recording must be self-contained.
_REFERENCING_FORMATS = frozenset({"hls", "applehttp", "concat", "ffconcat", "image2", "tee", "lavfi", "dash"})
# Raw elementary streams whose header duration is only a bitrate estimate.
_ESTIMATED_DURATION_FORMATS = frozenset({"mp3", "aac", "ac3", "eac3", "adts"})
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

TARGET_RMS = 0.1  # about -20 dBFS, a comfortable level for the speech models
MAX_GAIN = 10.0  # at most +20 dB so room noise is not blown up
SILENCE_RMS = 1e-3  # about -60 dBFS: treat as silence and leave untouched
PEAK_CEILING = 0.99


def probe(path: Path, *, max_duration_s: float | None = None, timeout_s: float = 120) -> AudioInfo:
    """Validate ``path`` as a local, fully decodable audio recording and describe it.

    The returned duration is the one measured by decoding every audio frame, not the header's claim.
    """
    path = _local_file(path)
    started = time.monotonic()
    with _open_container(path) as container:
        stream = _audio_stream(container)
        channels, sample_rate, header_duration = _check_stream(container, stream, max_duration_s)
        container_name = str(container.format.name)
        codec_name = str(stream.codec_context.name)

        decoded = [0.0]
        for _frame in _frames(container, stream, started, timeout_s, max_duration_s, None, decoded, "Checking"):
            pass
        decoded_s = decoded[0]

    if decoded_s <= 0:
        raise AudioDecodeError("The recording contains no audio.")
    _check_complete(path, container_name, header_duration, decoded_s)

    log.debug(
        "probed audio",
        extra={"duration_s": round(decoded_s, 3), "codec": codec_name, "container": container_name},
    )
    return AudioInfo(
        duration_s=decoded_s,
        channels=channels,
        sample_rate=sample_rate,
        codec=codec_name,
        container=container_name,
    )


def load(
    path: Path,
    *,
    sample_rate: int = TARGET_SAMPLE_RATE,
    max_duration_s: float | None = None,
    timeout_s: float = 600,
    normalize: bool = True,
    should_cancel: CancelCheck | None = None,
) -> tuple[AudioInfo, npt.NDArray[np.float32]]:
    """Validate and decode in one pass: mono float32 at ``sample_rate`` (16 kHz), loudness-normalised.

    The same checks as ``probe`` (channels, sample rate, length limit, damage, truncation), under a
    wall-clock limit, holding one growing buffer of the output and never the decoded source.
    """
    import av

    path = _local_file(path)
    started = time.monotonic()
    with _open_container(path) as container:
        stream = _audio_stream(container)
        channels, source_rate, header_duration = _check_stream(container, stream, max_duration_s)
        container_name = str(container.format.name)
        codec_name = str(stream.codec_context.name)
        buffer = _GrowableBuffer(int((header_duration or 60.0) * sample_rate * 1.02) + sample_rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        frames = _frames(container, stream, started, timeout_s, max_duration_s, should_cancel, [0.0], "Reading")
        for frame in _flush_marker(frames):
            for out in resampler.resample(frame):
                buffer.append(out.to_ndarray().reshape(-1))

    audio = buffer.result()
    if audio.size == 0:
        raise AudioDecodeError("The recording contains no audio.")
    decoded_s = audio.size / sample_rate
    _check_complete(path, container_name, header_duration, decoded_s)
    if normalize:
        normalize_loudness(audio)
    info = AudioInfo(
        duration_s=decoded_s,
        channels=channels,
        sample_rate=source_rate,
        codec=codec_name,
        container=container_name,
    )
    return info, audio


def _frames(
    container: Any,
    stream: Any,
    started: float,
    timeout_s: float,
    max_duration_s: float | None,
    should_cancel: CancelCheck | None,
    decoded: list[float],
    verb: str,
) -> Iterator[Any]:
    """Every decoded frame, under the wall-clock and length limits; ``decoded[0]`` counts the seconds."""
    try:
        for index, frame in enumerate(container.decode(stream)):
            decoded[0] += frame.samples / int(frame.sample_rate or stream.codec_context.sample_rate)
            if index % 64 == 0:
                if should_cancel is not None and should_cancel():
                    raise Cancelled()
                if time.monotonic() - started > timeout_s:
                    raise AudioDecodeError(
                        f"{verb} the recording took longer than {timeout_s:.0f} seconds, so it was stopped."
                    )
            if max_duration_s is not None and decoded[0] > max_duration_s:
                raise AudioTooLongError(decoded[0], max_duration_s)
            yield frame
    except EngineError:
        raise
    except Exception as exc:
        log.info("audio decode failed", extra={"error_type": type(exc).__name__})
        raise AudioDecodeError("The recording is damaged and could not be decoded completely.") from exc


def _flush_marker(frames: Iterator[Any]) -> Iterator[Any]:
    """The frames, then ``None``: the resampler's signal to flush what it holds."""
    yield from frames
    yield None


def _check_stream(container: Any, stream: Any, max_duration_s: float | None) -> tuple[int, int, float | None]:
    codec_ctx = stream.codec_context
    channels = int(codec_ctx.channels or 0)
    sample_rate = int(codec_ctx.sample_rate or 0)
    if channels == 0 or sample_rate == 0:  # nothing a decoder recognised: the bytes only looked like audio
        raise AudioDecodeError(NOT_AUDIO)
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioDecodeError(f"The recording has an unsupported number of audio channels ({channels}).")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(f"The recording has an unsupported sample rate ({sample_rate} Hz).")
    header_duration = _header_duration(container, stream)
    if max_duration_s is not None and header_duration is not None and header_duration > max_duration_s:
        raise AudioTooLongError(header_duration, max_duration_s)
    return channels, sample_rate, header_duration


def _check_complete(path: Path, container_name: str, header_duration: float | None, decoded_s: float) -> None:
    declared = _declared_wav_duration(path) if container_name == "wav" else None
    if declared is None and container_name not in _ESTIMATED_DURATION_FORMATS:
        declared = header_duration
    if declared is not None and declared - decoded_s > max(1.0, 0.05 * declared):
        raise AudioDecodeError(
            f"The recording is truncated or incomplete (only {decoded_s:.1f} s of the "
            f"{declared:.1f} s it declares could be read)."
        )


def decode(
    path: Path,
    sample_rate: int = TARGET_SAMPLE_RATE,
    *,
    normalize: bool = True,
    should_cancel: CancelCheck | None = None,
) -> npt.NDArray[np.float32]:
    """Decode the first audio stream of ``path`` to mono float32 at ``sample_rate``, loudness-normalised."""
    return load(path, sample_rate=sample_rate, normalize=normalize, should_cancel=should_cancel)[1]


def normalize_loudness(audio: npt.NDArray[np.float32]) -> float:
    """Scale ``audio`` in place towards a speech-friendly level; returns the gain applied.

    Gain is bounded by the peak (no clipping) and by ``MAX_GAIN``; near-silent audio is left alone so
    background hiss is not amplified into something a speech model would try to transcribe.
    """
    if audio.size == 0:
        return 1.0
    # In blocks, so an hour of audio never has a float64 (or even a float32) twin in memory.
    peak, squares = 0.0, 0.0
    for first in range(0, audio.size, _BLOCK):
        block = audio[first : first + _BLOCK]
        peak = max(peak, float(np.max(np.abs(block))))
        squares += float(np.dot(block.astype(np.float64), block.astype(np.float64)))
    rms = float(np.sqrt(squares / audio.size))
    if not np.isfinite(peak) or not np.isfinite(rms):
        np.nan_to_num(audio, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return normalize_loudness(audio)
    if rms < SILENCE_RMS or peak <= 0.0:
        return 1.0
    gain = min(TARGET_RMS / rms, PEAK_CEILING / peak, MAX_GAIN)
    if abs(gain - 1.0) > 1e-3:
        for first in range(0, audio.size, _BLOCK):
            audio[first : first + _BLOCK] *= np.float32(gain)
    return gain


_BLOCK = 1 << 20


class SampleFile:
    """Raw float32 samples in a file, read slice by slice: ``x[a:b]`` copies just that stretch.

    The engine workers read the coordinator's scratch audio this way, so a worker holds only the part it is
    working on, never the whole recording (a memory map would keep every page it touched resident).
    """

    dtype = np.dtype(np.float32)
    ndim = 1

    def __init__(self, path: Path, samples: int) -> None:
        self.path = Path(path)
        self.size = int(samples)
        self.shape = (self.size,)
        self._fh = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> npt.NDArray[np.float32]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("SampleFile supports contiguous slices only")
        start, stop, _ = key.indices(self.size)
        count = max(stop - start, 0)
        with self._lock:  # seek + read (os.pread is POSIX-only)
            self._fh.seek(start * 4)
            data = self._fh.read(count * 4)
        return np.frombuffer(data, dtype=np.float32).copy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        whole = self[0 : self.size]
        return whole if dtype is None else whole.astype(dtype)

    def close(self) -> None:
        self._fh.close()


class _GrowableBuffer:
    """A float32 buffer filled frame by frame; grows geometrically so there is no list of chunks to join."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1024), dtype=np.float32)
        self._size = 0

    def append(self, chunk: npt.NDArray[Any]) -> None:
        needed = self._size + chunk.size
        if needed > self._data.size:
            grown = np.empty(max(needed, int(self._data.size * 1.5)), dtype=np.float32)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : needed] = chunk
        self._size = needed

    @property
    def size(self) -> int:
        return self._size

    def result(self) -> npt.NDArray[np.float32]:
        if self._data.size - self._size > max(self._size // 4, 1 << 20):
            # Far too much spare capacity (the header lied): trim it with one copy.
            return self._data[: self._size].copy()
        # A little slack that was never written costs no memory (its pages are never touched).
        return self._data[: self._size]


NOT_AUDIO = "The file is not a recording this app can read: no audio could be decoded from it."
NO_PERMISSION = (
    "This app has no permission to read the file. Ask whoever manages it for access, or copy it to a folder of yours."
)
MEMORY_FILE_RE = re.compile(r"^/proc/\d+/fd/\d+$")


def _local_file(path: Path) -> Path:
    raw = str(path)
    if _URL_RE.match(raw) and not Path(raw).exists():
        raise AudioDecodeError("Only recordings stored on this computer can be imported.")
    path = Path(path).expanduser()
    if not path.exists():
        raise AudioDecodeError("The recording file could not be found.")
    if not path.is_file():
        raise AudioDecodeError("The selected item is not a file.")
    if path.stat().st_size == 0:
        raise AudioDecodeError("The recording file is empty.")
    try:
        with path.open("rb"):
            pass
    except PermissionError as exc:
        raise AudioDecodeError(NO_PERMISSION) from exc
    except OSError as exc:
        raise AudioDecodeError(f"The recording file could not be opened ({exc.strerror}).") from exc
    if MEMORY_FILE_RE.match(str(path)):
        return path  # a recording opened into memory (engine/scratch.MemoryFile): its link names no file
    return path.resolve()


@contextmanager
def _open_container(path: Path) -> Iterator[Any]:
    import av

    try:
        # The "file:" prefix plus the whitelist stop FFmpeg from treating the name as a URL or protocol.
        container = av.open(
            "file:" + str(path),
            mode="r",
            container_options={"protocol_whitelist": "file"},
            timeout=30.0,
        )
    except Exception as exc:
        log.info("audio open failed", extra={"error_type": type(exc).__name__})
        raise AudioDecodeError(NOT_AUDIO) from exc
    try:
        if str(container.format.name) in _REFERENCING_FORMATS:
            raise AudioDecodeError("Playlists and linked media are not supported; import the audio file.")
        yield container
    finally:
        container.close()


def _audio_stream(container: Any) -> Any:
    streams = list(container.streams.audio)
    if not streams:
        raise AudioDecodeError("The file has no audio track.")
    stream = streams[0]
    stream.thread_type = "AUTO"
    return stream


def _header_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        value = float(stream.duration * stream.time_base)
        if value > 0:
            return value
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    return None


def _declared_wav_duration(path: Path) -> float | None:
    """Duration a RIFF/WAVE header claims, read directly (FFmpeg clamps it to the file size)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate: int | None = None
            for _ in range(64):
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    if len(fmt) < 16:
                        return None
                    byte_rate = struct.unpack("<I", fmt[8:12])[0]
                elif chunk_id == b"data":
                    # 0 and 0xFFFFFFFF mark streaming writers that never filled the size in.
                    if byte_rate is None or byte_rate <= 0 or size in (0, 0xFFFFFFFF):
                        return None
                    return float(size) / float(byte_rate)
                else:
                    fh.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None
