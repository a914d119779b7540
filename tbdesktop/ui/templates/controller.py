"""What the Templates page does: list, create, edit, duplicate, make default and delete, through the template
service; one change at a time, every error to the page's one ``notify`` path."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QObject, SignalInstance

from tbdesktop.services.bundle import AppServices
from tbdesktop.services.dto import TemplateInfo
from tbdesktop.services.templates import MANAGERS
from tbdesktop.ui.aio import spawn, spawn_one_at_a_time
from tbdesktop.ui.templates.drafts import Saver, TemplateDraft


class TemplatesView(Protocol):
    """What the controller needs from the Templates page: its toast signal, what it shows, and its dialogs."""

    @property
    def notify(self) -> SignalInstance: ...

    def set_busy(self, busy: bool) -> None: ...

    def templates(self) -> list[TemplateInfo]: ...

    def set_templates(self, templates: list[TemplateInfo], select: uuid.UUID | None = None) -> None: ...

    def forget_selection(self) -> None: ...

    async def run_editor(self, saver: Saver, info: TemplateInfo | None, *, can_share: bool) -> TemplateInfo | None: ...

    async def confirm_delete(self, info: TemplateInfo) -> bool: ...


def copy_name(info: TemplateInfo, templates: list[TemplateInfo]) -> str:
    """ "Name (copy)", or "Name (copy 2)" … when that name is taken."""
    taken = {t.name.casefold() for t in templates}
    name, n = f"{info.name} (copy)", 2
    while name.casefold() in taken:
        name, n = f"{info.name} (copy {n})", n + 1
    return name


class TemplatesController(QObject):
    def __init__(self, services: AppServices, page: TemplatesView, parent: QObject) -> None:
        super().__init__(parent)
        self._service = services.templates
        self.is_manager = services.user.role in MANAGERS
        self._page = page
        self.busy = False

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._page.set_busy(busy)

    def _run(self, coro: Coroutine[Any, Any, Any]) -> None:
        """One change at a time; errors go to a toast."""
        spawn_one_at_a_time(coro, busy=self.busy, set_busy=self._set_busy, on_error=self._error)

    def _error(self, message: str) -> None:
        self._page.notify.emit("error", message)

    def schedule_refresh(self) -> None:
        spawn(self.refresh(), on_error=self._error)

    async def refresh(self) -> None:
        self._page.set_templates(await self._service.list_templates())

    def new_template(self) -> None:
        self._run(self._edit(None))

    def edit(self, info: TemplateInfo) -> None:
        self._run(self._edit(info))

    async def _edit(self, info: TemplateInfo | None) -> None:
        async def save(draft: TemplateDraft) -> TemplateInfo:
            if info is None:
                return await self._service.create(draft.name, draft.content(), clinic_wide=draft.clinic_wide)
            return await self._service.update(info.id, name=draft.name, content=draft.content())

        saved = await self._page.run_editor(save, info, can_share=self.is_manager)
        if saved is not None:
            self._page.set_templates(await self._service.list_templates(), select=saved.id)
            self._page.notify.emit("success", f"Saved “{saved.name}”." if info else f"Created “{saved.name}”.")

    def duplicate(self, info: TemplateInfo) -> None:
        self._run(self._duplicate(info))

    async def _duplicate(self, info: TemplateInfo) -> None:
        copy = await self._service.duplicate(info.id, copy_name(info, self._page.templates()))
        self._page.set_templates(await self._service.list_templates(), select=copy.id)
        self._page.notify.emit("success", f"Duplicated as “{copy.name}”: it is yours to edit.")

    def set_default(self, info: TemplateInfo) -> None:
        self._run(self._set_default(info))

    async def _set_default(self, info: TemplateInfo) -> None:
        chosen = await self._service.set_default(info.id)
        self._page.set_templates(await self._service.list_templates(), select=chosen.id)
        self._page.notify.emit("success", f"“{chosen.name}” is now your default template.")

    def delete(self, info: TemplateInfo) -> None:
        self._run(self._delete(info))

    async def _delete(self, info: TemplateInfo) -> None:
        if not await self._page.confirm_delete(info):
            return
        await self._service.delete(info.id)
        self._page.forget_selection()
        self._page.set_templates(await self._service.list_templates())
        self._page.notify.emit("success", f"Deleted “{info.name}”.")
