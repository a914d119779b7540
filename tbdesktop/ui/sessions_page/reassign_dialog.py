"""The client picker for reassigning a session: one of my clients, or a new client's name."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QWidget,
)

from tbdesktop.services.dto import ClientInfo, SessionInfo
from tbdesktop.ui.sessions_page.dialog_heading import session_dialog_layout


class ReassignDialog(QDialog):
    """Pick one of my clients, or type a new client's name, to move a session to. Typing filters the list: the
    client of that exact name is picked, or else a "New client" row offers the typed name. Up, Down or a click
    pick another row."""

    def __init__(self, info: SessionInfo, clients: list[ClientInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reassignDialog")
        self.setWindowTitle("Reassign session")
        self.setMinimumWidth(420)
        self._current = info.client_id
        self._clients = {c.id: c for c in sorted(clients, key=lambda c: c.name.casefold())}
        self._filtering = False
        layout = session_dialog_layout(self, "Move this session to another client", info)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("clientSearchEdit")
        self.name_edit.setPlaceholderText("Search your clients or type a new name")
        self.name_edit.setAccessibleName("Client name")
        self.name_edit.setMaxLength(200)
        self.name_edit.setClearButtonEnabled(True)
        self.name_edit.textChanged.connect(self._filter)
        self.name_edit.installEventFilter(self)
        layout.addWidget(self.name_edit)

        self.client_list = QListWidget()
        self.client_list.setObjectName("clientList")
        self.client_list.setAccessibleName("Your clients")
        self.client_list.setMinimumHeight(180)
        self.new_item = QListWidgetItem()
        self.new_item.setData(Qt.ItemDataRole.UserRole, None)
        self.client_list.addItem(self.new_item)
        self.new_item.setHidden(True)
        for client in self._clients.values():
            current = client.id == self._current
            item = QListWidgetItem(f"{client.name}  (current)" if current else client.name)
            item.setData(Qt.ItemDataRole.UserRole, client.id)
            if current:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            self.client_list.addItem(item)
        self.client_list.currentItemChanged.connect(self._picked)
        self.client_list.itemActivated.connect(lambda _item: self.submit())
        layout.addWidget(self.client_list, 1)

        self.hint = QLabel()
        self.hint.setObjectName("dialogHint")
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setMinimumHeight(2 * self.hint.fontMetrics().lineSpacing() + 2)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.hint)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelReassignButton")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        self.move_button = QPushButton("Move session")
        self.move_button.setObjectName("moveSessionButton")
        self.move_button.setProperty("primary", True)
        self.move_button.setDefault(True)
        self.move_button.clicked.connect(self.submit)
        buttons.addWidget(self.move_button)
        layout.addLayout(buttons)
        self.name_edit.setFocus()
        self._update()

    # -- choosing -------------------------------------------------------------------------------------

    def _typed(self) -> str:
        return " ".join(self.name_edit.text().split())

    def _named(self, name: str) -> ClientInfo | None:
        folded = name.casefold()
        return next((c for c in self._clients.values() if c.name.casefold() == folded), None) if name else None

    def _client(self, item: QListWidgetItem | None) -> ClientInfo | None:
        if item is None or item.isHidden():
            return None
        return self._clients.get(item.data(Qt.ItemDataRole.UserRole))

    def _pickable(self, item: QListWidgetItem) -> bool:
        return not item.isHidden() and bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)

    def new_name(self) -> str | None:
        """The typed name when none of my clients has it (case aside)."""
        typed = self._typed()
        return typed if typed and self._named(typed) is None else None

    def choice(self) -> tuple[ClientInfo | None, str | None]:
        """(a client of mine, None), (None, a new client's name), or (None, None) while nothing is chosen."""
        item = self.client_list.currentItem()
        if item is self.new_item and not item.isHidden():
            return None, self.new_name()
        client = self._client(item)
        if client is not None and client.id != self._current:
            return client, None
        return None, None

    def _filter(self, text: str) -> None:
        needle = " ".join(text.split()).casefold()
        new = self.new_name()
        named = self._named(self._typed())
        self._filtering = True
        try:
            self.new_item.setHidden(new is None)
            self.new_item.setText(f"+  New client “{new}”" if new else "")
            match: QListWidgetItem | None = self.new_item if new else None
            for row in range(1, self.client_list.count()):
                item = self.client_list.item(row)
                client = self._clients.get(item.data(Qt.ItemDataRole.UserRole))
                item.setHidden(bool(needle) and client is not None and needle not in client.name.casefold())
                if named is not None and client is not None and client.id == named.id:
                    match = item
            if match is not None:
                self.client_list.setCurrentItem(match)
            else:
                self.client_list.setCurrentRow(-1)
        finally:
            self._filtering = False
        self._update()

    def _picked(self, *_args: object) -> None:
        if not self._filtering:
            self._update()

    def _update(self) -> None:
        client, name = self.choice()
        if name is not None:
            self.hint.setText(f"“{name}” is not one of your clients yet: they will be added.")
        elif client is not None:
            self.hint.setText(f"The session moves to {client.name}.")
        elif self._typed() and self._named(self._typed()) is not None:
            self.hint.setText("That is this session's client already.")
        else:
            self.hint.setText("Choose a client, or type a new client's name.")
        self.move_button.setEnabled(client is not None or name is not None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the name field move through the list, as in a search box.
        if watched is self.name_edit and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._step(1 if event.key() == Qt.Key.Key_Down else -1)
                return True
        return super().eventFilter(watched, event)

    def _step(self, delta: int) -> None:
        rows = [row for row in range(self.client_list.count()) if self._pickable(self.client_list.item(row))]
        if not rows:
            return
        current = self.client_list.currentRow()
        further = [r for r in rows if (r > current if delta > 0 else r < current)] if current >= 0 else []
        if further:
            target = further[0] if delta > 0 else further[-1]
        else:
            target = rows[0] if delta > 0 else rows[-1]
        self.client_list.setCurrentRow(target)

    def submit(self) -> None:
        client, name = self.choice()
        if client is None and name is None:
            self._update()
            return
        self.accept()
