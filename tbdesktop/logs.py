"""Log output: one line per event with its structured fields (ids, counts, error types — never PHI), on stderr
and, for the window app, in a rotating file in the data folder for IT."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class FieldsFormatter(logging.Formatter):
    """The standard line plus the record's ``extra`` fields as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        return line


def configure(verbose: bool = False) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_tb_console", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._tb_console = True  # type: ignore[attr-defined]
        handler.setFormatter(FieldsFormatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files readable by this account only (0600), the rotated ones too."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)  # noqa: SIM115


def add_log_file(folder: Path) -> Path | None:
    """``folder/tbdesktop.log`` (0600, in a 0700 folder), rotated at 1 MB (5 kept), at INFO level; None when the
    folder is not writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name == "posix":
            folder.chmod(0o700)
        handler = PrivateRotatingFileHandler(
            folder / "tbdesktop.log", maxBytes=1 << 20, backupCount=5, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(FieldsFormatter(FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
        for other in root.handlers:
            if getattr(other, "_tb_console", False) and other.level == logging.NOTSET:
                other.setLevel(logging.WARNING)
    return folder / "tbdesktop.log"
