"""Sessions: import a recording, list, show, status and transcript — all scoped to the signed-in user."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from tbdesktop.engine.errors import AudioTooLongError, EngineError
from tbdesktop.engine.roles import ROLES
from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import client_info, masked_segment, segment_info, session_info, status_info
from tbdesktop.services.dto import ClientInfo, SegmentInfo, SessionInfo, StatusInfo, UserInfo
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.session_lifecycle import AWAITING_CONSENT, CONSENT_METHODS, SessionLifecycle
from tbdesktop.services.speakers.service import SpeakerEditing, regeneration_due, regeneration_due_among
from tbdesktop.store.models import (
    SESSION_TYPES,
    JobKind,
    ProcessingStatus,
    TherapySession,
    TranscriptSegment,
    utcnow,
)
from tbdesktop.store.repositories import (
    AuditRepository,
    ClientRepository,
    JobRepository,
    SessionRepository,
    UserRepository,
)

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".ogg", ".webm", ".flac", ".opus", ".aac", ".mp4")

SPEAKER_ROLES = ROLES
CopyProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportRequest:
    source: Path
    client_name: str | None = None
    client_id: uuid.UUID | None = None
    session_date: date | None = None
    consent_method: str | None = None
    session_type: str = "individual"


class SessionService(SessionLifecycle, SpeakerEditing):
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    # -- import -------------------------------------------------------------------------------------------

    async def import_recording(self, req: ImportRequest, on_copy: CopyProgress | None = None) -> SessionInfo:
        return await asyncio.to_thread(self.import_recording_sync, req, on_copy)

    def import_recording_sync(self, req: ImportRequest, on_copy: CopyProgress | None = None) -> SessionInfo:
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
        sha256, wrapped_key = self.ctx.recordings.store(source, stored_name, self.user.id, size, on_copy)
        try:
            with self.ctx.db.unit_of_work() as s:
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
                if req.consent_method is None and self._consent_required(s):
                    # Kept, not processed, until the client's consent is recorded (``update(consent_method=…)``).
                    row.processing_stage_detail = AWAITING_CONSENT
                else:
                    JobRepository(s).enqueue(row.id, JobKind.PROCESS.value)
                AuditRepository(s, self.user.id, self.ctx.workstation).record(
                    "session.import", "therapy_session", row.id
                )
                result = self._info(s, row)
        except BaseException:
            self.ctx.recordings.destroy(stored_name)
            raise
        log.info("session imported", extra={"session_id": str(result.id), "bytes": size})
        return result

    def _consent_required(self, s: Session) -> bool:
        user = UserRepository(s).get(self.user.id)
        return bool((user.settings or {}).get("consent_required", True))

    def set_consent_required_sync(self, required: bool) -> None:
        """My setting: whether a session needs recorded consent before it is processed (on by default)."""
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
        repo = SessionRepository(s, self.user.id)
        names = repo.client_names({row.client_id} if row.client_id else set())
        return session_info(
            row,
            owner_name=self.user.display_name,
            client_name=names.get(row.client_id) if row.client_id else None,
            flags=repo.risk_summary({row.id}).get(row.id, []),
            needs_regeneration=regeneration_due(s, row),
        )

    def list_sessions_sync(self, client_id: uuid.UUID | None = None) -> list[SessionInfo]:
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            rows = repo.list(client_id=client_id)
            names = repo.client_names({r.client_id for r in rows if r.client_id})
            flags = repo.risk_summary({r.id for r in rows})
            due = regeneration_due_among(s, rows)
            return [
                session_info(
                    r,
                    owner_name=self.user.display_name,
                    client_name=names.get(r.client_id) if r.client_id else None,
                    flags=flags.get(r.id, []),
                    needs_regeneration=r.id in due,
                )
                for r in rows
            ]

    async def list_sessions(self, client_id: uuid.UUID | None = None) -> list[SessionInfo]:
        return await asyncio.to_thread(self.list_sessions_sync, client_id)

    def get_sync(self, session_id: uuid.UUID | str) -> SessionInfo:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(sid)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("session.view", "therapy_session", sid)
            return self._info(s, row)

    async def get(self, session_id: uuid.UUID | str) -> SessionInfo:
        return await asyncio.to_thread(self.get_sync, session_id)

    def status_sync(self, session_id: uuid.UUID | str) -> StatusInfo:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            return status_info(SessionRepository(s, self.user.id).get(sid))

    async def status(self, session_id: uuid.UUID | str) -> StatusInfo:
        return await asyncio.to_thread(self.status_sync, session_id)

    def transcript_sync(self, session_id: uuid.UUID | str) -> list[SegmentInfo]:
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            segments = repo.segments(sid)
            hidden = repo.hidden_client_name(sid)
            AuditRepository(s, self.user.id, self.ctx.workstation).record("transcript.view", "therapy_session", sid)
            return [masked_segment(segment_info(seg), hidden) for seg in segments]

    async def transcript(self, session_id: uuid.UUID | str) -> list[SegmentInfo]:
        return await asyncio.to_thread(self.transcript_sync, session_id)

    # -- speakers -----------------------------------------------------------------------------------------

    def set_speaker_role_sync(self, session_id: uuid.UUID | str, speaker: str, role: str) -> SessionInfo:
        """Correct who is who: the role of one diarized speaker, on the session and every transcript row."""
        sid = parse_session_id(session_id)
        if role not in SPEAKER_ROLES:
            raise ValidationError("Role must be therapist, client, partner, participant or other.")
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            row = repo.get(sid, for_update=True)
            speakers = {k: dict(v) for k, v in (row.speakers or {}).items()}
            known = set(speakers) | {seg.speaker for seg in repo.segments(sid)}
            if speaker not in known:
                raise NotFoundError(f"This session has no speaker '{speaker}'.")
            entry = speakers.setdefault(speaker, {"name": None})
            entry["role"] = role
            entry["role_source"] = "user"
            row.speakers = speakers
            row.transcript_edited_at = utcnow()  # the notes read the roles
            s.execute(
                update(TranscriptSegment)
                .where(TranscriptSegment.session_id == sid, TranscriptSegment.speaker == speaker)
                .values(role=role)
            )
            row.updated_at = utcnow()
            AuditRepository(s, self.user.id, self.ctx.workstation).record(
                "session.speaker_role", "therapy_session", sid
            )
            return self._info(s, row)

    async def set_speaker_role(self, session_id: uuid.UUID | str, speaker: str, role: str) -> SessionInfo:
        return await asyncio.to_thread(self.set_speaker_role_sync, session_id, speaker, role)

    # -- clients ------------------------------------------------------------------------------------------

    def list_clients_sync(self) -> list[ClientInfo]:
        with self.ctx.db.unit_of_work() as s:
            return [client_info(c) for c in ClientRepository(s, self.user.id).list()]

    async def list_clients(self) -> list[ClientInfo]:
        return await asyncio.to_thread(self.list_clients_sync)

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

    async def create_client(self, name: str, pronouns: str | None = None) -> ClientInfo:
        return await asyncio.to_thread(self.create_client_sync, name, pronouns)
