"""What the recorder tells its observers (the recorder panel, the CLI progress line): plain data, no Qt."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date


class RecorderState(enum.StrEnum):
    IDLE = "idle"
    RECORDING = "recording"
    PAUSED = "paused"
    DEVICE_LOST = "device_lost"  # capture stopped by the device; resume (on it or another) or stop
    STOPPED = "stopped"  # capture over, journal complete; save() makes it a session
    SAVED = "saved"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class RecordingParams:
    device: str | int | None = None  # name or index; None: the profile's last device, else the default input
    client_name: str | None = None
    client_id: uuid.UUID | None = None
    session_date: date | None = None  # default: the day the recording starts
    session_type: str = "individual"
    consent_method: str | None = None  # None: the consent gate applies when the session is created
    sample_rate: int | None = None  # None: the device's own rate when usual, else 48 kHz
    channels: int | None = None  # None: 2 for a two-channel device (one microphone per person), else 1
    stop_after_s: float | None = None  # stop by itself after this much audio


@dataclass(frozen=True)
class LevelReading:
    """One block's level (dBFS: 0 is full scale); per channel too, for a meter per microphone."""

    rms_dbfs: float
    peak_dbfs: float
    channel_rms_dbfs: tuple[float, ...]
    channel_peak_dbfs: tuple[float, ...]
    elapsed_s: float
    clipping: bool
    paused: bool


@dataclass(frozen=True)
class DeviceProblem:
    """``kind``: overflow (samples lost, silence of the same length put in their place; recording goes on),
    device_lost (resume on it or another device, or stop), storage (data folder full or failing; stopped),
    limit (the longest recording accepted was reached; stopped)."""

    kind: str
    message: str
    elapsed_s: float
    recoverable: bool


@dataclass(frozen=True)
class RecorderStatus:
    state: RecorderState
    elapsed_s: float
    device: str | None
    sample_rate: int
    channels: int
    overflows: int
    gap_s: float
    journal_id: str | None
    problem: DeviceProblem | None = None


class RecorderObserver:
    """Override what you need. Never called on PortAudio's thread: on the recorder's writer thread, or on the
    thread that called start/pause/resume/stop/save (see ``recorder``)."""

    def level(self, reading: LevelReading) -> None:
        """Every block (about 20 a second), paused or not."""

    def elapsed(self, seconds: float) -> None:
        """Recorded time (paused time excluded) after every recorded block."""

    def state_changed(self, status: RecorderStatus) -> None:
        """Recording, paused, device lost, stopped, saved, discarded."""

    def device_error(self, problem: DeviceProblem) -> None:
        """An overflow, the device gone, storage failing, the time limit reached."""
