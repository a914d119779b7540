"""Importing several recordings at once: the audio and video files of a folder, a look at each before it is
imported (its date, whether it is in a session already or twice in the batch), then the imports one after another
— one file failing does not stop the others. The GUI and the CLI share it."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tbdesktop.errors import DuplicateRecordingError, TBError, ValidationError
from tbdesktop.services.digest import FileDigest
from tbdesktop.services.dto import SessionInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.sessions import AUDIO_EXTENSIONS, ImportRequest, SessionService

log = logging.getLogger(__name__)

# What a folder import picks up: the recordings the importer takes, and the video containers a phone or a video
# call leaves (their audio track is what is imported).
MEDIA_EXTENSIONS = tuple(
    dict.fromkeys((*AUDIO_EXTENSIONS, ".aif", ".aiff", ".wma", ".amr", ".3gp", ".mov", ".m4v", ".mkv", ".avi"))
)

FROM_METADATA = "metadata"
FROM_NAME = "file name"
FROM_MODIFIED = "modified"

IMPORTED = "imported"
FAILED = "failed"
SKIPPED = "skipped"

# 2026-12-01, 2026_12_01, 20261201, with or without a time after it (2026-12-01_14-30): the day is what counts.
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)([-_.]?)(\d\d)\2(\d\d)(?!\d)")


def date_in_name(name: str) -> date | None:
    """The first real calendar day written in a file name, or None."""
    for match in _NAME_DATE.finditer(name):
        try:
            return date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
        except ValueError:
            continue
    return None


def recording_date(path: Path, *, today: date | None = None) -> tuple[date, str]:
    """The day a recording was made and where that came from: its container's tags, else a date in its file name,
    else the file's modification day. A day in the future is not believed."""
    from tbdesktop.engine.media_date import creation_time

    today = today or date.today()
    moment = creation_time(path)
    if moment is not None:
        day = moment.astimezone().date() if moment.tzinfo is not None else moment.date()
        if day <= today:
            return day, FROM_METADATA
    named = date_in_name(path.stem)
    if named is not None and named <= today:
        return named, FROM_NAME
    modified = datetime.fromtimestamp(path.stat().st_mtime).date()
    return min(modified, today), FROM_MODIFIED


def is_media_file(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS and not path.name.startswith(".")


def media_files(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The audio and video files of a folder (and of its subfolders when asked), in name order."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValidationError(f"The folder '{folder.name or folder}' does not exist.")
    try:
        found = folder.rglob("*") if recursive else folder.iterdir()
        files = [p for p in found if is_media_file(p) and p.is_file() and not _hidden(p.relative_to(folder))]
    except OSError as exc:
        raise ValidationError(f"The folder '{folder.name}' cannot be read ({exc.strerror}).") from exc
    return sorted(files, key=lambda p: [part.casefold() for part in p.relative_to(folder).parts])


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


@dataclass(frozen=True)
class ImportCandidate:
    """One file of a batch as found before anything is imported."""

    source: Path
    size: int
    session_date: date
    date_source: str  # FROM_METADATA, FROM_NAME or FROM_MODIFIED
    sha256: str | None = None
    problem: str | None = None  # why it cannot be imported at all (missing, empty, unreadable)
    duplicate_of: uuid.UUID | None = None  # the session that already holds this recording
    duplicate_message: str | None = None  # the duplicate check's own words about it
    same_as: int | None = None  # the earlier file of this batch with the same content (its index)

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None or self.same_as is not None


@dataclass(frozen=True)
class BatchItem:
    """A file to import, or to pass over with the reason (a duplicate nobody asked to import again)."""

    request: ImportRequest
    skip_reason: str | None = None


@dataclass(frozen=True)
class BatchResult:
    source: Path
    status: str  # IMPORTED, FAILED or SKIPPED
    session: SessionInfo | None = None
    error: str | None = None
    existing_id: uuid.UUID | None = None  # a duplicate: the session that already holds the recording

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.source),
            "status": self.status,
            "id": str(self.session.id) if self.session is not None else None,
            "error": self.error,
            "existing_id": str(self.existing_id) if self.existing_id is not None else None,
            "session": self.session.to_json() if self.session is not None else None,
        }


BatchCopyProgress = Callable[[int, int, int], None]  # (index, bytes done, bytes in all)
BatchResultSink = Callable[[int, BatchResult], None]
BatchStarted = Callable[[int], None]


def inspect_file(path: Path) -> ImportCandidate:
    """A file's size, date and content hash, or the reason it cannot be imported (duplicates are checked by
    ``BatchImportService.inspect_sync``)."""
    return _look_at(path)[0]


def _look_at(path: Path) -> tuple[ImportCandidate, FileDigest | None]:
    today = date.today()
    try:
        if not path.is_file():
            return ImportCandidate(path, 0, today, FROM_MODIFIED, problem="The file does not exist."), None
        st = path.stat()
        if st.st_size == 0:
            return ImportCandidate(path, 0, today, FROM_MODIFIED, problem="The file is empty."), None
        day, source = recording_date(path, today=today)
        digest = FileDigest.of(path, st)
        return ImportCandidate(path, st.st_size, day, source, sha256=digest.sha256), digest
    except OSError as exc:
        problem = f"The file cannot be read ({exc.strerror})."
        return ImportCandidate(path, 0, today, FROM_MODIFIED, problem=problem), None


class BatchImportService:
    """Several imports through the one ``SessionService`` import path (the same checks, duplicates included)."""

    def __init__(self, sessions: SessionService) -> None:
        self.sessions = sessions
        # The hashes the duplicate check took, handed to the import so that a file unchanged since is read once.
        self._digests: dict[Path, FileDigest] = {}

    # -- before importing ------------------------------------------------------------------------------

    def inspect_sync(
        self, paths: Sequence[Path], on_done: Callable[[int], None] | None = None
    ) -> list[ImportCandidate]:
        """Each file's date, content hash and duplicates (of a session of mine, or of an earlier file here)."""
        found: list[ImportCandidate] = []
        first_with: dict[str, int] = {}
        for index, raw in enumerate(paths):
            path = Path(raw).expanduser()
            candidate, digest = _look_at(path)
            if digest is not None:
                self._digests[path.absolute()] = digest
            if candidate.sha256 is not None:
                earlier = first_with.setdefault(candidate.sha256, index)
                if earlier != index:
                    candidate = _with(candidate, same_as=earlier)
            found.append(candidate)
            if on_done is not None:
                on_done(index)
        hashed = [(i, c) for i, c in enumerate(found) if c.sha256 is not None and c.same_as is None]
        duplicates = self.sessions.find_duplicates_sync([(c.sha256 or "", c.source.name) for _, c in hashed])
        for (index, candidate), duplicate in zip(hashed, duplicates, strict=True):
            if duplicate is not None:
                existing = duplicate.existing_id if isinstance(duplicate.existing_id, uuid.UUID) else None
                found[index] = _with(candidate, duplicate_of=existing, duplicate_message=duplicate.message)
        return found

    async def inspect(
        self, paths: Sequence[Path], on_done: Callable[[int], None] | None = None
    ) -> list[ImportCandidate]:
        return await asyncio.to_thread(self.inspect_sync, list(paths), on_done)

    # -- importing -------------------------------------------------------------------------------------

    def import_all_sync(
        self,
        items: Sequence[BatchItem],
        *,
        on_start: BatchStarted | None = None,
        on_copy: BatchCopyProgress | None = None,
        on_result: BatchResultSink | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[BatchResult]:
        """Import the items one after another; every item gets a result, whatever happened to the others.
        ``import_all`` does it on a worker thread; the callbacks are called on that thread."""
        results: list[BatchResult] = []
        for index, item in enumerate(items):
            if item.skip_reason is not None:
                result = BatchResult(item.request.source, SKIPPED, error=item.skip_reason)
            elif should_stop is not None and should_stop():
                result = BatchResult(item.request.source, SKIPPED, error="The import was stopped before this file.")
            else:
                if on_start is not None:
                    on_start(index)
                result = self._import_one(index, item.request, on_copy)
            results.append(result)
            if on_result is not None:
                on_result(index, result)
        log.info(
            "batch imported",
            extra={
                "files": len(results),
                "imported": sum(r.status == IMPORTED for r in results),
                "failed": sum(r.status == FAILED for r in results),
                "skipped": sum(r.status == SKIPPED for r in results),
            },
        )
        return results

    import_all = off_loop(import_all_sync)

    def _import_one(self, index: int, request: ImportRequest, on_copy: BatchCopyProgress | None) -> BatchResult:
        source = Path(request.source)

        def copied(done: int, total: int) -> None:
            if on_copy is not None:
                on_copy(index, done, total)

        try:
            digest = self._digests.pop(source.expanduser().absolute(), None)  # used once: the window keeps one service
            if digest is None:
                info = self.sessions.import_recording_sync(request, copied)
            else:
                info = self.sessions.import_inspected_sync(request, digest, copied)
        except DuplicateRecordingError as exc:
            existing = exc.existing_id if isinstance(exc.existing_id, uuid.UUID) else None
            return BatchResult(source, SKIPPED, error=exc.message, existing_id=existing)
        except TBError as exc:
            return BatchResult(source, FAILED, error=exc.message)
        except OSError as exc:
            return BatchResult(source, FAILED, error=f"'{source.name}' could not be read ({exc.strerror}).")
        except Exception as exc:  # one file's surprise must not cost the others their import
            log.error("batch import of a file failed", extra={"index": index, "error_type": type(exc).__name__})
            return BatchResult(source, FAILED, error=f"'{source.name}' could not be imported ({type(exc).__name__}).")
        return BatchResult(source, IMPORTED, session=info)


def _with(candidate: ImportCandidate, **changes: Any) -> ImportCandidate:
    return replace(candidate, **changes)
