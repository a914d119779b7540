"""Live recording: input devices, the recorder (level, elapsed time, pause, device errors), the encrypted
crash-safe journal, and recovery of what a crash left behind. No Qt here: the recorder panel observes it."""

from tbdesktop.services.recording.devices import (
    AudioBackend,
    CaptureFormat,
    InputDevice,
    NoInputDeviceError,
    SoundDeviceBackend,
)
from tbdesktop.services.recording.events import (
    DeviceProblem,
    LevelReading,
    RecorderObserver,
    RecorderState,
    RecorderStatus,
    RecordingParams,
)
from tbdesktop.services.recording.finalize import NothingRecordedError
from tbdesktop.services.recording.recorder import Recorder
from tbdesktop.services.recording.service import InterruptedRecording, RecordingService
from tbdesktop.store.models import CAPTURE_KEY

__all__ = [
    "CAPTURE_KEY",
    "AudioBackend",
    "CaptureFormat",
    "DeviceProblem",
    "InputDevice",
    "InterruptedRecording",
    "LevelReading",
    "NoInputDeviceError",
    "NothingRecordedError",
    "Recorder",
    "RecorderObserver",
    "RecorderState",
    "RecorderStatus",
    "RecordingParams",
    "RecordingService",
    "SoundDeviceBackend",
]
