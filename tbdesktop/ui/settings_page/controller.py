"""What the Settings page does: loading, saving, the API keys, and the note model's GPU question and test run,
each through the services, off the UI thread; the page only renders what comes back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QObject, SignalInstance

from tbdesktop.errors import TBError
from tbdesktop.services.bundle import AppServices
from tbdesktop.services.settings import PrivacySettings, ProcessingSettings, SettingsValidationError, SettingsView
from tbdesktop.ui.about_section import AboutSection
from tbdesktop.ui.aio import spawn, user_message
from tbdesktop.ui.settings_page.fields import KeyField
from tbdesktop.ui.settings_page.notes_model import ModelTestBox, ModelTestInput, NotesModelRows
from tbdesktop.ui.settings_page.profile import ProfileSection


class SettingsForm(Protocol):
    """What the controller needs from the Settings page: its toast signal, its sections, the form's values and
    where to show what came back."""

    @property
    def notify(self) -> SignalInstance: ...

    @property
    def profile_section(self) -> ProfileSection: ...

    @property
    def about(self) -> AboutSection: ...

    @property
    def model_rows(self) -> NotesModelRows: ...

    @property
    def model_test(self) -> ModelTestBox: ...

    def set_busy(self, busy: bool) -> None: ...

    def view(self) -> SettingsView | None: ...

    def set_view(self, view: SettingsView) -> None: ...

    def update_keys(self, view: SettingsView) -> None: ...

    def key_field(self, name: str) -> KeyField: ...

    def processing(self) -> ProcessingSettings: ...

    def privacy(self) -> PrivacySettings: ...

    def problems(self) -> dict[str, str]: ...

    def show_errors(self, errors: dict[str, str]) -> None: ...

    def show_form_error(self, message: str) -> None: ...

    def show_saved(self, message: str) -> None: ...


class SettingsController(QObject):
    """One call at a time to the settings service; the note model's test runs beside them."""

    def __init__(self, services: AppServices, page: SettingsForm, parent: QObject) -> None:
        super().__init__(parent)
        self._settings = services.settings
        self._profiles = services.profiles
        self._models = services.notes_model
        self._page = page
        self.busy = False
        self._gpu_asked = False
        self._model_test: asyncio.Task[None] | None = None

    def run(self, coro: Coroutine[Any, Any, Any], on_error: Callable[[BaseException], None] | None = None) -> None:
        """One call at a time; a TBError's message goes to ``on_error`` (else a toast)."""
        if self.busy:
            coro.close()
            return
        self.busy = True
        self._page.set_busy(True)

        async def guarded() -> None:
            try:
                await coro
            except TBError as exc:
                if on_error is None:
                    raise
                on_error(exc)
            finally:
                self.busy = False
                self._page.set_busy(False)

        spawn(guarded(), on_error=lambda message: self._page.notify.emit("error", message))

    # -- loading and saving ---------------------------------------------------------------------------

    def schedule_refresh(self) -> None:
        self.run(self.refresh())

    async def refresh(self) -> None:
        profile = self._page.profile_section
        profile.show_practice(await self._profiles.practice_name(profile.user.id))
        self._page.set_view(await self._settings.view())
        self._page.about.set_info(await self._settings.about())

    def save(self) -> None:
        problems = self._page.problems()
        if problems:  # outside what the clinic's IT allows: said in place, nothing sent
            self._page.show_errors(problems)
            return
        self.run(self._save(), on_error=self._save_failed)

    async def _save(self) -> None:
        page = self._page
        before = page.view()
        view = await self._settings.save(page.processing(), page.privacy())
        page.set_view(view)
        restart = before is not None and view.processing != before.processing
        message = "Settings saved." + (" Processing changes apply after a restart." if restart else "")
        page.show_saved(message)
        page.notify.emit("success", message)

    def _save_failed(self, exc: BaseException) -> None:
        if isinstance(exc, SettingsValidationError):
            self._page.show_errors(exc.errors)
        else:
            self._page.show_form_error(user_message(exc))
            self._page.notify.emit("error", user_message(exc))

    # -- the profile (owner-only, audited by the service) ---------------------------------------------

    def save_profile(self, name: str, email: str, practice: str) -> None:
        section = self._page.profile_section
        user = section.user
        spawn(
            self._profiles.update_profile(user, user.id, name, email, practice),
            on_error=section.profile_failed,
            on_done=section.profile_saved,
        )

    def change_passcode(self, new: str, current: str) -> None:
        section = self._page.profile_section
        spawn(
            self._profiles.change_passcode(section.user.id, new, current or None),
            on_error=section.passcode_failed,
            on_done=lambda _none: section.passcode_changed(),
        )

    # -- API keys -------------------------------------------------------------------------------------

    def save_key(self, name: str, value: str) -> None:
        self._change_key(name, lambda: self._settings.set_api_key(name, value), "The API key was stored.")

    def clear_key(self, name: str) -> None:
        self._change_key(name, lambda: self._settings.clear_api_key(name), "The API key was removed.")

    def _change_key(self, name: str, call: Callable[[], Coroutine[Any, Any, SettingsView]], done: str) -> None:
        page = self._page

        def failed(exc: BaseException) -> None:
            page.key_field(name).show_error(user_message(exc))
            page.notify.emit("error", user_message(exc))

        async def change() -> None:
            page.update_keys(await call())
            page.notify.emit("success", done)

        self.run(change(), on_error=failed)

    # -- the note model on this workstation -----------------------------------------------------------

    def llm_shown(self) -> None:
        """Whether the notes runtime has a GPU, asked once, in a child process: loading the runtime here would
        cost the window seconds (and GPU memory)."""
        if not self._gpu_asked:
            self._gpu_asked = True
            spawn(self._ask_gpu())

    async def _ask_gpu(self) -> None:
        self._page.model_rows.show_gpu(await self._models.gpu_devices())

    @property
    def model_test_running(self) -> bool:
        return self._model_test is not None and not self._model_test.done()

    def test_model(self) -> None:
        """Test the model in the fields (saved or not) in a separate process; the window stays usable."""
        if self.model_test_running:
            return
        box = self._page.model_test
        box.set_busy(True)
        self._model_test = spawn(
            self._test_model(self._page.model_rows.test_input()),
            on_error=lambda message: box.show_message(message, "error"),
        )

    async def _test_model(self, given: ModelTestInput) -> None:
        box = self._page.model_test
        try:
            result = await self._models.test_model(given.path, given.threads, given.gpu_layers, given.context)
        finally:
            box.set_busy(False)
        box.show_result(result)

    def model_changed(self) -> None:
        """A result describes the file and settings it ran with: a change makes it old news."""
        if not self.model_test_running:
            self._page.model_test.clear()

    def cancel_model_test(self) -> None:
        """Stop the test: its process is ended (the service's clean-up) and the page is ready for another."""
        if self._model_test is not None and not self._model_test.done():
            self._model_test.cancel()
            self._page.model_test.set_busy(False)
            self._page.model_test.show_message("The test was cancelled.", "none")
