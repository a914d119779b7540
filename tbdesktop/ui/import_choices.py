"""What the import dialog offers and checks, as plain data: the file types, the session types, the client a typed
name means, and what is wrong with a chosen recording."""

from __future__ import annotations

from pathlib import Path

from tbdesktop.services.batch_import import MEDIA_EXTENSIONS
from tbdesktop.services.dto import ClientInfo

IMPORT_EXTENSIONS = (".wav", ".mp3", ".m4a", ".ogg", ".webm", ".flac")
FILE_FILTER = (
    "Audio and video recordings ("
    + " ".join(f"*{e}" for e in MEDIA_EXTENSIONS)
    + ");;Audio recordings ("
    + " ".join(f"*{e}" for e in IMPORT_EXTENSIONS)
    + ");;All files (*)"
)
NO_CLIENT = "No client"
SESSION_TYPE_CHOICES = (
    ("individual", "Individual (therapist and client)"),
    ("couples", "Couples (therapist and two clients)"),
    ("family", "Family"),
    ("group", "Group"),
)


def matching_client(clients: list[ClientInfo], text: str) -> ClientInfo | None:
    """The client whose name is ``text`` (case and outer spaces aside), if any."""
    key = text.strip().casefold()
    return next((c for c in clients if c.name.strip().casefold() == key), None)


def recording_problem(path: Path | None) -> str | None:
    """Why ``path`` cannot be imported as a recording; None when it can."""
    if path is None:
        return "Choose the recording to import."
    if not path.is_file():
        return "That file does not exist."
    if path.suffix.lower() not in MEDIA_EXTENSIONS:
        return "Choose a WAV, MP3, M4A, OGG, WebM or FLAC recording."
    if path.stat().st_size == 0:
        return "That file is empty."
    return None
