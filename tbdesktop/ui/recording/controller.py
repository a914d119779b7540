"""What the recorder dialog does: list microphones, build the recorder on the recording service, start, pause,
resume, stop, save as a session or discard; every call off the GUI thread, every error to the dialog."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QObject, SignalInstance

from tbdesktop.errors import TBError
from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.recording import (
    DeviceProblem,
    InputDevice,
    LevelReading,
    RecorderState,
    RecorderStatus,
    RecordingParams,
    RecordingService,
)
from tbdesktop.services.recording.recorder import Recorder
from tbdesktop.services.sessions import SessionService
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.recording.relay import RecorderRelay

# A recording in one of these states has nothing left for closing to save.
_FINISHED = (RecorderState.SAVED, RecorderState.DISCARDED)
_LIVE = (RecorderState.RECORDING, RecorderState.PAUSED, RecorderState.DEVICE_LOST)


class RecorderView(Protocol):
    """What the controller needs from the recorder dialog: its signals, what it shows, and how it closes."""

    @property
    def saved(self) -> SignalInstance: ...

    @property
    def notify(self) -> SignalInstance: ...

    def set_devices(self, devices: list[InputDevice], remembered: str | None) -> None: ...

    def show_problem(self, message: str) -> None: ...

    def show_level(self, reading: LevelReading) -> None: ...

    def show_elapsed(self, seconds: float) -> None: ...

    def show_state(self, status: RecorderStatus) -> None: ...

    def update_buttons(self) -> None: ...

    async def confirm_discard(self) -> bool: ...

    def accept(self) -> None: ...

    def reject(self) -> None: ...


class RecorderController(QObject):
    """One recorder at a time, built on the recording service it is given; one recorder call at a time."""

    def __init__(
        self, recording: RecordingService, sessions: SessionService, view: RecorderView, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.recording = recording
        self.sessions = sessions
        self._view = view
        self.recorder: Recorder | None = None
        self.busy = False
        self.relay = RecorderRelay(self)
        self.relay.levelRead.connect(self._on_level)
        self.relay.elapsedChanged.connect(self._on_elapsed)
        self.relay.stateChanged.connect(self._on_state)
        self.relay.problemRaised.connect(self._on_problem)

    @property
    def state(self) -> RecorderState:
        return self.recorder.state if self.recorder is not None else RecorderState.IDLE

    @property
    def live(self) -> bool:
        """Recording, paused or waiting on a lost microphone: it can still be paused, resumed or stopped."""
        return self.state in _LIVE

    @property
    def unsaved(self) -> bool:
        """A recording that closing must save first."""
        return self.recorder is not None and self.recorder.state not in _FINISHED

    # -- microphones --------------------------------------------------------------------------------------

    def load_devices(self, *, rescan: bool = False) -> None:
        spawn(self._load_devices(rescan), on_error=self._view.show_problem)

    async def _load_devices(self, rescan: bool) -> None:
        devices = await self.recording.list_devices(rescan=rescan)
        remembered = await self.recording.remembered_device()
        self._view.set_devices(devices, remembered)

    # -- the recorder -------------------------------------------------------------------------------------

    def _run(
        self, action: Callable[[], Any] | Coroutine[Any, Any, Any], after: Callable[[Any], None] | None = None
    ) -> None:
        """A recorder call off the GUI thread (opening or closing a device can take a moment)."""
        self.busy = True
        self._view.update_buttons()
        call = action if asyncio.iscoroutine(action) else asyncio.to_thread(action)

        async def go() -> Any:
            try:
                return await call
            finally:
                self.busy = False
                self._view.update_buttons()

        spawn(go(), on_error=self._view.show_problem, on_done=after)

    def start(self, params: RecordingParams) -> None:
        if self.recorder is not None or self.busy:
            return
        try:
            recorder = self.recording.recorder(params, self.relay)
        except TBError as exc:
            self._view.show_problem(exc.message)
            return
        self._view.show_problem("")

        def started(_status: Any) -> None:
            self.recorder = recorder
            self._view.update_buttons()

        self._run(recorder.start, started)

    def toggle_pause(self, device: str | None) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.state is RecorderState.RECORDING:
            self._run(recorder.pause)
        elif recorder.state in (RecorderState.PAUSED, RecorderState.DEVICE_LOST):
            self._run(lambda: recorder.resume(device))

    def stop(self) -> None:
        if self.recorder is not None and self.recorder.state not in (RecorderState.STOPPED, RecorderState.SAVED):
            self._run(self.recorder.stop)

    def save(self, details: RecordingParams, typed_name: str) -> None:
        """Save as a session with the set-up as it is now (``typed_name``: the client field's text)."""
        recorder = self.recorder
        if recorder is None:
            return

        async def finish() -> SessionInfo:
            await asyncio.to_thread(
                recorder.set_details,
                client_name=typed_name if details.client_id is None else None,
                client_id=details.client_id,
                session_type=details.session_type,
                consent_method=details.consent_method,
            )
            return await recorder.save()

        def saved(info: SessionInfo) -> None:
            self._view.saved.emit(info)
            self._view.notify.emit("success", "Recording saved; the session is being processed.")
            self.recorder = None
            self._view.accept()

        self._run(finish(), saved)

    def discard(self) -> None:
        recorder = self.recorder
        if recorder is None:
            self._view.reject()
            return
        spawn(self._discard(recorder), on_error=self._view.show_problem)

    async def _discard(self, recorder: Recorder) -> None:
        if not await self._view.confirm_discard():
            return

        def gone(_result: Any) -> None:
            self.recorder = None
            self._view.notify.emit("success", "The recording was discarded.")
            self._view.reject()

        self._run(recorder.discard, gone)

    # -- what the recorder says ---------------------------------------------------------------------------

    def _on_level(self, reading: LevelReading) -> None:
        self._view.show_level(reading)

    def _on_elapsed(self, seconds: float) -> None:
        self._view.show_elapsed(seconds)

    def _on_state(self, status: RecorderStatus) -> None:
        self._view.show_state(status)
        if status.state is RecorderState.DEVICE_LOST:
            self.load_devices(rescan=True)
        self._view.update_buttons()

    def _on_problem(self, problem: DeviceProblem) -> None:
        if problem.kind != "overflow":
            self._view.show_problem(problem.message)
        self._view.update_buttons()
