"""Retention: each therapist's settings say how long recordings and transcripts are kept.

- ``retention_recording_days``: a recording is deleted N days after its processing completed (0 = right after
  processing; empty = kept).
- ``retention_transcript_days``: a transcript is deleted N days after the session's note was signed (empty = kept).

The clinic policy's minimum (``min_retention_days``) applies over each setting: a shorter one is raised to it.

Applied at start-up and periodically by the app (and by ``tbdesktop retention apply``), with audit events.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import user_info
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.sessions import SessionService
from tbdesktop.store.models import User, utcnow
from tbdesktop.store.repositories import AuditRepository, SessionRepository, UserRepository

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_DAYS = 3650
INTERVAL_S = 3600.0


@dataclass(frozen=True)
class RetentionReport:
    recordings_deleted: int
    transcripts_deleted: int


def _days(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


class RetentionService:
    def __init__(self, ctx: AppContext, clock: Clock = utcnow) -> None:
        self.ctx = ctx
        self.clock = clock

    # -- settings -----------------------------------------------------------------------------------------

    def set_retention_sync(
        self, user_id: uuid.UUID, *, recording_days: int | None, transcript_days: int | None
    ) -> dict[str, Any]:
        policy = self.ctx.settings.policy
        for label, value in (("recordings", recording_days), ("transcripts", transcript_days)):
            if value is not None and not 0 <= int(value) <= MAX_DAYS:
                raise ValidationError(f"Keep {label} between 0 and {MAX_DAYS} days, or leave it empty to keep them.")
            minimum = policy.retention_days(label, 0)
            if value is not None and minimum and int(value) < minimum:
                raise ValidationError(f"Your clinic's IT requires keeping {label} at least {minimum} days.")
        with self.ctx.db.unit_of_work() as s:
            user = UserRepository(s).get(user_id)
            user.settings = {
                **(user.settings or {}),
                "retention_recording_days": recording_days,
                "retention_transcript_days": transcript_days,
            }
            AuditRepository(s, user.id, self.ctx.workstation).record("settings.retention", "user", user.id)
            return dict(user.settings)

    # -- applying -----------------------------------------------------------------------------------------

    def due_sync(self, now: datetime | None = None) -> list[tuple[User, uuid.UUID, str]]:
        """(owner, session id, "recording" | "transcript") for everything past its retention (each user's setting,
        no shorter than the clinic policy's minimum)."""
        now = now or self.clock()
        policy = self.ctx.settings.policy
        due: list[tuple[User, uuid.UUID, str]] = []
        with self.ctx.db.unit_of_work() as s:
            for user in UserRepository(s).all():
                settings = user.settings or {}
                recording_days = policy.retention_days("recordings", _days(settings.get("retention_recording_days")))
                transcript_days = policy.retention_days("transcripts", _days(settings.get("retention_transcript_days")))
                sessions = SessionRepository(s, user.id)
                # Each clock starts when the session's processing completed / its note was signed.
                if recording_days is not None:
                    expired = sessions.recordings_processed_before(now - timedelta(days=recording_days))
                    due += [(user, sid, "recording") for sid in expired]
                if transcript_days is not None:
                    expired = sessions.transcripts_signed_before(now - timedelta(days=transcript_days))
                    due += [(user, sid, "transcript") for sid in expired]
            s.expunge_all()
        return due

    def apply_sync(self, now: datetime | None = None) -> RetentionReport:
        recordings = transcripts = 0
        for user, session_id, what in self.due_sync(now):
            service = SessionService(self.ctx, user_info(user))
            try:
                if what == "recording":
                    service.delete_recording_sync(session_id, audit_action="retention.recording_delete")
                    recordings += 1
                else:
                    service.delete_transcript_sync(session_id, audit_action="retention.transcript_delete")
                    transcripts += 1
            except ValidationError as exc:  # e.g. reprocessing started meanwhile: try again next time
                log.info("retention skipped a session", extra={"session_id": str(session_id), "reason": exc.message})
        if recordings or transcripts:
            log.info("retention applied", extra={"recordings": recordings, "transcripts": transcripts})
        return RetentionReport(recordings, transcripts)

    apply = off_loop(apply_sync)

    async def run_periodically(self, interval_s: float = INTERVAL_S) -> None:
        """At start-up and then every ``interval_s`` until cancelled (the app's lifetime)."""
        while True:
            try:
                await self.apply()
            except Exception:
                log.exception("retention run failed")
            await asyncio.sleep(interval_s)
