"""From journal to recording: the journal's audio, gaps filled with silence, encoded as FLAC in memory-backed
scratch storage (never the data folder), then stored encrypted by the import path."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tbdesktop.errors import ValidationError
from tbdesktop.services.recording.journal import JournalHeader, Kind
from tbdesktop.services.recording.reader import ReadStats, read_records

log = logging.getLogger(__name__)

FLAC_RATIO = 0.75  # room to ask of the scratch storage, as a share of the PCM size


class NothingRecordedError(ValidationError):
    """A journal with no audio in it: no session is made from it."""


@dataclass
class Decoded:
    """What a journal held: its length, the latest details, and what was found damaged."""

    frames: int = 0
    gap_frames: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)


def _layout(channels: int) -> str:
    return "stereo" if channels == 2 else "mono"


def encode_flac(path: Path, header: JournalHeader, data_key: bytes, dest: Path) -> Decoded:
    """Streams the journal's records into a FLAC file at ``dest`` (one record in memory at a time)."""
    import av

    result = Decoded()
    layout = _layout(header.channels)
    rate = header.sample_rate
    silence_block = int(rate * 0.5)
    with av.open(str(dest), "w", format="flac") as container:
        stream: Any = container.add_stream("flac", rate=rate, layout=layout)
        stream.format = "s16"

        def write(samples: np.ndarray[Any, Any]) -> None:
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
            frame.sample_rate = rate
            frame.pts = result.frames
            result.frames += len(samples) // header.channels
            for packet in stream.encode(frame):
                container.mux(packet)

        for record in read_records(path, header, data_key, result.stats):
            if record.kind == Kind.AUDIO:
                usable = len(record.payload) - len(record.payload) % header.frame_bytes
                if usable:
                    write(np.frombuffer(record.payload[:usable], dtype="<i2"))
            elif record.kind == Kind.GAP:
                frames, _reason = record.gap()
                result.gap_frames += frames
                while frames > 0:
                    n = min(frames, silence_block)
                    write(np.zeros(n * header.channels, dtype="<i2"))
                    frames -= n
            elif record.kind == Kind.DETAILS:
                result.details = record.json()
            elif record.kind == Kind.EVENT:
                if len(result.events) < 1000:
                    result.events.append(record.json())
        for packet in stream.encode(None):
            container.mux(packet)
    return result


@contextmanager
def scratch_file(needed_bytes: int, suffix: str) -> Iterator[Path]:
    """A private file on memory-backed storage (where there is room), removed when the block ends; left behind
    by a crash, ``remove_stale_plaintext`` removes it at the next start."""
    from tbdesktop.services.recording_vault import scratch_dir

    folder = scratch_dir(needed_bytes)
    fd, name = tempfile.mkstemp(prefix="rec-", suffix=suffix, dir=folder)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("scratch recording not removed", extra={"error_type": type(exc).__name__})


def pcm_bytes(journal_size: int) -> int:
    return int(journal_size * FLAC_RATIO)
