"""Secrets (API keys) live in the operating system's keyring, never in settings files or the database."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SERVICE = "TherapyBridge"


class SecretStoreError(Exception):
    pass


def get_secret(name: str) -> str | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, name)
    except KeyringError as exc:
        log.warning("keyring unavailable", extra={"error_type": type(exc).__name__})
        return None


def set_secret(name: str, value: str) -> None:
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, name, value)
    except KeyringError as exc:
        raise SecretStoreError(
            "No secure password store is available on this computer, so the key was not saved."
        ) from exc


def delete_secret(name: str) -> None:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, name)
    except PasswordDeleteError:
        pass
    except KeyringError as exc:
        raise SecretStoreError("The secure password store could not be reached.") from exc
