"""Settings for a note model on this workstation: its file with a picker, threads, GPU layers, context, and the
test run (in a separate process) with its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.notes_model import (
    MAX_CONTEXT,
    MAX_GPU_LAYERS,
    MAX_THREADS,
    MIN_CONTEXT,
    ModelTestResult,
)
from tbdesktop.ui.file_field import FileField
from tbdesktop.ui.forms import repolish
from tbdesktop.ui.settings_page.rows import FormRows, spin_box

GGUF_FILTER = "GGUF models (*.gguf)"
GPU_CHECKING = "Checking whether this runtime can use a GPU…"


@dataclass(frozen=True)
class ModelTestInput:
    """The model file and settings a test runs with (saved or not)."""

    path: str
    threads: int
    gpu_layers: int
    context: int


class ModelFileField(FileField):
    """The GGUF file of the note model IT installed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            ("notesModelFileField", "notesModelFileEdit", "notesModelBrowseButton", "notesModelFileDialog"),
            what="Note model file",
            placeholder="A notes model pack's name (tbdesktop model list), or the .gguf file IT installed",
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
        repolish(self.result_label)
        self.result_label.show()


class NotesModelRows:
    """The rows of a note model on this workstation, added to ``form``; shown for the "Language model on this
    workstation" backend. What they do (the test run, the GPU question) is the page controller's."""

    def __init__(self, rows: FormRows, form: QFormLayout) -> None:
        self.notes_file = ModelFileField()
        rows.add(
            form,
            "notes_model_file",
            "Model &file",
            self.notes_file,
            "A GGUF chat model installed by IT. It runs in the notes worker; nothing leaves this computer.",
        )
        self.notes_file.setAccessibleName("Note model file")
        rows.fields["notes_model_file"] = self.notes_file.edit  # marked and focused when its error shows
        self.notes_threads_spin = spin_box("notesThreadsSpin", 0, MAX_THREADS)
        self.notes_threads_spin.setSpecialValueText("Every core")
        rows.add(form, "notes_threads", "CPU t&hreads", self.notes_threads_spin, beside="0 = every core")
        self.notes_gpu_spin = spin_box("notesGpuLayersSpin", 0, MAX_GPU_LAYERS)
        self.gpu_label = rows.add(form, "notes_gpu_layers", "&GPU layers", self.notes_gpu_spin, beside=GPU_CHECKING)
        self.notes_context_spin = spin_box("notesContextSpin", MIN_CONTEXT, MAX_CONTEXT, 1024)
        self.notes_context_spin.setSuffix(" tokens")
        rows.add(
            form,
            "notes_context",
            "Conte&xt",
            self.notes_context_spin,
            beside="how much of a session the model reads at once; more needs more memory",
        )
        self.model_test = ModelTestBox()
        rows.add(form, "notes_model_test", "", self.model_test)
        self.model_test.setAccessibleName("Test this model")

    def on_change(self, slot: Callable[[], None]) -> None:
        """``slot`` runs when the file or a setting changes (a test result describes the ones it ran with)."""
        self.notes_file.edit.textChanged.connect(slot)
        for spin in (self.notes_threads_spin, self.notes_gpu_spin, self.notes_context_spin):
            spin.valueChanged.connect(slot)

    def test_input(self) -> ModelTestInput:
        return ModelTestInput(
            self.notes_file.text(),
            self.notes_threads_spin.value(),
            self.notes_gpu_spin.value(),
            self.notes_context_spin.value(),
        )

    def show_gpu(self, devices: list[str]) -> None:
        if self.gpu_label is None:
            return
        if devices:
            self.gpu_label.setText(f"GPU: {', '.join(devices)}. {MAX_GPU_LAYERS} = every layer; 0 = CPU only.")
        else:
            self.gpu_label.setText("This runtime has no GPU: the model runs on the CPU, so GPU layers are not used.")
