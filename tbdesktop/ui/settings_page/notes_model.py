"""Settings for a note model on this workstation: its file with a picker, threads, GPU layers, context, and the
test run (in a separate process) with its result."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.notes_model import (
    MAX_CONTEXT,
    MAX_GPU_LAYERS,
    MAX_THREADS,
    MIN_CONTEXT,
    ModelTestResult,
    NotesModelService,
)
from tbdesktop.ui.aio import spawn
from tbdesktop.ui.file_field import FileField

GGUF_FILTER = "GGUF models (*.gguf)"
GPU_CHECKING = "Checking whether this runtime can use a GPU…"


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class ModelFileField(FileField):
    """The GGUF file of the note model IT installed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            ("notesModelFileField", "notesModelFileEdit", "notesModelBrowseButton", "notesModelFileDialog"),
            what="Note model file",
            placeholder="The .gguf file IT installed, e.g. C:\\Models\\notes.gguf",
            dialog_title="Choose the note model file",
            file_filter=f"{GGUF_FILTER};;All files (*)",
            max_length=2000,
            parent=parent,
        )


class ModelTestBox(QWidget):
    """Test this model: the button, a busy bar with Cancel while the run lasts, then what the run found."""

    testRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelTestBox")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.test_button = QPushButton("Test this model")
        self.test_button.setObjectName("testNotesModelButton")
        self.test_button.setToolTip("Load the model in a separate process and time a short answer")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.testRequested)
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("modelTestBusy")
        self.busy_bar.setRange(0, 0)  # no fraction to show: loading says nothing until it is done
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setAccessibleName("Testing the model")
        self.busy_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelModelTestButton")
        self.cancel_button.setAccessibleName("Cancel the model test")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        row.addWidget(self.test_button)
        row.addWidget(self.busy_bar)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.result_label = QLabel()
        self.result_label.setObjectName("modelTestResult")
        self.result_label.setWordWrap(True)
        self.result_label.setAccessibleName("Model test result")
        self.result_label.hide()
        layout.addWidget(self.result_label)
        self.result: ModelTestResult | None = None

    @property
    def busy(self) -> bool:
        return not self.busy_bar.isHidden()

    def set_busy(self, busy: bool) -> None:
        self.test_button.setEnabled(not busy)
        self.test_button.setText("Testing…" if busy else "Test this model")
        self.busy_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.result = None
            self._show("Loading the model in a separate process and timing a short answer…", "busy")

    def show_result(self, result: ModelTestResult) -> None:
        self.result = result
        self._show("\n".join(result.lines()), "ok" if result.ok else "error")

    def show_message(self, text: str, state: str) -> None:
        self._show(text, state)

    def clear(self) -> None:
        self.result = None
        self.result_label.hide()

    def _show(self, text: str, state: str) -> None:
        self.result_label.setText(text)
        self.result_label.setProperty("state", state)
        _repolish(self.result_label)
        self.result_label.show()


class NotesModelRows:
    """Mixed into SettingsPage, which provides the form rows (``_field``) and the state named below."""

    if TYPE_CHECKING:
        _models: NotesModelService
        _model_test: asyncio.Task[None] | None
        _gpu: list[str] | None
        _fields: dict[str, QWidget]
        gpu_label: QLabel | None

        def _field(
            self, form: QFormLayout, name: str, label: str, widget: QWidget, hint: str = "", *, beside: str = ""
        ) -> QLabel | None: ...

    def _spin(self, name: str, low: int, high: int, step: int = 1) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setFixedWidth(150)
        spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel scrolling the page leaves the value alone
        return spin

    def _build_notes_model(self, form: QFormLayout) -> None:
        """The GGUF model's rows, shown for the "Language model on this workstation" backend."""
        self.notes_file = ModelFileField()
        self._field(
            form,
            "notes_model_file",
            "Model &file",
            self.notes_file,
            "A GGUF chat model installed by IT. It runs in the notes worker; nothing leaves this computer.",
        )
        self.notes_file.setAccessibleName("Note model file")
        self._fields["notes_model_file"] = self.notes_file.edit  # marked and focused when its error shows
        self.notes_threads_spin = self._spin("notesThreadsSpin", 0, MAX_THREADS)
        self.notes_threads_spin.setSpecialValueText("Every core")
        self._field(form, "notes_threads", "CPU t&hreads", self.notes_threads_spin, beside="0 = every core")
        self.notes_gpu_spin = self._spin("notesGpuLayersSpin", 0, MAX_GPU_LAYERS)
        self.gpu_label = self._field(form, "notes_gpu_layers", "&GPU layers", self.notes_gpu_spin, beside=GPU_CHECKING)
        self.notes_context_spin = self._spin("notesContextSpin", MIN_CONTEXT, MAX_CONTEXT, 1024)
        self.notes_context_spin.setSuffix(" tokens")
        self._field(
            form,
            "notes_context",
            "Conte&xt",
            self.notes_context_spin,
            beside="how much of a session the model reads at once; more needs more memory",
        )
        self.model_test = ModelTestBox()
        self._field(form, "notes_model_test", "", self.model_test)
        self.model_test.setAccessibleName("Test this model")
        self.model_test.testRequested.connect(self.test_model)
        # A result describes the file and settings it ran with: a change makes it old news.
        self.notes_file.edit.textChanged.connect(self._model_changed)
        for spin in (self.notes_threads_spin, self.notes_gpu_spin, self.notes_context_spin):
            spin.valueChanged.connect(self._model_changed)
        self.model_test.cancelRequested.connect(self.cancel_model_test)

    async def _ask_gpu(self) -> None:
        """Whether the notes runtime has a GPU: asked in a child process, as loading the runtime here would cost
        the window seconds (and GPU memory)."""
        self._gpu = await self._models.gpu_devices()
        if self.gpu_label is None:
            return
        if self._gpu:
            self.gpu_label.setText(f"GPU: {', '.join(self._gpu)}. {MAX_GPU_LAYERS} = every layer; 0 = CPU only.")
        else:
            self.gpu_label.setText("This runtime has no GPU: the model runs on the CPU, so GPU layers are not used.")

    @property
    def model_test_running(self) -> bool:
        return self._model_test is not None and not self._model_test.done()

    def test_model(self) -> None:
        """Test the model in the fields (saved or not) in a separate process; the window stays usable."""
        if self.model_test_running:
            return
        self.model_test.set_busy(True)
        self._model_test = spawn(
            self._test_model(
                self.notes_file.text(),
                self.notes_threads_spin.value(),
                self.notes_gpu_spin.value(),
                self.notes_context_spin.value(),
            ),
            on_error=lambda message: self.model_test.show_message(message, "error"),
        )

    async def _test_model(self, path: str, threads: int, gpu_layers: int, context: int) -> None:
        try:
            result = await self._models.test_model(path, threads, gpu_layers, context)
        finally:
            self.model_test.set_busy(False)
        self.model_test.show_result(result)

    def _model_changed(self) -> None:
        if not self.model_test_running:
            self.model_test.clear()

    def cancel_model_test(self) -> None:
        """Stop the test: its process is ended (the service's clean-up) and the page is ready for another."""
        if self._model_test is not None and not self._model_test.done():
            self._model_test.cancel()
            self.model_test.set_busy(False)
            self.model_test.show_message("The test was cancelled.", "none")
