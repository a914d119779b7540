"""Repositories: every query a user can trigger is scoped to the acting user here."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from tbdesktop.errors import NotFoundError
from tbdesktop.store.models import (
    ACTIVE_STATUSES,
    AuditEvent,
    Client,
    JobKind,
    JobStatus,
    Note,
    ProcessingJob,
    ProcessingStatus,
    RiskFlag,
    TherapySession,
    TranscriptSegment,
    User,
    utcnow,
)
from tbdesktop.store.processing_state import move_by_id


class UserRepository:
    """Profiles. Not owner-scoped: used for sign-in and profile selection only."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, user_id: uuid.UUID) -> User:
        user = self.s.get(User, user_id)
        if user is None:
            raise NotFoundError("That user profile does not exist.")
        return user

    def by_email(self, email: str) -> User | None:
        return self.s.scalar(select(User).where(func.lower(User.email) == email.lower()))

    def all(self) -> Sequence[User]:
        return self.s.scalars(select(User).order_by(User.created_at)).all()

    def add(self, user: User) -> User:
        self.s.add(user)
        self.s.flush()
        return user


class ClientRepository:
    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.s = session
        self.user_id = user_id

    def list(self, include_archived: bool = False) -> Sequence[Client]:
        q = select(Client).where(Client.owner_id == self.user_id)
        if not include_archived:
            q = q.where(Client.archived_at.is_(None))
        return self.s.scalars(q.order_by(func.lower(Client.name))).all()

    def get(self, client_id: uuid.UUID) -> Client:
        client = self.s.scalar(select(Client).where(Client.id == client_id, Client.owner_id == self.user_id))
        if client is None:
            raise NotFoundError("That client does not exist.")
        return client

    def find_by_name(self, name: str) -> Client | None:
        return self.s.scalar(
            select(Client)
            .where(Client.owner_id == self.user_id, func.lower(Client.name) == name.strip().lower())
            .order_by(Client.created_at)
            .limit(1)
        )

    def add(self, name: str, pronouns: str | None = None) -> Client:
        client = Client(owner_id=self.user_id, name=name.strip(), pronouns=pronouns)
        self.s.add(client)
        self.s.flush()
        return client


class SessionRepository:
    def __init__(self, session: Session, user_id: uuid.UUID) -> None:
        self.s = session
        self.user_id = user_id

    def _owned(self) -> Select[TherapySession]:
        return select(TherapySession).where(TherapySession.owner_id == self.user_id)

    def with_recording(self, sha256: str) -> TherapySession | None:
        """My earliest session whose recording has this content (its sha256), if any."""
        q = self._owned().where(TherapySession.recording_sha256 == sha256)
        return self.s.scalars(q.order_by(TherapySession.created_at).limit(1)).first()

    def list(
        self,
        *,
        client_id: uuid.UUID | None = None,
        statuses: Sequence[ProcessingStatus] | None = None,
    ) -> Sequence[TherapySession]:
        q = self._owned()
        if client_id is not None:
            q = q.where(TherapySession.client_id == client_id)
        if statuses:
            q = q.where(TherapySession.processing_status.in_(list(statuses)))
        q = q.order_by(TherapySession.session_date.desc(), TherapySession.created_at.desc())
        return self.s.scalars(q).all()

    def get(self, session_id: uuid.UUID, *, for_update: bool = False) -> TherapySession:
        q = self._owned().where(TherapySession.id == session_id)
        if for_update and self.s.bind is not None and self.s.bind.dialect.name == "postgresql":
            q = q.with_for_update()
        found = self.s.scalar(q)
        if found is None:
            raise NotFoundError("That session does not exist or belongs to someone else.")
        return found

    def add(self, therapy_session: TherapySession) -> TherapySession:
        therapy_session.owner_id = self.user_id
        self.s.add(therapy_session)
        self.s.flush()
        return therapy_session

    def segments(self, session_id: uuid.UUID) -> Sequence[TranscriptSegment]:
        self.get(session_id)
        return self.s.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.session_id == session_id)
            .order_by(TranscriptSegment.start_s, TranscriptSegment.idx)
        ).all()

    def hidden_client_name(self, session_id: uuid.UUID) -> str | None:
        """The client's name when the session is anonymous (to be masked wherever it appears), else None."""
        row = self.get(session_id)
        if not row.is_anonymous or row.client_id is None:
            return None
        return self.client_names({row.client_id}).get(row.client_id)

    def risk_summary(self, session_ids: set[uuid.UUID]) -> dict[uuid.UUID, builtins.list[tuple[str, str]]]:
        """(kind, severity) of the flags on my sessions, for the badges on their cards."""
        if not session_ids:
            return {}
        rows = self.s.execute(
            select(RiskFlag.session_id, RiskFlag.kind, RiskFlag.severity)
            .join(TherapySession, TherapySession.id == RiskFlag.session_id)
            .where(TherapySession.owner_id == self.user_id, RiskFlag.session_id.in_(list(session_ids)))
            .order_by(RiskFlag.id)
        ).all()
        out: dict[uuid.UUID, builtins.list[tuple[str, str]]] = {}
        for session_id, kind, severity in rows:
            out.setdefault(session_id, []).append((kind, severity))
        return out

    def client_names(self, client_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not client_ids:
            return {}
        rows = self.s.execute(
            select(Client.id, Client.name).where(Client.owner_id == self.user_id, Client.id.in_(list(client_ids)))
        ).all()
        return {row[0]: row[1] for row in rows}

    # -- a session's transcript lines, by speaker ----------------------------------------------------------

    def speaker_roles(self, session_id: uuid.UUID) -> builtins.list[tuple[str, str | None]]:
        """(speaker, role) of each line of my session's transcript, in line order."""
        self.get(session_id)
        rows = self.s.execute(
            select(TranscriptSegment.speaker, TranscriptSegment.role)
            .where(TranscriptSegment.session_id == session_id)
            .order_by(TranscriptSegment.idx)
        ).all()
        return [(speaker, role) for speaker, role in rows]

    def speaker_labels(self, session_id: uuid.UUID) -> set[str]:
        """The speakers who have lines in my session's transcript."""
        self.get(session_id)
        return set(self.s.scalars(select(TranscriptSegment.speaker).where(TranscriptSegment.session_id == session_id)))

    def line_numbers(self, session_id: uuid.UUID, speaker: str | None = None) -> builtins.list[int]:
        """The numbers (idx) of my session's transcript lines, of one speaker when given, in order."""
        self.get(session_id)
        q = select(TranscriptSegment.idx).where(TranscriptSegment.session_id == session_id)
        if speaker is not None:
            q = q.where(TranscriptSegment.speaker == speaker)
        return [int(idx) for idx in self.s.scalars(q.order_by(TranscriptSegment.idx))]

    def has_transcript(self, session_id: uuid.UUID) -> bool:
        """Whether my session has at least one transcript line."""
        self.get(session_id)
        found = self.s.scalar(select(TranscriptSegment.idx).where(TranscriptSegment.session_id == session_id).limit(1))
        return found is not None

    def last_line_number(self, session_id: uuid.UUID) -> int | None:
        """The highest line number (idx) of my session's transcript; None when it has no lines."""
        self.get(session_id)
        highest = self.s.scalar(
            select(func.max(TranscriptSegment.idx)).where(TranscriptSegment.session_id == session_id)
        )
        return None if highest is None else int(highest)

    # -- recordings and retention --------------------------------------------------------------------------

    def unencrypted_recordings(self) -> builtins.list[tuple[uuid.UUID, str]]:
        """(session id, stored name) of my kept recordings stored without a key, not being processed."""
        rows = self.s.execute(
            select(TherapySession.id, TherapySession.recording_path).where(
                TherapySession.owner_id == self.user_id,
                TherapySession.recording_path.is_not(None),
                TherapySession.recording_key.is_(None),
                TherapySession.processing_status.not_in(ACTIVE_STATUSES),
            )
        ).all()
        return [(row_id, str(name)) for row_id, name in rows]

    def recordings_processed_before(self, cutoff: datetime) -> builtins.list[uuid.UUID]:
        """My completed sessions whose recording is still kept and whose processing last finished by ``cutoff``."""
        processed = (
            select(ProcessingJob.session_id, func.max(ProcessingJob.finished_at).label("at"))
            .where(ProcessingJob.kind == JobKind.PROCESS.value, ProcessingJob.status == JobStatus.COMPLETED.value)
            .group_by(ProcessingJob.session_id)
            .subquery()
        )
        return list(
            self.s.scalars(
                select(TherapySession.id)
                .join(processed, processed.c.session_id == TherapySession.id)
                .where(
                    TherapySession.owner_id == self.user_id,
                    processed.c.at <= cutoff,
                    TherapySession.recording_path.is_not(None),
                    TherapySession.recording_deleted_at.is_(None),
                    TherapySession.processing_status == ProcessingStatus.COMPLETED,
                )
            )
        )

    def transcripts_signed_before(self, cutoff: datetime) -> builtins.list[uuid.UUID]:
        """My sessions whose transcript is still kept and whose latest signed note was signed by ``cutoff``."""
        signed = (
            select(Note.session_id, func.max(Note.signed_at).label("at"))
            .where(Note.status == "signed")
            .group_by(Note.session_id)
            .subquery()
        )
        return list(
            self.s.scalars(
                select(TherapySession.id)
                .join(signed, signed.c.session_id == TherapySession.id)
                .where(
                    TherapySession.owner_id == self.user_id,
                    signed.c.at <= cutoff,
                    TherapySession.transcript_deleted_at.is_(None),
                )
            )
        )


MAX_INTERRUPTIONS = 3


class SystemJobRepository:
    """The persistent job queue. Used by the processing runner, never by a user query directly."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def enqueue(self, session_id: uuid.UUID, kind: str, params: dict[str, object] | None = None) -> ProcessingJob:
        job = ProcessingJob(session_id=session_id, kind=kind, status=JobStatus.QUEUED.value, params=params or {})
        self.s.add(job)
        self.s.flush()
        return job

    def get(self, job_id: uuid.UUID) -> ProcessingJob | None:
        return self.s.get(ProcessingJob, job_id)

    def for_session(self, session_id: uuid.UUID) -> Sequence[ProcessingJob]:
        return self.s.scalars(
            select(ProcessingJob).where(ProcessingJob.session_id == session_id).order_by(ProcessingJob.created_at)
        ).all()

    def next_queued(self, owner_ids: Sequence[uuid.UUID] | None) -> ProcessingJob | None:
        q = select(ProcessingJob).where(ProcessingJob.status == JobStatus.QUEUED.value)
        if owner_ids is not None:
            q = q.join(TherapySession, TherapySession.id == ProcessingJob.session_id).where(
                TherapySession.owner_id.in_(list(owner_ids))
            )
        q = q.order_by(ProcessingJob.created_at).limit(1)
        bind = self.s.get_bind()
        if bind.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=ProcessingJob)
        return self.s.scalar(q)

    def claim(self, job_id: uuid.UUID, lease_owner: str, lease_s: float) -> bool:
        now = utcnow()
        result = self.s.execute(
            update(ProcessingJob)
            .where(ProcessingJob.id == job_id, ProcessingJob.status == JobStatus.QUEUED.value)
            .values(
                status=JobStatus.RUNNING.value,
                attempts=ProcessingJob.attempts + 1,
                started_at=now,
                finished_at=None,
                error=None,
                lease_owner=lease_owner,
                lease_expires_at=now + timedelta(seconds=lease_s),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def heartbeat(self, job_id: uuid.UUID, progress: float, lease_s: float) -> None:
        self.s.execute(
            update(ProcessingJob)
            .where(ProcessingJob.id == job_id)
            .values(progress=progress, lease_expires_at=utcnow() + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )

    def finish(self, job_id: uuid.UUID, status: JobStatus, error: str | None = None) -> None:
        self.s.execute(
            update(ProcessingJob)
            .where(ProcessingJob.id == job_id)
            .values(
                status=status.value,
                error=error,
                finished_at=utcnow(),
                lease_owner=None,
                lease_expires_at=None,
                progress=1.0 if status is JobStatus.COMPLETED else ProcessingJob.progress,
            )
            .execution_options(synchronize_session=False)
        )

    def requeue_abandoned(self, is_abandoned: Callable[[ProcessingJob], bool]) -> list[ProcessingJob]:
        """Put running jobs whose process is gone (as `is_abandoned` judges) back in the queue. A run interrupted
        because the app died is not a failure of the job: its try is given back (its worker's retry stays), up to
        MAX_INTERRUPTIONS times — a job that keeps taking the app down with it is then counted like a crash."""
        running = self.s.scalars(select(ProcessingJob).where(ProcessingJob.status == JobStatus.RUNNING.value)).all()
        requeued: list[ProcessingJob] = []
        for job in running:
            if is_abandoned(job):
                params = dict(job.params or {})
                params["interrupted"] = int(params.get("interrupted") or 0) + 1
                attempts = job.attempts
                if params["interrupted"] <= MAX_INTERRUPTIONS:
                    attempts = max(attempts - 1, 0)
                self.s.execute(
                    update(ProcessingJob)
                    .where(ProcessingJob.id == job.id)
                    .values(
                        status=JobStatus.QUEUED.value,
                        lease_owner=None,
                        lease_expires_at=None,
                        attempts=attempts,
                        params=params,
                    )
                    .execution_options(synchronize_session=False)
                )
                requeued.append(job)
        return requeued

    def requeue(self, job_id: uuid.UUID) -> None:
        self.s.execute(
            update(ProcessingJob)
            .where(ProcessingJob.id == job_id)
            .values(status=JobStatus.QUEUED.value, lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )

    def open_kinds(self, session_id: uuid.UUID) -> set[str]:
        """The kinds of the session's queued and running jobs."""
        return set(
            self.s.scalars(
                select(ProcessingJob.kind).where(
                    ProcessingJob.session_id == session_id,
                    ProcessingJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                )
            )
        )

    def cancel_open_for_session(self, session_id: uuid.UUID) -> int:
        result = self.s.execute(
            update(ProcessingJob)
            .where(
                ProcessingJob.session_id == session_id,
                ProcessingJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
            )
            .values(status=JobStatus.CANCELLED.value, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def count_open(self, owner_ids: Sequence[uuid.UUID] | None = None) -> int:
        q = select(func.count(ProcessingJob.id)).where(
            ProcessingJob.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
        )
        if owner_ids is not None:
            q = q.join(TherapySession, TherapySession.id == ProcessingJob.session_id).where(
                TherapySession.owner_id.in_(list(owner_ids))
            )
        return int(self.s.scalar(q) or 0)


class SystemSegmentWriter:
    """Replaces a session's transcript in one go: a re-run replaces outputs, never duplicates them."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def replace(self, session_id: uuid.UUID, segments: Sequence[TranscriptSegment]) -> None:
        self.s.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == session_id))
        self.s.add_all(list(segments))
        self.s.flush()

    def in_order(self, session_id: uuid.UUID) -> list[TranscriptSegment]:
        """The session's transcript lines in spoken order (for the processing stages, which act for no user)."""
        return list(
            self.s.scalars(
                select(TranscriptSegment)
                .where(TranscriptSegment.session_id == session_id)
                .order_by(TranscriptSegment.start_s, TranscriptSegment.idx)
            )
        )


class AuditRepository:
    def __init__(self, session: Session, user_id: uuid.UUID | None, workstation: str) -> None:
        self.s = session
        self.user_id = user_id
        self.workstation = workstation

    def record(self, action: str, object_type: str, object_id: uuid.UUID | str | None) -> None:
        self.s.add(
            AuditEvent(
                user_id=self.user_id,
                action=action,
                object_type=object_type,
                object_id=str(object_id) if object_id is not None else None,
                workstation=self.workstation,
            )
        )

    def mine(self, limit: int = 200) -> Sequence[AuditEvent]:
        return self.s.scalars(
            select(AuditEvent)
            .where(AuditEvent.user_id == self.user_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).all()


class SystemStateRepository:
    """Session processing state written by the runner (system-level, never user-triggered)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def recording_names(self) -> set[str]:
        """The stored file names of every session's recording (kept or awaiting deletion), whoever owns it."""
        return {str(name) for name in self.s.scalars(select(TherapySession.recording_path)) if name}

    def get(self, session_id: uuid.UUID) -> TherapySession | None:
        return self.s.get(TherapySession, session_id)

    def update_state(self, session_id: uuid.UUID, **values: object) -> bool:
        """Writes processing fields; a status change must be an allowed transition (``store.processing_state``)."""
        return move_by_id(self.s, session_id, **values)
