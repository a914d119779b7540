"""What the recorder dialog shows of a recording: its words, clock and meter scale, and the relay that brings the
recorder's thread-side callbacks onto the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tbdesktop.services.recording import DeviceProblem, LevelReading, RecorderObserver, RecorderState, RecorderStatus

METER_FLOOR_DBFS = -60.0
CONSENT_CHOICES = (("verbal", "Verbal consent"), ("written", "Written consent"), ("electronic", "Electronic consent"))
SESSION_TYPES = (("individual", "Individual"), ("couples", "Couples"), ("family", "Family"), ("group", "Group"))
STATE_WORDS = {
    RecorderState.IDLE: "Ready to record",
    RecorderState.RECORDING: "Recording",
    RecorderState.PAUSED: "Paused — nothing is kept until you resume",
    RecorderState.DEVICE_LOST: "The microphone stopped — resume on it or another one, or stop",
    RecorderState.STOPPED: "Stopped — save it as a session, or discard it",
    RecorderState.SAVED: "Saved as a session",
    RecorderState.DISCARDED: "Discarded",
}


def clock(seconds: float) -> str:
    total = int(max(0.0, seconds))
    return f"{total // 3600:d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def meter_value(dbfs: float) -> int:
    """0–100 for the meter: -60 dBFS (and quieter) is empty, 0 dBFS full."""
    return int(round(100.0 * (min(0.0, max(METER_FLOOR_DBFS, dbfs)) - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))


class RecorderRelay(QObject, RecorderObserver):
    """The recorder calls observers on its own threads; these signals deliver on the GUI thread."""

    levelRead = Signal(LevelReading)
    elapsedChanged = Signal(float)
    stateChanged = Signal(RecorderStatus)
    problemRaised = Signal(DeviceProblem)

    def level(self, reading: LevelReading) -> None:
        self.levelRead.emit(reading)

    def elapsed(self, seconds: float) -> None:
        self.elapsedChanged.emit(seconds)

    def state_changed(self, status: RecorderStatus) -> None:
        self.stateChanged.emit(status)

    def device_error(self, problem: DeviceProblem) -> None:
        self.problemRaised.emit(problem)
