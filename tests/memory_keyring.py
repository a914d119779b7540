"""A keyring backend held in memory. This machine has no OS keyring, so tests (and the sync bench) select this one
explicitly; tests of the passcode-encrypted store ask for it with ``secret_store="file"``."""

from __future__ import annotations

from typing import Any


class MemoryKeyring:
    @staticmethod
    def backend() -> Any:
        from keyring.backend import KeyringBackend

        class Memory(KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def __init__(self) -> None:
                super().__init__()
                self.store: dict[tuple[str, str], str] = {}

            def get_password(self, service: str, username: str) -> str | None:
                return self.store.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.store[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                self.store.pop((service, username), None)

        return Memory()
