"""Input devices: listing them, picking one by name or index, and the capture format it can give.

The recorder talks to PortAudio through ``AudioBackend``; ``SoundDeviceBackend`` is sounddevice itself. Anything
with the same few calls (tests use a fake stream fed with real audio) can stand in for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tbdesktop.errors import TBError

log = logging.getLogger(__name__)

# The rates a device may keep natively; anything else is captured at 48 kHz (PortAudio or the host converts).
NATIVE_RATES = (16000, 22050, 24000, 32000, 44100, 48000)
FALLBACK_RATES = (48000, 44100, 16000)

StreamCallback = Callable[[Any, int, Any, Any], None]


class NoInputDeviceError(TBError):
    pass


class InputStreamLike(Protocol):
    """The part of ``sounddevice.InputStream`` the recorder uses."""

    @property
    def active(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


class AudioBackend(Protocol):
    """The part of sounddevice the recorder uses (``query_devices``, ``InputStream``, …)."""

    def query_devices(self) -> Sequence[dict[str, Any]]: ...

    def default_input(self) -> int | None: ...

    def hostapi_name(self, index: int) -> str: ...

    def check_input_settings(self, device: int, channels: int, samplerate: int) -> None: ...

    def open_input(
        self,
        *,
        device: int,
        channels: int,
        samplerate: int,
        blocksize: int,
        callback: StreamCallback,
        finished_callback: Callable[[], None],
    ) -> InputStreamLike: ...

    def rescan(self) -> bool: ...


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int  # the most input channels it offers
    default_samplerate: int
    hostapi: str
    is_default: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "channels": self.channels,
            "default_samplerate": self.default_samplerate,
            "hostapi": self.hostapi,
            "is_default": self.is_default,
        }


@dataclass(frozen=True)
class CaptureFormat:
    sample_rate: int
    channels: int  # 1, or 2 for a device with one microphone per person


class SoundDeviceBackend:
    """sounddevice (PortAudio), imported on first use so the app starts without it."""

    _open_streams = 0
    _guard = threading.Lock()

    @staticmethod
    def _sd() -> Any:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            raise TBError(
                "The audio library (PortAudio) is not available on this computer, so nothing can be recorded. "
                "Ask IT to install it (libportaudio2 on Debian and Ubuntu)."
            ) from exc
        return sounddevice

    def query_devices(self) -> Sequence[dict[str, Any]]:
        return [dict(d) for d in self._sd().query_devices()]

    def default_input(self) -> int | None:
        try:
            index = int(self._sd().default.device[0])
        except (TypeError, ValueError, IndexError):
            return None
        return index if index >= 0 else None

    def hostapi_name(self, index: int) -> str:
        try:
            return str(self._sd().query_hostapis(index)["name"])
        except Exception:  # a host API that went away: the name is only shown
            return ""

    def check_input_settings(self, device: int, channels: int, samplerate: int) -> None:
        self._sd().check_input_settings(device=device, channels=channels, samplerate=samplerate, dtype="int16")

    def open_input(
        self,
        *,
        device: int,
        channels: int,
        samplerate: int,
        blocksize: int,
        callback: StreamCallback,
        finished_callback: Callable[[], None],
    ) -> InputStreamLike:
        stream = self._sd().InputStream(
            device=device,
            channels=channels,
            samplerate=samplerate,
            blocksize=blocksize,
            dtype="int16",
            callback=callback,
            finished_callback=finished_callback,
        )
        with self._guard:
            SoundDeviceBackend._open_streams += 1
        return _CountedStream(stream, self._closed)

    def _closed(self) -> None:
        with self._guard:
            SoundDeviceBackend._open_streams = max(0, SoundDeviceBackend._open_streams - 1)

    def rescan(self) -> bool:
        """Looks for devices plugged in (or back) since PortAudio started; only while no stream is open."""
        sd = self._sd()
        with self._guard:
            if SoundDeviceBackend._open_streams:
                return False
            try:
                sd._terminate()
                sd._initialize()
            except Exception as exc:  # PortAudio refused to restart: keep the list it had
                log.warning("audio device rescan failed", extra={"error_type": type(exc).__name__})
                return False
        return True


class _CountedStream:
    """A sounddevice stream that tells the backend when it is closed (a rescan waits for none to be open)."""

    def __init__(self, inner: Any, on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close: Callable[[], None] | None = on_close

    @property
    def active(self) -> bool:
        return bool(self._inner.active)

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()

    def abort(self) -> None:
        self._inner.abort()

    def close(self) -> None:
        try:
            self._inner.close(ignore_errors=True)
        finally:
            done, self._on_close = self._on_close, None
            if done is not None:
                done()


def list_inputs(backend: AudioBackend) -> list[InputDevice]:
    default = backend.default_input()
    found: list[InputDevice] = []
    for position, d in enumerate(backend.query_devices()):
        channels = int(d.get("max_input_channels", 0) or 0)
        if channels <= 0:
            continue
        index = int(d.get("index", position))
        found.append(
            InputDevice(
                index=index,
                name=str(d.get("name", f"device {index}")),
                channels=channels,
                default_samplerate=int(float(d.get("default_samplerate", 48000) or 48000)),
                hostapi=backend.hostapi_name(int(d.get("hostapi", 0) or 0)),
                is_default=index == default,
            )
        )
    return found


def _match(devices: list[InputDevice], wanted: str | int) -> InputDevice | None:
    text = str(wanted).strip()
    if text.isdigit():
        for d in devices:
            if d.index == int(text):
                return d
    for d in devices:
        if d.name == text:
            return d
    folded = text.casefold()
    exact = [d for d in devices if d.name.casefold() == folded]
    if exact:
        return exact[0]
    partial = [d for d in devices if folded and folded in d.name.casefold()]
    return partial[0] if len(partial) == 1 else None


def pick_device(backend: AudioBackend, wanted: str | int | None, remembered: str | None = None) -> InputDevice:
    """The device asked for; else the one used last; else the system default input; else the first one."""
    devices = list_inputs(backend)
    if wanted is not None and str(wanted).strip():
        found = _match(devices, wanted)
        if found is None and backend.rescan():
            devices = list_inputs(backend)
            found = _match(devices, wanted)
        if found is None:
            names = ", ".join(f"'{d.name}'" for d in devices)
            if not devices:
                raise NoInputDeviceError(
                    f"The input device '{wanted}' is not connected, and no other microphone or input device was found."
                )
            raise NoInputDeviceError(f"The input device '{wanted}' is not connected. Input devices found: {names}.")
        return found
    if not devices and backend.rescan():
        devices = list_inputs(backend)
    if not devices:
        raise NoInputDeviceError(
            "No microphone or other input device was found. Connect one (or check that the system sees it) "
            "and try again."
        )
    if remembered:
        found = _match(devices, remembered)
        if found is not None and found.name == remembered:
            return found
    return next((d for d in devices if d.is_default), devices[0])


def capture_format(
    backend: AudioBackend, device: InputDevice, sample_rate: int | None = None, channels: int | None = None
) -> CaptureFormat:
    """The format to capture: the device's own rate when it is a usual one (else 48 kHz); two channels only for
    a device that has exactly two (one microphone per person), unless asked otherwise."""
    if channels is None:
        channels = 2 if device.channels == 2 else 1
    if channels not in (1, 2):
        raise TBError("A recording has one channel, or two for a device with one microphone per person.")
    if channels > device.channels:
        raise TBError(f"The input device '{device.name}' has only {device.channels} channel.")
    if sample_rate is not None:
        rates: tuple[int, ...] = (int(sample_rate),)
    elif device.default_samplerate in NATIVE_RATES:
        rates = (device.default_samplerate, *FALLBACK_RATES)
    else:
        rates = FALLBACK_RATES
    last: Exception | None = None
    for rate in dict.fromkeys(rates):
        try:
            backend.check_input_settings(device.index, channels, rate)
        except Exception as exc:  # PortAudio says the device cannot do this rate; try the next
            last = exc
            continue
        return CaptureFormat(rate, channels)
    log.info("no usable capture format", extra={"device_index": device.index, "error_type": type(last).__name__})
    wanted = f"{sample_rate} Hz" if sample_rate else "16, 44.1 or 48 kHz"
    raise TBError(f"The input device '{device.name}' cannot record at {wanted} with {channels} channel(s).")


def stream_channels(device: InputDevice, wanted: int) -> int:
    """Channels to open on a device that takes over a recording: a one-channel device fills both channels."""
    return min(wanted, device.channels)
