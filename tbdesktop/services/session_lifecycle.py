"""What a therapist keeps and changes: delete the recording, the transcript or the whole session; anonymous mode;
reassign, edit details, fix transcript lines, cancel and retry processing. Owner-only (the repositories filter by
user) and audited. ``SessionService`` holds a ``SessionLifecycle`` and offers its methods."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.dto import SegmentInfo, SessionInfo
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.recording_vault import PlainCopy, RecordingCryptoError, is_encrypted_file
from tbdesktop.services.session_views import consent_required, describe
from tbdesktop.store.models import (
    ACTIVE_STATUSES,
    JobKind,
    Note,
    RiskFlag,
    TherapySession,
    TranscriptSegment,
    utcnow,
)
from tbdesktop.store.processing_cancel import cancel_open_processing
from tbdesktop.store.processing_state import queue
from tbdesktop.store.repositories import AuditRepository, ClientRepository, SessionRepository, SystemJobRepository
from tbdesktop.store.search_repository import drop_deleted_from_index

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import UserInfo

log = logging.getLogger(__name__)

CONSENT_METHODS = ("verbal", "written", "electronic")
AWAITING_CONSENT = "Waiting for the client's consent"
MAX_SEGMENT_TEXT = 5000
MAX_SPEAKER_NAME = 100


def _when(moment: Any) -> str:
    return f"{moment:%d %b %Y}" if moment is not None else "earlier"


def recording_elsewhere(row: TherapySession, here: str) -> str | None:
    """In clinic mode a recording stays on the workstation that made it: the message for another one."""
    if row.recording_path or row.recording_deleted_at is not None or not row.recording_host:
        return None
    if row.recording_host == here:
        return None
    return f"The recording is kept on {row.recording_host}; it never leaves that workstation. Use it there."


class SessionLifecycle:
    """The lifecycle of ``user``'s sessions: playback, deletion, changes, cancel and retry."""

    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    def _info(self, s: Session, row: TherapySession) -> SessionInfo:
        return describe(s, self.user, row)

    def _audit(self, s: Session, action: str, session_id: uuid.UUID) -> None:
        AuditRepository(s, self.user.id, self.ctx.workstation).record(action, "therapy_session", session_id)

    def _remove_file(self, stored_name: str | None) -> None:
        """The encrypted recording and any partial copy of it (its key is forgotten with the row's tombstone)."""
        self.ctx.recordings.destroy(stored_name)

    @staticmethod
    def _not_while_processing(row: TherapySession, what: str) -> None:
        if row.processing_status in ACTIVE_STATUSES:
            raise ValidationError(f"This session is still being processed; cancel it before deleting {what}.")

    # -- playback -----------------------------------------------------------------------------------------

    def open_recording_sync(self, session_id: uuid.UUID | str) -> PlainCopy:
        """The recording for playback, decrypted to a short-lived private file; the caller closes it."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id)
            if row.recording_deleted_at is not None:
                raise ValidationError(f"The recording was deleted on {_when(row.recording_deleted_at)}.")
            elsewhere = recording_elsewhere(row, self.ctx.workstation)
            if elsewhere:
                raise ValidationError(elsewhere)
            if not row.recording_path:
                raise ValidationError("This session has no recording.")
            stored, wrapped, owner = row.recording_path, row.recording_key, row.owner_id
            self._audit(s, "recording.play", row.id)
        try:
            return self.ctx.recordings.open_plaintext(stored, wrapped, owner)
        except RecordingCryptoError as exc:
            raise ValidationError(exc.message) from exc

    open_recording = off_loop(open_recording_sync)

    def seal_plain_recordings_sync(self) -> int:
        """Encrypt my recordings stored before encryption at rest (rows without a key); returns how many."""
        with self.ctx.db.unit_of_work() as s:
            pending = SessionRepository(s, self.user.id).unencrypted_recordings()
        sealed = 0
        for row_id, name in pending:
            path = self.ctx.recordings.path(name)
            if not path.is_file() or is_encrypted_file(path):
                continue
            # Encrypted under a new name, recorded, and only then is the plain file removed: a crash in between
            # never leaves a row pointing at a file it cannot open.
            new_name = f"{uuid.uuid4().hex}{path.suffix}"
            _digest, wrapped = self.ctx.recordings.store(path, new_name, self.user.id, path.stat().st_size)
            with self.ctx.db.unit_of_work() as s:
                row = SessionRepository(s, self.user.id).get(row_id, for_update=True)
                row.recording_path = new_name
                row.recording_key = wrapped
                self._audit(s, "recording.encrypt", row.id)
            self.ctx.recordings.destroy(name)
            sealed += 1
        if sealed:
            log.info("recordings encrypted", extra={"count": sealed})
        return sealed

    # -- deletion -----------------------------------------------------------------------------------------

    def delete_recording_sync(
        self, session_id: uuid.UUID | str, *, audit_action: str = "recording.delete"
    ) -> SessionInfo:
        """Remove the audio file; the transcript and notes stay."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            if row.recording_deleted_at is not None:
                raise ValidationError(f"The recording was already deleted on {_when(row.recording_deleted_at)}.")
            self._not_while_processing(row, "its recording")
            stored = row.delete_recording()
            self._audit(s, audit_action, row.id)
            info = self._info(s, row)
        self._remove_file(stored)
        self.ctx.db.flush_deleted()  # the wrapped key is gone from the database files too
        log.info("recording deleted", extra={"session_id": str(session_id)})
        return info

    async def delete_recording(self, session_id: uuid.UUID | str) -> SessionInfo:
        return await asyncio.to_thread(self.delete_recording_sync, session_id)

    def delete_transcript_sync(
        self, session_id: uuid.UUID | str, *, audit_action: str = "transcript.delete"
    ) -> SessionInfo:
        """Purge the transcript's text and word timings; the notes stay (they can no longer be regenerated)."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            if row.transcript_deleted_at is not None:
                raise ValidationError(f"The transcript was already deleted on {_when(row.transcript_deleted_at)}.")
            self._not_while_processing(row, "its transcript")
            s.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == row.id))
            s.expire(row, ["segments"])
            row.transcript_deleted_at = utcnow()
            # What the speakers said is gone too; their roles stay so the notes still read right.
            row.speakers = {k: {"role": v.get("role"), "name": v.get("name")} for k, v in (row.speakers or {}).items()}
            self._audit(s, audit_action, row.id)
            drop_deleted_from_index(s)
            info = self._info(s, row)
        self.ctx.db.flush_deleted()
        log.info("transcript deleted", extra={"session_id": str(session_id)})
        return info

    async def delete_transcript(self, session_id: uuid.UUID | str) -> SessionInfo:
        return await asyncio.to_thread(self.delete_transcript_sync, session_id)

    def delete_session_sync(self, session_id: uuid.UUID | str) -> None:
        """Everything of the session: segments, notes, flags, jobs and the file. Open jobs are cancelled first."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            SystemJobRepository(s).cancel_open_for_session(row.id)
            stored = row.recording_path
            s.execute(delete(RiskFlag).where(RiskFlag.session_id == row.id))
            s.execute(delete(Note).where(Note.session_id == row.id))
            s.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == row.id))
            s.delete(row)
            self._audit(s, "session.delete", session_id)
            s.flush()
            drop_deleted_from_index(s)
        self._remove_file(stored)
        self.ctx.db.flush_deleted()
        log.info("session deleted", extra={"session_id": str(session_id)})

    delete_session = off_loop(delete_session_sync)

    # -- changes ------------------------------------------------------------------------------------------

    def set_anonymous_sync(self, session_id: uuid.UUID | str, anonymous: bool) -> SessionInfo:
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            row.mark_anonymous(bool(anonymous))
            row.updated_at = utcnow()
            self._audit(s, "session.anonymous_on" if anonymous else "session.anonymous_off", row.id)
            return self._info(s, row)

    set_anonymous = off_loop(set_anonymous_sync)

    def reassign_sync(
        self, session_id: uuid.UUID | str, *, client_id: uuid.UUID | None = None, client_name: str | None = None
    ) -> SessionInfo:
        """Move the session to another of my clients (by id, or by name: created when new)."""
        session_id = parse_session_id(session_id)
        name = (client_name or "").strip()
        if client_id is None and not name:
            raise ValidationError("Choose the client to move this session to.")
        if len(name) > 200:
            raise ValidationError("The client name is too long (200 characters at most).")
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            clients = ClientRepository(s, self.user.id)
            if client_id is not None:
                client = clients.get(client_id)
            else:
                client = clients.find_by_name(name) or clients.add(name)
            row.client_id = client.id
            row.updated_at = utcnow()
            self._audit(s, "session.reassign", row.id)
            return self._info(s, row)

    reassign = off_loop(reassign_sync)

    def update_sync(
        self,
        session_id: uuid.UUID | str,
        *,
        session_date: date | None = None,
        consent_method: str | None = None,
        speaker_names: dict[str, str | None] | None = None,
    ) -> SessionInfo:
        """Change the date, record consent (method and time), or name the speakers."""
        session_id = parse_session_id(session_id)
        if consent_method is not None and consent_method not in CONSENT_METHODS:
            raise ValidationError("Consent method must be verbal, written or electronic.")
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            row = repo.get(session_id, for_update=True)
            if session_date is not None:
                if session_date > date.today():
                    raise ValidationError("The session date cannot be in the future.")
                row.session_date = session_date
            if consent_method is not None:
                row.consent_method = consent_method
                row.consent_obtained_at = utcnow()
                if row.processing_stage_detail == AWAITING_CONSENT and row.recording_path:
                    # The consent gate opens: the session is processed like any import.
                    SystemJobRepository(s).enqueue(row.id, JobKind.PROCESS.value)
                    row.processing_stage_detail = "Waiting to start"
            if speaker_names:
                speakers = {k: dict(v) for k, v in (row.speakers or {}).items()}
                known = set(speakers) | repo.speaker_labels(row.id)
                for speaker, label in speaker_names.items():
                    if speaker not in known:
                        raise NotFoundError(f"This session has no speaker '{speaker}'.")
                    clean = (label or "").strip() or None
                    if clean is not None and len(clean) > MAX_SPEAKER_NAME:
                        raise ValidationError(f"A speaker name can be at most {MAX_SPEAKER_NAME} characters.")
                    speakers.setdefault(speaker, {"role": None})["name"] = clean
                row.speakers = speakers
            row.updated_at = utcnow()
            self._audit(s, "session.update", row.id)
            return self._info(s, row)

    async def update(self, session_id: uuid.UUID | str, **changes: Any) -> SessionInfo:
        return await asyncio.to_thread(lambda: self.update_sync(session_id, **changes))

    def fix_segment_sync(
        self, session_id: uuid.UUID | str, idx: int, *, text: str | None = None, speaker: str | None = None
    ) -> SegmentInfo:
        """Correct one transcript line's words or speaker (the notes can then be regenerated)."""
        session_id = parse_session_id(session_id)
        from tbdesktop.services.convert import segment_info

        if text is None and speaker is None:
            raise ValidationError("Give the corrected text or speaker for the line.")
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            row = repo.get(session_id, for_update=True)
            if row.transcript_deleted_at is not None:
                raise ValidationError("The transcript of this session was deleted.")
            segment = s.get(TranscriptSegment, (row.id, int(idx)))
            if segment is None:
                raise NotFoundError(f"This transcript has no line {idx}.")
            if text is not None:
                clean = " ".join(text.split())
                if not clean:
                    raise ValidationError("A transcript line cannot be empty.")
                if len(clean) > MAX_SEGMENT_TEXT:
                    raise ValidationError(f"A transcript line can hold at most {MAX_SEGMENT_TEXT} characters.")
                if clean != segment.text:
                    segment.text = clean
                    segment.words = []  # the old word timings no longer match the words
            if speaker is not None:
                speakers = dict(row.speakers or {})
                known = set(speakers) | repo.speaker_labels(row.id)
                if speaker not in known:
                    raise NotFoundError(f"This session has no speaker '{speaker}'.")
                segment.speaker = speaker
                segment.role = (speakers.get(speaker) or {}).get("role")
            segment.manual = True  # a re-run of speaker separation keeps the therapist's correction
            row.updated_at = row.transcript_edited_at = utcnow()
            self._audit(s, "transcript.fix", row.id)
            s.flush()
            return segment_info(segment)

    fix_segment = off_loop(fix_segment_sync)

    def cancel_sync(self, session_id: uuid.UUID | str) -> bool:
        """Cancel queued processing of my session (a running job is stopped by the app's runner)."""
        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            count, separation = cancel_open_processing(s, row.id)
            if count and not separation:
                self._audit(s, "session.cancel", row.id)
            return bool(count)

    cancel = off_loop(cancel_sync)

    def retry_sync(self, session_id: uuid.UUID | str) -> SessionInfo:
        """Process a failed or cancelled session again, from its recording."""
        from tbdesktop.store.models import ProcessingStatus

        session_id = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
            if row.processing_status not in (ProcessingStatus.FAILED, ProcessingStatus.CANCELLED):
                raise ValidationError("Only a session whose processing failed or was cancelled can be retried.")
            elsewhere = recording_elsewhere(row, self.ctx.workstation)
            if elsewhere:
                raise ValidationError(elsewhere)
            if row.recording_deleted_at is not None or not row.recording_path:
                raise ValidationError("The recording was deleted, so this session cannot be processed again.")
            if row.consent_method is None and consent_required(s, self.user.id, self.ctx.settings.policy):
                queue(row, AWAITING_CONSENT)
            else:
                queue(row, "Waiting to start")
                SystemJobRepository(s).enqueue(row.id, JobKind.PROCESS.value)
            self._audit(s, "session.retry", row.id)
            info = self._info(s, row)
        log.info("session queued again", extra={"session_id": str(session_id)})
        return info

    retry = off_loop(retry_sync)
