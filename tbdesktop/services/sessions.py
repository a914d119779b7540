"""Sessions: import a recording, list, show, status and transcript — all scoped to the signed-in user. The
session's lifecycle (``SessionLifecycle``) and speaker corrections (``SpeakerEditing``) are collaborators it holds;
their methods are offered here, so the GUI, the CLI and the tests use one service."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tbdesktop.engine.errors import AudioTooLongError, EngineError
from tbdesktop.errors import DuplicateRecordingError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import client_info, masked_segment, segment_info, status_info
from tbdesktop.services.digest import FileDigest
from tbdesktop.services.dto import ClientInfo, SegmentInfo, SessionInfo, StatusInfo, UserInfo
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.recording_vault import PlainCopy
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT, CONSENT_METHODS, SessionLifecycle
from tbdesktop.services.session_views import consent_required, describe, describe_all
from tbdesktop.services.speakers.service import NEW_SPEAKER, SpeakerEditing, SpeakersChange
from tbdesktop.store.models import (
    SESSION_TYPES,
    JobKind,
    ProcessingStatus,
    TherapySession,
    utcnow,
)
from tbdesktop.store.repositories import (
    AuditRepository,
    ClientRepository,
    SessionRepository,
    SystemJobRepository,
    UserRepository,
)

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".ogg", ".webm", ".flac", ".opus", ".aac", ".mp4")
CopyProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportRequest:
    source: Path
    client_name: str | None = None
    client_id: uuid.UUID | None = None
    session_date: date | None = None
    consent_method: str | None = None
    session_type: str = "individual"
    allow_duplicate: bool = False  # import even when the same recording is in one of my sessions already


class SessionService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user
        self._lifecycle = SessionLifecycle(ctx, user)
        self._speakers = SpeakerEditing(ctx, user)

    # -- import -------------------------------------------------------------------------------------------

    def import_recording_sync(self, req: ImportRequest, on_copy: CopyProgress | None = None) -> SessionInfo:
        return self._import(req, on_copy, None)

    import_recording = off_loop(import_recording_sync)

    def import_inspected_sync(
        self, req: ImportRequest, digest: FileDigest, on_copy: CopyProgress | None = None
    ) -> SessionInfo:
        """As ``import_recording_sync`` for a file hashed when it was looked at (a batch's duplicate check): that
        hash is kept while the file is unchanged since, instead of hashing it again as it is copied."""
        return self._import(req, on_copy, digest)

    def _import(self, req: ImportRequest, on_copy: CopyProgress | None, digest: FileDigest | None) -> SessionInfo:
        from tbdesktop.engine.audio import probe

        source = Path(req.source).expanduser()
        if not source.is_file():
            raise ValidationError(f"The file '{source.name}' does not exist or is not a file.")
        size = source.stat().st_size
        if size == 0:
            raise ValidationError(f"'{source.name}' is empty: it holds no audio.")
        if req.session_type not in SESSION_TYPES:
            raise ValidationError("Session type must be individual, couples, family or group.")
        if req.consent_method is not None and req.consent_method not in CONSENT_METHODS:
            raise ValidationError("Consent method must be verbal, written or electronic.")
        if req.client_name is not None and len(req.client_name.strip()) > 200:
            raise ValidationError("The client name is too long (200 characters at most).")
        try:
            info = probe(source, max_duration_s=self.ctx.settings.max_duration_s)
        except AudioTooLongError as exc:
            raise ValidationError(
                f"'{source.name}' is {exc.duration_s / 60:.0f} minutes long; the limit is "
                f"{exc.limit_s / 60:.0f} minutes (TB_MAX_DURATION_MIN)."
            ) from exc
        except EngineError as exc:
            raise ValidationError(f"'{source.name}' cannot be imported: {exc.message}") from exc

        suffix = source.suffix.lower() if source.suffix.lower() in AUDIO_EXTENSIONS else ".audio"
        stored_name = f"{uuid.uuid4().hex}{suffix}"
        # Encrypted while it is copied: no plaintext byte of the recording is written into the data folder.
        known = digest.sha256 if digest is not None and digest.matches(source.stat()) else None
        sha256, wrapped_key = self.ctx.recordings.store(
            source, stored_name, self.user.id, size, on_copy, known_sha256=known
        )
        try:
            with self.ctx.db.unit_of_work() as s:
                if not req.allow_duplicate:
                    self._refuse_duplicate(s, sha256, source.name)
                client_id = self._resolve_client(s, req)
                row = SessionRepository(s, self.user.id).add(
                    TherapySession(
                        client_id=client_id,
                        session_date=req.session_date or date.today(),
                        duration_mins=round(info.duration_s / 60.0, 2),
                        recording_path=stored_name,
                        recording_host=self.ctx.workstation,
                        recording_sha256=sha256,
                        recording_key=wrapped_key,
                        recording_bytes=size,
                        processing_status=ProcessingStatus.QUEUED,
                        processing_progress=0,
                        processing_stage_detail="Waiting to start",
                        consent_method=req.consent_method,
                        session_type=req.session_type,
                        consent_obtained_at=utcnow() if req.consent_method else None,
                        speakers={},
                    )
                )
                if req.consent_method is None and consent_required(s, self.user.id, self.ctx.settings.policy):
                    # Kept, not processed, until the client's consent is recorded (``update(consent_method=…)``).
                    row.processing_stage_detail = AWAITING_CONSENT
                else:
                    SystemJobRepository(s).enqueue(row.id, JobKind.PROCESS.value)
                AuditRepository(s, self.user.id, self.ctx.workstation).record(
                    "session.import", "therapy_session", row.id
                )
                result = self._info(s, row)
        except BaseException:
            self.ctx.recordings.destroy(stored_name)
            raise
        log.info("session imported", extra={"session_id": str(result.id), "bytes": size})
        return result

    def _refuse_duplicate(self, s: Session, sha256: str, file_name: str) -> None:
        """The same recording (same content) in one of my sessions already: say which, and import nothing."""
        existing = SessionRepository(s, self.user.id).with_recording(sha256)
        if existing is None:
            return
        info = self._info(s, existing)
        who = f" with {info.client_name}" if info.client_name and not info.is_anonymous else ""
        raise DuplicateRecordingError(
            f"'{file_name}' was imported before: it is the recording of the session{who} on "
            f"{existing.session_date:%d %b %Y}. Open that session, or import it again as a new one.",
            existing.id,
        )

    def find_duplicates_sync(self, recordings: Sequence[tuple[str, str]]) -> list[DuplicateRecordingError | None]:
        """For each (sha256, file name): what importing it would be refused with (the same recording is in one of
        my sessions already), or None — the check an import makes, made before anything is copied."""
        found: list[DuplicateRecordingError | None] = []
        with self.ctx.db.unit_of_work() as s:
            for sha256, file_name in recordings:
                try:
                    self._refuse_duplicate(s, sha256, file_name)
                except DuplicateRecordingError as exc:
                    found.append(exc)
                else:
                    found.append(None)
        return found

    def last_consent_methods_sync(self) -> dict[uuid.UUID, str]:
        """Each of my clients' consent method as their latest session with one recorded it (a returning client's
        consent is offered again on import)."""
        found: dict[uuid.UUID, str] = {}
        with self.ctx.db.unit_of_work() as s:
            for row in SessionRepository(s, self.user.id).list():  # newest session first
                if row.client_id is not None and row.consent_method and row.client_id not in found:
                    found[row.client_id] = row.consent_method
        return found

    last_consent_methods = off_loop(last_consent_methods_sync)

    def set_consent_required_sync(self, required: bool) -> None:
        """My setting: whether a session needs recorded consent before it is processed (on by default); it cannot
        be turned off where the clinic policy requires consent."""
        if not required and self.ctx.settings.policy.consent_required:
            raise ValidationError("Your clinic's IT requires recorded consent before a session is processed.")
        with self.ctx.db.unit_of_work() as s:
            user = UserRepository(s).get(self.user.id)
            user.settings = {**(user.settings or {}), "consent_required": bool(required)}
            AuditRepository(s, self.user.id, self.ctx.workstation).record("settings.consent", "user", user.id)

    def _resolve_client(self, s: Session, req: ImportRequest) -> uuid.UUID | None:
        clients = ClientRepository(s, self.user.id)
        if req.client_id is not None:
            return clients.get(req.client_id).id
        name = (req.client_name or "").strip()
        if not name:
            return None
        existing = clients.find_by_name(name)
        return (existing or clients.add(name)).id

    # -- queries ------------------------------------------------------------------------------------------

    def _info(self, s: Session, row: TherapySession) -> SessionInfo:
        return describe(s, self.user, row)

    def list_sessions_sync(self, client_id: uuid.UUID | None = None) -> list[SessionInfo]:
        with self.ctx.db.unit_of_work() as s:
            return describe_all(s, self.user, SessionRepository(s, self.user.id).list(client_id=client_id))

    list_sessions = off_loop(list_sessions_sync)

    def get_sync(self, session_id: uuid.UUID | str) -> SessionInfo:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(sid)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("session.view", "therapy_session", sid)
            return self._info(s, row)

    get = off_loop(get_sync)

    def status_sync(self, session_id: uuid.UUID | str) -> StatusInfo:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            return status_info(SessionRepository(s, self.user.id).get(sid))

    status = off_loop(status_sync)

    def transcript_sync(self, session_id: uuid.UUID | str) -> list[SegmentInfo]:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            segments = repo.segments(sid)
            hidden = repo.hidden_client_name(sid)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("transcript.view", "therapy_session", sid)
            return [masked_segment(segment_info(seg), hidden) for seg in segments]

    transcript = off_loop(transcript_sync)

    # -- clients ------------------------------------------------------------------------------------------

    def list_clients_sync(self) -> list[ClientInfo]:
        with self.ctx.db.unit_of_work() as s:
            return [client_info(c) for c in ClientRepository(s, self.user.id).list()]

    list_clients = off_loop(list_clients_sync)

    def create_client_sync(self, name: str, pronouns: str | None = None) -> ClientInfo:
        clean = (name or "").strip()
        if not clean:
            raise ValidationError("Please enter the client's name.")
        if len(clean) > 200:
            raise ValidationError("The client name is too long (200 characters at most).")
        with self.ctx.db.unit_of_work() as s:
            repo = ClientRepository(s, self.user.id)
            client = repo.find_by_name(clean) or repo.add(clean, pronouns)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("client.create", "client", client.id)
            return client_info(client)

    create_client = off_loop(create_client_sync)

    # -- the session's lifecycle (SessionLifecycle) ---------------------------------------------------------

    def open_recording_sync(self, session_id: uuid.UUID | str) -> PlainCopy:
        return self._lifecycle.open_recording_sync(session_id)

    open_recording = off_loop(open_recording_sync)

    def seal_plain_recordings_sync(self) -> int:
        return self._lifecycle.seal_plain_recordings_sync()

    def delete_recording_sync(
        self, session_id: uuid.UUID | str, *, audit_action: str = "recording.delete"
    ) -> SessionInfo:
        return self._lifecycle.delete_recording_sync(session_id, audit_action=audit_action)

    async def delete_recording(self, session_id: uuid.UUID | str) -> SessionInfo:
        return await self._lifecycle.delete_recording(session_id)

    def delete_transcript_sync(
        self, session_id: uuid.UUID | str, *, audit_action: str = "transcript.delete"
    ) -> SessionInfo:
        return self._lifecycle.delete_transcript_sync(session_id, audit_action=audit_action)

    async def delete_transcript(self, session_id: uuid.UUID | str) -> SessionInfo:
        return await self._lifecycle.delete_transcript(session_id)

    def delete_session_sync(self, session_id: uuid.UUID | str) -> None:
        self._lifecycle.delete_session_sync(session_id)

    delete_session = off_loop(delete_session_sync)

    def set_anonymous_sync(self, session_id: uuid.UUID | str, anonymous: bool) -> SessionInfo:
        return self._lifecycle.set_anonymous_sync(session_id, anonymous)

    set_anonymous = off_loop(set_anonymous_sync)

    def reassign_sync(
        self, session_id: uuid.UUID | str, *, client_id: uuid.UUID | None = None, client_name: str | None = None
    ) -> SessionInfo:
        return self._lifecycle.reassign_sync(session_id, client_id=client_id, client_name=client_name)

    reassign = off_loop(reassign_sync)

    def update_sync(
        self,
        session_id: uuid.UUID | str,
        *,
        session_date: date | None = None,
        consent_method: str | None = None,
        speaker_names: dict[str, str | None] | None = None,
    ) -> SessionInfo:
        return self._lifecycle.update_sync(
            session_id, session_date=session_date, consent_method=consent_method, speaker_names=speaker_names
        )

    async def update(self, session_id: uuid.UUID | str, **changes: Any) -> SessionInfo:
        return await self._lifecycle.update(session_id, **changes)

    def fix_segment_sync(
        self, session_id: uuid.UUID | str, idx: int, *, text: str | None = None, speaker: str | None = None
    ) -> SegmentInfo:
        return self._lifecycle.fix_segment_sync(session_id, idx, text=text, speaker=speaker)

    fix_segment = off_loop(fix_segment_sync)

    def cancel_sync(self, session_id: uuid.UUID | str) -> bool:
        return self._lifecycle.cancel_sync(session_id)

    cancel = off_loop(cancel_sync)

    def retry_sync(self, session_id: uuid.UUID | str) -> SessionInfo:
        return self._lifecycle.retry_sync(session_id)

    retry = off_loop(retry_sync)

    # -- speaker corrections (SpeakerEditing) ---------------------------------------------------------------

    def split_line_sync(
        self,
        session_id: uuid.UUID | str,
        idx: int,
        at_word: int,
        speaker: str = NEW_SPEAKER,
        *,
        role: str | None = None,
        name: str | None = None,
    ) -> SpeakersChange:
        return self._speakers.split_line_sync(session_id, idx, at_word, speaker, role=role, name=name)

    split_line = off_loop(split_line_sync)

    def merge_speakers_sync(self, session_id: uuid.UUID | str, source: str, into: str) -> SpeakersChange:
        return self._speakers.merge_speakers_sync(session_id, source, into)

    merge_speakers = off_loop(merge_speakers_sync)

    def add_speaker_sync(self, session_id: uuid.UUID | str, role: str, name: str | None = None) -> SpeakersChange:
        return self._speakers.add_speaker_sync(session_id, role, name)

    add_speaker = off_loop(add_speaker_sync)

    def rediarize_sync(self, session_id: uuid.UUID | str, voices: int | None = None) -> SpeakersChange:
        return self._speakers.rediarize_sync(session_id, voices)

    rediarize = off_loop(rediarize_sync)

    def set_speaker_role_sync(self, session_id: uuid.UUID | str, speaker: str, role: str) -> SessionInfo:
        return self._speakers.set_speaker_role_sync(session_id, speaker, role)

    set_speaker_role = off_loop(set_speaker_role_sync)
