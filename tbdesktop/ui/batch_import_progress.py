"""A batch import's progress: each file's state — waiting its turn, copying and encrypting, queued, processing
(stage and percent), waiting for consent (recorded right here), done, failed with the reason, or skipped as a
duplicate. Non-modal: the window stays usable, and processing goes on when it is closed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tbdesktop.services.batch_import import FAILED, IMPORTED, SKIPPED, BatchResult
from tbdesktop.services.dto import ProgressEvent, SessionInfo
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT, CONSENT_METHODS
from tbdesktop.ui.formatting import ACTIVE_STATUSES, eta_words, status_words

WAITING = "waiting"  # its turn to be copied has not come
COPYING = "copying"
CONSENT = "consent"  # imported, kept unprocessed until the client's consent is recorded
SKIP = "skipped"
COL_FILE, COL_STATE, COL_ACTION = range(3)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def waits_for_consent(status: str, detail: str | None) -> bool:
    return status == "queued" and detail == AWAITING_CONSENT


@dataclass
class ProgressRow:
    name: str
    state: QLabel
    bar: QProgressBar
    action: QToolButton
    status: str = WAITING
    session_id: uuid.UUID | None = None


class BatchProgressDialog(QDialog):
    openRequested = Signal(uuid.UUID)
    consentRecorded = Signal(uuid.UUID, str)  # verbal | written | electronic
    stopRequested = Signal()

    def __init__(self, names: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("batchProgressDialog")
        self.setWindowTitle("Importing recordings")
        self.setModal(False)
        self.setMinimumWidth(760)
        self.resize(860, min(660, 240 + 52 * len(names)))
        self._importing = True
        self._stopping = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(8)
        title = QLabel(f"Importing {len(names)} recordings")
        title.setObjectName("dialogTitle")
        layout.addWidget(title)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("batchProgressSummary")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)

        self.table = QTableWidget(len(names), 3)
        self.table.setObjectName("batchProgressTable")
        self.table.setHorizontalHeaderLabels(["Recording", "State", ""])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COL_FILE, 230)
        self.table.setColumnWidth(COL_ACTION, 150)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(52)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rows: list[ProgressRow] = [self._row(i, name) for i, name in enumerate(names)]
        layout.addWidget(self.table, 1)

        buttons = QHBoxLayout()
        self.stop_button = QPushButton("Stop after this file")
        self.stop_button.setObjectName("stopBatchButton")
        self.stop_button.setToolTip("Files not copied yet are left out; the ones imported stay")
        self.stop_button.clicked.connect(self._stop)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeBatchButton")
        self.close_button.setToolTip("Processing goes on; the session cards show it")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self._summarise()

    def _row(self, index: int, name: str) -> ProgressRow:
        file_label = QLabel(name)
        file_label.setObjectName(f"batchRowFile_{index}")
        file_label.setToolTip(name)
        file_label.setContentsMargins(8, 0, 6, 0)
        self.table.setCellWidget(index, COL_FILE, file_label)
        cell = QWidget()
        cell_layout = QVBoxLayout(cell)
        cell_layout.setContentsMargins(6, 3, 6, 3)
        cell_layout.setSpacing(2)
        state = QLabel("Waiting its turn")
        state.setObjectName(f"batchRowState_{index}")
        state.setWordWrap(True)
        bar = QProgressBar()
        bar.setObjectName(f"batchRowProgress_{index}")
        bar.setRange(0, 100)
        bar.setTextVisible(False)
        bar.setFixedHeight(6)
        bar.hide()
        cell_layout.addWidget(state)
        cell_layout.addWidget(bar)
        self.table.setCellWidget(index, COL_STATE, cell)
        action = QToolButton()
        action.setObjectName(f"batchRowAction_{index}")
        action.setMinimumWidth(130)
        action.clicked.connect(lambda _=False, i=index: self._action_clicked(i))
        action.hide()
        holder = QWidget()
        holder_layout = QHBoxLayout(holder)
        holder_layout.setContentsMargins(6, 0, 6, 0)
        holder_layout.addWidget(action)
        self.table.setCellWidget(index, COL_ACTION, holder)
        return ProgressRow(name, state, bar, action)

    # -- what happens to each file --------------------------------------------------------------------------

    def row_of(self, session_id: uuid.UUID) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.session_id == session_id), None)

    def set_started(self, index: int) -> None:
        self._show(index, COPYING, "Copying and encrypting…", 0)

    def set_copy_progress(self, index: int, done: int, total: int) -> None:
        if self.rows[index].status != COPYING:
            return
        percent = int(done * 100 / total) if total > 0 else 0
        self._show(index, COPYING, f"Copying and encrypting · {_mib(done)} of {_mib(total)}", percent)

    def set_result(self, index: int, result: BatchResult) -> None:
        if result.status == IMPORTED and result.session is not None:
            self.rows[index].session_id = result.session.id
            self.set_session(result.session)
        elif result.status == FAILED:
            self._show(index, FAILED, f"Failed: {result.error or 'the file could not be imported.'}", None)
        else:
            reason = result.error or "left out"
            self._show(index, SKIP, f"Skipped: {reason}", None)
        self._summarise()

    def set_session(self, info: SessionInfo) -> None:
        """A session of this batch as just read (after its import, or after consent was recorded here)."""
        index = self.row_of(info.id)
        if index is not None:
            self._follow(index, info.status, info.progress, info.stage_detail, info.eta_seconds, info.error)

    def apply_event(self, event: ProgressEvent) -> None:
        index = self.row_of(event.session_id)
        if index is not None:
            self._follow(index, event.status, event.progress, event.stage_detail, event.eta_seconds, event.error)

    def set_finished(self) -> None:
        """Every file had its turn (or the import was stopped)."""
        self._importing = False
        for index, row in enumerate(self.rows):
            if row.status == WAITING:
                self._show(index, SKIP, "Skipped: the import was stopped before this file.", None)
        self._summarise()

    def _follow(
        self, index: int, status: str, progress: int, detail: str | None, eta: int | None, error: str | None
    ) -> None:
        if waits_for_consent(status, detail):
            self._show(index, CONSENT, "Waiting for consent — record it to start processing", None)
        elif status == "queued":
            self._show(index, "queued", "Queued for processing", None)
        elif status == "completed":
            self._show(index, "completed", "✓ Done: transcript and note are ready", None)
        elif status == "failed":
            self._show(index, FAILED, f"Failed: {error or 'the recording could not be processed.'}", None)
        elif status == "cancelled":
            self._show(index, "cancelled", "Processing was cancelled", None)
        else:
            words = (detail or status_words(status)).rstrip("…. ")
            eta_text = eta_words(eta)
            self._show(index, status, f"{words} · {progress}%" + (f" · {eta_text}" if eta_text else ""), progress)
        self._summarise()

    def _show(self, index: int, status: str, text: str, progress: int | None) -> None:
        row = self.rows[index]
        row.status = status
        row.state.setText(text)
        row.state.setToolTip(text)
        row.state.setProperty("state", status)
        row.bar.setVisible(progress is not None)
        row.bar.setValue(max(0, min(100, progress or 0)))
        self._set_action(index, row)

    def _set_action(self, index: int, row: ProgressRow) -> None:
        action = row.action
        session_id = row.session_id
        if row.status == CONSENT and session_id is not None:
            if action.menu() is not None:
                action.setVisible(True)
                return
            action.setText("Record consent")
            action.setToolTip("How the client consented: processing starts once it is recorded")
            action.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            menu = QMenu(action)
            menu.setObjectName(f"batchConsentMenu_{index}")
            for method in CONSENT_METHODS:
                item = QAction(f"{method.title()} consent", menu)
                item.setObjectName(f"batchConsent_{index}_{method}")
                item.triggered.connect(lambda _=False, m=method, s=session_id: self.consentRecorded.emit(s, m))
                menu.addAction(item)
            action.setMenu(menu)
            action.setVisible(True)
        elif row.status == "completed" and session_id is not None:
            self._drop_menu(action)
            action.setText("Open")
            action.setToolTip("Open this session")
            action.setVisible(True)
        else:
            self._drop_menu(action)
            action.setVisible(False)

    @staticmethod
    def _drop_menu(action: QToolButton) -> None:
        menu = action.menu()
        if menu is not None:
            action.setMenu(None)  # type: ignore[arg-type]
            menu.deleteLater()

    def _action_clicked(self, index: int) -> None:
        row = self.rows[index]
        if row.status == "completed" and row.session_id is not None:
            self.openRequested.emit(row.session_id)

    # -- the whole batch --------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = {IMPORTED: 0, FAILED: 0, SKIPPED: 0, "completed": 0, CONSENT: 0, "active": 0}
        for row in self.rows:
            if row.session_id is not None:
                out[IMPORTED] += 1
            if row.status == FAILED:
                out[FAILED] += 1
            elif row.status == SKIP:
                out[SKIPPED] += 1
            elif row.status == "completed":
                out["completed"] += 1
            elif row.status == CONSENT:
                out[CONSENT] += 1
            elif row.status in ACTIVE_STATUSES or row.status in (WAITING, COPYING):
                out["active"] += 1
        return out

    def _summarise(self) -> None:
        c = self.counts()
        parts = [f"{c[IMPORTED]} of {len(self.rows)} imported"]
        if c["completed"]:
            parts.append(f"{c['completed']} done")
        if c[CONSENT]:
            parts.append(f"{c[CONSENT]} waiting for consent")
        if c[FAILED]:
            parts.append(f"{c[FAILED]} failed")
        if c[SKIPPED]:
            parts.append(f"{c[SKIPPED]} skipped")
        text = " · ".join(parts)
        if not self._importing and c["active"]:
            text += ". Processing goes on in the background; you can close this window."
        self.summary_label.setText(text)
        self.stop_button.setVisible(self._importing)
        self.stop_button.setEnabled(self._importing and not self._stopping)

    def _stop(self) -> None:
        self._stopping = True
        self.stop_button.setEnabled(False)
        self.stop_button.setText("Stopping after this file…")
        self.stopRequested.emit()

    @property
    def importing(self) -> bool:
        return self._importing
