"""The recording's player: play/pause, a position slider, elapsed/total time and playback speed (Qt Multimedia)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QLoggingCategory, Qt, QUrl, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.ui.aio import spawn
from tbdesktop.ui.formatting import timestamp
from tbdesktop.ui.playback_copy import Opener, OpenRecording
from tbdesktop.ui.resources import icon

log = logging.getLogger(__name__)

# FFmpeg's own log (routed through these categories) prints each opened file's path and metadata tags, which
# may name a client: keep it out of the output.
QLoggingCategory.setFilterRules("qt.multimedia.ffmpeg*.info=false\nqt.multimedia.ffmpeg*.debug=false")

SPEEDS = (1.0, 1.25, 1.5, 2.0)
NO_OUTPUT = "No audio output on this computer: playback runs silently; the transcript still follows it."
CANNOT_PLAY = "This recording cannot be played on this computer."


def speed_text(rate: float) -> str:
    return f"{rate:g}×"


class SeekSlider(QSlider):
    """A slider that jumps to where the groove is clicked (rather than paging towards it)."""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        handle = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
        )
        if handle.contains(event.position().toPoint()) or self.maximum() <= self.minimum():
            super().mousePressEvent(event)
            return
        span = max(1, self.width() - handle.width())
        x = int(event.position().x()) - handle.width() // 2
        value = QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), x, span)
        self.setValue(value)
        self.sliderMoved.emit(value)
        event.accept()


class AudioPlayer(QFrame):
    """Plays one local file. The caller gives it a path (`load`) and takes it back (`unload`) before the file goes."""

    positionChanged = Signal(int)  # milliseconds
    playingChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioPlayer")
        self.player = QMediaPlayer(self)
        self._output: QAudioOutput | None = None
        self._devices = QMediaDevices(self)
        self._devices.audioOutputsChanged.connect(self._attach_output)
        self._attach_output()
        self._pending_ms: int | None = None
        self._loaded = False
        self._recording = OpenRecording()
        self._resume_ms: dict[object, int] = {}
        handle = self._recording
        self.destroyed.connect(lambda *_: handle.destroyed())  # no decrypted copy outlives the player

        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 12, 8)
        self.controls = QWidget()
        self.controls.setObjectName("playerControls")
        outer.addWidget(self.controls)
        column = QVBoxLayout(self.controls)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        self.play_button = QToolButton()
        self.play_button.setObjectName("playButton")
        self.play_button.setAutoRaise(False)
        self.play_button.clicked.connect(self.toggle)
        row.addWidget(self.play_button)
        self.elapsed_label = QLabel("00:00")
        self.elapsed_label.setObjectName("playerTime")
        self.elapsed_label.setAccessibleName("Elapsed time")
        row.addWidget(self.elapsed_label)
        self.slider = SeekSlider()
        self.slider.setObjectName("positionSlider")
        self.slider.setOrientation(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Playback position")
        self.slider.setTracking(False)  # seek when the handle is let go, not on every pixel of a drag
        self.slider.setSingleStep(5000)
        self.slider.setPageStep(30000)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._slider_set)
        self.slider.sliderMoved.connect(self._slider_moving)
        row.addWidget(self.slider, 1)
        self.total_label = QLabel("00:00")
        self.total_label.setObjectName("playerTime")
        self.total_label.setAccessibleName("Length of the recording")
        row.addWidget(self.total_label)
        self.speed_combo = QComboBox()
        self.speed_combo.setObjectName("speedCombo")
        self.speed_combo.setAccessibleName("Playback speed")
        self.speed_combo.setToolTip("Playback speed")
        for rate in SPEEDS:
            self.speed_combo.addItem(speed_text(rate), rate)
        self.speed_combo.currentIndexChanged.connect(self._speed_chosen)
        row.addWidget(self.speed_combo)
        column.addLayout(row)
        self.no_output_row = QWidget()
        notice = QHBoxLayout(self.no_output_row)
        notice.setContentsMargins(2, 0, 0, 0)
        notice.setSpacing(6)
        mute = QLabel()
        mute.setPixmap(icon("speaker-off").pixmap(14, 14))
        notice.addWidget(mute, 0, Qt.AlignmentFlag.AlignTop)
        self.no_output_label = QLabel(NO_OUTPUT)
        self.no_output_label.setObjectName("noAudioOutput")
        self.no_output_label.setWordWrap(True)
        notice.addWidget(self.no_output_label, 1)
        column.addWidget(self.no_output_row)
        self.message_label = QLabel()
        self.message_label.setObjectName("playerMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        outer.addWidget(self.message_label)

        self.player.durationChanged.connect(self._duration_changed)
        self.player.positionChanged.connect(self._position_changed)
        self.player.playbackStateChanged.connect(self._state_changed)
        self.player.mediaStatusChanged.connect(self._status_changed)
        self.player.errorOccurred.connect(self._error)
        self._state_changed(self.player.playbackState())
        self._update_output_notice()

    # -- audio output -------------------------------------------------------------------------------------

    def _attach_output(self) -> None:
        """An output when the computer has one; without, the player keeps time silently (seeking still works)."""
        if self._output is None and QMediaDevices.audioOutputs():
            self._output = QAudioOutput(self)
            self.player.setAudioOutput(self._output)
        elif self._output is not None:
            self._output.setDevice(QMediaDevices.defaultAudioOutput())
        if hasattr(self, "no_output_row"):
            self._update_output_notice()

    @property
    def has_output(self) -> bool:
        return self._output is not None

    def _update_output_notice(self) -> None:
        self.no_output_row.setVisible(not self.has_output)

    # -- a decrypted recording ----------------------------------------------------------------------------

    def open_recording(self, key: object, opener: Opener) -> None:
        """Play recording `key` (a session id) from the decrypted copy `opener` makes off the UI thread. The copy is
        closed, which removes it, by `release`, by opening another recording, and when the player is destroyed."""
        handle = self._recording
        if handle.key == key and (handle.copy is not None or handle.opening):
            return
        self.release()
        handle.key = key
        handle.opening = True
        generation = handle.generation
        self.show_message("Opening the recording…")
        start_ms = self._resume_ms.pop(key, 0)

        async def opened() -> None:
            copy = await opener()
            if handle.dead or handle.generation != generation:
                copy.close()  # the player moved on while it was being decrypted
                return
            handle.copy = copy
            handle.opening = False
            self.load(copy.path, start_ms)

        def failed(message: str) -> None:
            if not handle.dead and handle.generation == generation:
                handle.opening = False
                self.show_message(message)

        spawn(opened(), on_error=failed)

    def release(self, *, remember: bool = True) -> None:
        """Stop, let go of the file and remove it; with `remember`, playback resumes there when it is opened again."""
        handle = self._recording
        if remember and handle.key is not None and self._loaded:
            self._resume_ms[handle.key] = self.position_ms
        self.unload()
        handle.close()

    @property
    def recording_key(self) -> object | None:
        return self._recording.key

    @property
    def recording_path(self) -> Path | None:
        copy = self._recording.copy
        return copy.path if copy is not None else None

    # -- source -------------------------------------------------------------------------------------------

    def load(self, path: Path, start_ms: int = 0) -> None:
        """Play `path` (a local file); `start_ms` is where playback starts once it is loaded."""
        self._loaded = False
        if start_ms > 0 or self._pending_ms is None:
            self._pending_ms = start_ms if start_ms > 0 else None  # else a seek asked for while it was opened
        self.slider.setEnabled(True)
        self.play_button.setEnabled(True)
        self.speed_combo.setEnabled(True)
        self._show_controls(True)
        self.player.setSource(QUrl.fromLocalFile(str(path)))
        self._apply_rate()

    def unload(self) -> None:
        """Stop and let go of the file (the caller may then remove it)."""
        self.player.stop()
        self.player.setSource(QUrl())
        self._loaded = False
        self._pending_ms = None
        self._set_slider(0)
        self.slider.setRange(0, 0)
        self.elapsed_label.setText(timestamp(0))
        self.total_label.setText(timestamp(0))

    def show_message(self, text: str) -> None:
        """Words in place of the controls: deleted, opening, or why it cannot be played."""
        self.message_label.setText(text)
        self._show_controls(False)

    def _show_controls(self, shown: bool) -> None:
        self.controls.setVisible(shown)
        self.message_label.setVisible(not shown)

    @property
    def message(self) -> str:
        return self.message_label.text() if self.controls.isHidden() else ""

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def source_path(self) -> Path | None:
        url = self.player.source()
        return Path(url.toLocalFile()) if url.isLocalFile() else None

    # -- playback -----------------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    @property
    def position_ms(self) -> int:
        if self._pending_ms is not None:
            return self._pending_ms
        return int(self.player.position())

    @property
    def duration_ms(self) -> int:
        return int(self.player.duration())

    def play(self) -> None:
        if not self.player.source().isEmpty():
            self.player.play()

    def pause(self) -> None:
        self.player.pause()

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def seek(self, seconds: float) -> None:
        """Move to `seconds`; playing goes on playing, paused stays paused."""
        ms = max(0, int(round(seconds * 1000)))
        if not self._loaded:
            self._pending_ms = ms  # applied once the file is loaded
            return
        if self.duration_ms > 0:
            ms = min(ms, self.duration_ms)
        self.player.setPosition(ms)

    @property
    def rate(self) -> float:
        return float(self.speed_combo.currentData() or 1.0)

    def set_rate(self, rate: float) -> None:
        index = self.speed_combo.findData(rate)
        if index >= 0:
            self.speed_combo.setCurrentIndex(index)

    def _speed_chosen(self, _index: int) -> None:
        self._apply_rate()

    def _apply_rate(self) -> None:
        unavailable = QMediaPlayer.PitchCompensationAvailability.Unavailable
        if self.player.pitchCompensationAvailability() != unavailable:
            self.player.setPitchCompensation(True)  # faster speech keeps its voice
        self.player.setPlaybackRate(self.rate)

    # -- player events ------------------------------------------------------------------------------------

    def _duration_changed(self, duration: int) -> None:
        self.slider.setRange(0, max(0, int(duration)))
        self.total_label.setText(timestamp(duration / 1000))

    def _position_changed(self, position: int) -> None:
        if not self.slider.isSliderDown():
            self._set_slider(int(position))
            self.elapsed_label.setText(timestamp(position / 1000))
        self.positionChanged.emit(int(position))

    def _set_slider(self, value: int) -> None:
        blocked = self.slider.blockSignals(True)
        self.slider.setValue(value)
        self.slider.blockSignals(blocked)

    def _slider_set(self, value: int) -> None:
        self.seek(value / 1000)

    def _slider_moving(self, value: int) -> None:
        self.elapsed_label.setText(timestamp(value / 1000))

    def _state_changed(self, state: QMediaPlayer.PlaybackState) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.play_button.setAccessibleName("Pause" if playing else "Play")
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")
        self.playingChanged.emit(playing)

    def _status_changed(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia and not self._loaded:
            self._loaded = True
            if self._pending_ms is not None:
                pending, self._pending_ms = self._pending_ms, None
                self.seek(pending / 1000)
        elif status == QMediaPlayer.MediaStatus.NoMedia:
            self._loaded = False

    def _error(self, error: QMediaPlayer.Error, _text: str) -> None:
        if error == QMediaPlayer.Error.NoError:
            return
        log.warning("recording playback failed", extra={"error": error.name})
        self.show_message(CANNOT_PLAY)


def playback_support() -> str:
    """For the self-test: Qt Multimedia loads (the player's library and its FFmpeg backend are present)."""
    from PySide6 import QtMultimedia
    from PySide6.QtCore import qVersion

    QtMultimedia.QMediaPlayer  # noqa: B018 - resolving the class loads the library
    return f"Qt Multimedia {qVersion()}"
