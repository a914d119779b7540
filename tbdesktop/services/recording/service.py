"""The recording service: input devices, live recorders, and the recordings a crash left behind."""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tbdesktop.errors import NotFoundError, TBError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import JsonMixin, SessionInfo, UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.recording.devices import (
    AudioBackend,
    CaptureFormat,
    InputDevice,
    SoundDeviceBackend,
    list_inputs,
)
from tbdesktop.services.recording.events import RecorderObserver, RecordingParams
from tbdesktop.services.recording.finalize import NothingRecordedError, encode_flac, pcm_bytes, scratch_file
from tbdesktop.services.recording.journal import (
    SUFFIX,
    JournalError,
    JournalHeader,
    JournalLock,
    lock_path,
)
from tbdesktop.services.recording.reader import open_key, summarize, truncate_torn_tail
from tbdesktop.services.recording.recorder import Recorder
from tbdesktop.services.session_lifecycle import CONSENT_METHODS
from tbdesktop.store.models import CAPTURE_KEY, CHANNEL_PER_SPEAKER, SESSION_TYPES
from tbdesktop.store.repositories import AuditRepository, SessionRepository, UserRepository

log = logging.getLogger(__name__)

DEVICE_SETTING = "recording_device"
# A two-channel recording is marked in the session's ``speakers`` JSON (CAPTURE_KEY, kept through processing):
# one microphone per person, so the pipeline reads who spoke from the louder channel (engine/channels.py).
MIN_FREE_S = 600.0
_JOURNAL_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class InterruptedRecording(JsonMixin):
    """A recording a crash (or a closed window) left unsaved: what the offer to recover it shows."""

    id: str
    started_at: datetime
    duration_s: float
    client_name: str | None
    session_date: date | None
    session_type: str
    consent_method: str | None
    channels: int
    sample_rate: int
    size_bytes: int


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class RecordingService:
    def __init__(self, ctx: AppContext, user: UserInfo, backend: AudioBackend | None = None) -> None:
        self.ctx = ctx
        self.user = user
        self.backend: AudioBackend = backend if backend is not None else SoundDeviceBackend()

    @property
    def in_progress_dir(self) -> Path:
        return self.ctx.settings.recordings_dir / "in-progress"

    # -- devices ----------------------------------------------------------------------------------------------

    def list_devices_sync(self, *, rescan: bool = False) -> list[InputDevice]:
        """Input devices with their channel counts (``rescan`` also finds ones plugged in since the start)."""
        if rescan:
            self.backend.rescan()
        return list_inputs(self.backend)

    list_devices = off_loop(list_devices_sync)

    def remembered_device_sync(self) -> str | None:
        with self.ctx.db.unit_of_work() as s:
            value = (UserRepository(s).get(self.user.id).settings or {}).get(DEVICE_SETTING)
        return str(value) if value else None

    remembered_device = off_loop(remembered_device_sync)

    def remember_device_sync(self, name: str) -> None:
        """The device this profile used last, offered first next time."""
        try:
            with self.ctx.db.unit_of_work() as s:
                user = UserRepository(s).get(self.user.id)
                if (user.settings or {}).get(DEVICE_SETTING) == name:
                    return
                user.settings = {**(user.settings or {}), DEVICE_SETTING: name}
                AuditRepository(s, user.id, self.ctx.workstation).record("settings.recording_device", "user", user.id)
        except Exception as exc:  # remembering is a convenience; the recording goes on
            log.warning("recording device not remembered", extra={"error_type": type(exc).__name__})

    def consent_required_sync(self) -> bool:
        """Whether the panel should confirm the client's consent before recording starts (the clinic policy or my
        setting)."""
        with self.ctx.db.unit_of_work() as s:
            mine = bool((UserRepository(s).get(self.user.id).settings or {}).get("consent_required", True))
        return self.ctx.settings.policy.requires_consent(mine)

    consent_required = off_loop(consent_required_sync)

    # -- recording --------------------------------------------------------------------------------------------

    def recorder(self, params: RecordingParams, observer: RecorderObserver | None = None) -> Recorder:
        """A recorder for one session (not started)."""
        if params.session_type not in SESSION_TYPES:
            raise ValidationError("Session type must be individual, couples, family or group.")
        if params.consent_method is not None and params.consent_method not in CONSENT_METHODS:
            raise ValidationError("Consent method must be verbal, written or electronic.")
        if params.client_name is not None and len(params.client_name.strip()) > 200:
            raise ValidationError("The client name is too long (200 characters at most).")
        return Recorder(self, params, (observer,) if observer is not None else ())

    def master_key(self) -> bytes:
        # The same master key that wraps every recording's key (RecordingVault), from this profile's secrets.
        return self.ctx.recordings.master_key(self.user.id, create=True)

    def check_free_space(self, fmt: CaptureFormat) -> None:
        folder = self.ctx.settings.recordings_dir
        folder.mkdir(parents=True, exist_ok=True)
        needed = int(MIN_FREE_S * fmt.sample_rate * fmt.channels * 2)
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise TBError(
                f"The data folder's disk has {free / 1e6:.0f} MB free: not enough for ten minutes of recording. "
                "Free some space and try again."
            )

    def audit_journal(self, action: str, journal_id: str | None) -> None:
        with self.ctx.db.unit_of_work() as s:
            AuditRepository(s, self.user.id, self.ctx.workstation).record(action, "recording", journal_id)

    def finalize_journal(
        self, path: Path, journal_lock: JournalLock, details: dict[str, Any] | None = None
    ) -> SessionInfo:
        """The journal's audio becomes an encrypted recording and a session, through the import path (consent
        gate included); the journal is removed once the session exists. ``journal_lock`` must be held."""
        from tbdesktop.services.sessions import ImportRequest, SessionService

        header = JournalHeader.read(path)
        if header.owner_id != self.user.id:
            raise NotFoundError("That recording does not exist or belongs to someone else.")
        data_key = open_key(header, self.master_key())
        with scratch_file(pcm_bytes(path.stat().st_size), ".flac") as flac:
            decoded = encode_flac(path, header, data_key, flac)
            if decoded.stats.torn_bytes:
                truncate_torn_tail(path, decoded.stats.valid_end)
            if decoded.frames == 0:
                path.unlink(missing_ok=True)
                journal_lock.release(remove=True)
                raise NothingRecordedError("Nothing was recorded, so no session was created.")
            values = {**decoded.details, **{k: v for k, v in (details or {}).items() if v is not None}}
            client_id = values.get("client_id")
            request = ImportRequest(
                source=flac,
                client_name=values.get("client_name"),
                client_id=uuid.UUID(str(client_id)) if client_id else None,
                session_date=_date(values.get("session_date")) or header.started_at.date(),
                consent_method=values.get("consent_method"),
                session_type=str(values.get("session_type") or "individual"),
            )
            sessions = SessionService(self.ctx, self.user)
            try:
                info = sessions.import_recording_sync(request)
            except NotFoundError:
                if request.client_id is None:
                    raise
                # The client was deleted while the recording waited: file it under the name instead.
                info = sessions.import_recording_sync(dataclasses.replace(request, client_id=None))
        if header.channels == 2:
            info = self._mark_two_channels(info, header)
        path.unlink(missing_ok=True)
        journal_lock.release(remove=True)
        log.info(
            "recording saved",
            extra={
                "journal_id": header.id,
                "session_id": str(info.id),
                "seconds": round(decoded.frames / header.sample_rate, 2),
                "gap_frames": decoded.gap_frames,
                "damaged_records": decoded.stats.damaged_records,
                "torn_bytes": decoded.stats.torn_bytes,
            },
        )
        return info

    def _mark_two_channels(self, info: SessionInfo, header: JournalHeader) -> SessionInfo:
        hint = {"channels": 2, "layout": CHANNEL_PER_SPEAKER, "sample_rate": header.sample_rate}
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(info.id, for_update=True)
            speakers = {**(row.speakers or {}), CAPTURE_KEY: hint}
            row.speakers = speakers
        return dataclasses.replace(info, speakers=speakers)

    # -- interrupted recordings -----------------------------------------------------------------------------

    def find_interrupted_sync(self) -> list[InterruptedRecording]:
        """My recordings that no process is recording or saving: left by a crash, a kill or a power cut."""
        folder = self.in_progress_dir
        if not folder.is_dir():
            return []
        found: list[InterruptedRecording] = []
        master: bytes | None = None
        for path in sorted(folder.glob(f"*{SUFFIX}")):
            journal_lock = JournalLock(lock_path(path))
            if not journal_lock.acquire():
                continue  # being recorded or saved right now
            try:
                if not path.is_file():
                    continue
                try:
                    header = JournalHeader.read(path)
                except JournalError:
                    log.warning("unreadable recording journal", extra={"journal": path.stem})
                    continue
                if header.owner_id != self.user.id:
                    continue
                master = master or self.master_key()
                summary = summarize(path, header, open_key(header, master))
                if summary.frames == 0:
                    path.unlink(missing_ok=True)  # it holds no audio
                    continue
                details = summary.details
                found.append(
                    InterruptedRecording(
                        id=header.id,
                        started_at=header.started_at,
                        duration_s=summary.frames / header.sample_rate,
                        client_name=details.get("client_name"),
                        session_date=_date(details.get("session_date")),
                        session_type=str(details.get("session_type") or "individual"),
                        consent_method=details.get("consent_method"),
                        channels=header.channels,
                        sample_rate=header.sample_rate,
                        size_bytes=summary.bytes,
                    )
                )
            finally:
                journal_lock.release(remove=not path.exists())
        for stray in folder.glob("*.lock"):
            if not stray.with_suffix(SUFFIX).exists():
                journal_lock = JournalLock(stray)
                if journal_lock.acquire():
                    journal_lock.release(remove=not stray.with_suffix(SUFFIX).exists())
        return found

    find_interrupted = off_loop(find_interrupted_sync)

    def _claim(self, journal_id: str) -> tuple[Path, JournalLock]:
        if not _JOURNAL_ID.match(journal_id or ""):
            raise NotFoundError("That interrupted recording does not exist.")
        path = self.in_progress_dir / f"{journal_id}{SUFFIX}"
        journal_lock = JournalLock(lock_path(path))
        if not path.is_file():
            raise NotFoundError("That interrupted recording does not exist.")
        if not journal_lock.acquire():
            raise ValidationError("That recording is still being recorded or saved.")
        try:
            if not path.is_file() or JournalHeader.read(path).owner_id != self.user.id:
                raise NotFoundError("That interrupted recording does not exist.")
        except BaseException:
            journal_lock.release()
            raise
        return path, journal_lock

    def recover_sync(
        self, journal_id: str, *, consent_method: str | None = None, client_name: str | None = None
    ) -> SessionInfo:
        """Repairs an interrupted recording (a torn last record is dropped) and makes it a session as stop does;
        ``consent_method`` and ``client_name`` complete what the recorder was given."""
        if consent_method is not None and consent_method not in CONSENT_METHODS:
            raise ValidationError("Consent method must be verbal, written or electronic.")
        path, journal_lock = self._claim(journal_id)
        try:
            overrides = {"consent_method": consent_method, "client_name": client_name}
            info = self.finalize_journal(path, journal_lock, overrides)
        finally:
            if journal_lock.held:
                journal_lock.release()
        self.audit_journal("recording.recover", journal_id)
        return info

    recover = off_loop(recover_sync)

    def discard_sync(self, journal_id: str) -> None:
        """Deletes an interrupted recording for good (the caller has asked the user)."""
        path, journal_lock = self._claim(journal_id)
        try:
            path.unlink(missing_ok=True)
        finally:
            journal_lock.release(remove=True)
        self.audit_journal("recording.discard", journal_id)
        log.info("interrupted recording discarded", extra={"journal_id": journal_id})

    discard = off_loop(discard_sync)
