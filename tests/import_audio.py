"""Small real recordings for the import tests: distinct tones (distinct content, so no two are duplicates), in a
WAV file or in an M4A whose container carries a creation_time tag, as phones and recorders write it."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 16000


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_tone(path: Path, freq: float, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (tone(freq, seconds) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(samples.tobytes())
    return path


def write_m4a(path: Path, freq: float, creation_time: str, seconds: float = 1.0) -> Path:
    """An AAC recording in an MP4 container tagged ``creation_time`` (ISO 8601, UTC)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        container.metadata["creation_time"] = creation_time
        stream = container.add_stream("aac", rate=RATE)
        stream.layout = "mono"
        samples = tone(freq, seconds)
        frame_size = 1024
        for start in range(0, len(samples), frame_size):
            chunk = samples[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_not_audio(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"This is a text file with an audio name, not a recording.\n" * 20)
    return path
