"""The generating_notes stage of the processing runner: a progress note written by the worker process from the
stored transcript, after transcription or as a regenerate-notes job of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tbdesktop.errors import TBError
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing.handle import WorkerCrashed, WorkerHandle
from tbdesktop.store.models import JobStatus, NoteTemplate, ProcessingStatus, TranscriptSegment
from tbdesktop.store.note_repositories import NoteWriter
from tbdesktop.store.repositories import JobRepository, ProcessingStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
CRASH_MESSAGE = "The processing worker stopped unexpectedly; the recording could not be processed."


class NotesStage:
    """Mixed into ProcessingRunner, whose worker, progress reporting and listeners it uses."""

    ctx: AppContext
    _worker: WorkerHandle | None
    _running: Any
    _last_write: dict[uuid.UUID, tuple[float, str]]

    if TYPE_CHECKING:  # provided by ProcessingRunner

        def _ensure_worker(self) -> WorkerHandle: ...

        async def _progress(
            self,
            job_id: uuid.UUID,
            session_id: uuid.UUID,
            stage: str,
            fraction: float,
            eta: float | None,
            *,
            force: bool = False,
        ) -> None: ...

        def _emit(self, event: ProgressEvent) -> None: ...

        def _requeue_sync(self, job_id: uuid.UUID, session_id: uuid.UUID) -> None: ...

    async def _run_notes_job(
        self, job_id: uuid.UUID, session_id: uuid.UUID, template_id: str | None, attempts: int
    ) -> None:
        """A regenerate-notes job: a new note version from the stored transcript; earlier versions stay."""
        log.info("notes job started", extra={"job_id": str(job_id), "session_id": str(session_id)})
        try:
            worker = await asyncio.to_thread(self._ensure_worker)
            await self._notes_stage(job_id, session_id, template_id, worker)
        except WorkerCrashed:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            if self._running is not None and self._running.cancelled:
                await self._notes_done(job_id, session_id, JobStatus.CANCELLED, "Notes cancelled", None)
            elif attempts < MAX_ATTEMPTS:
                await asyncio.to_thread(self._requeue_sync, job_id, session_id)
            else:
                await self._notes_done(job_id, session_id, JobStatus.FAILED, "Notes failed", CRASH_MESSAGE)
        except asyncio.CancelledError:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None
            raise

    async def _notes_stage(
        self, job_id: uuid.UUID, session_id: uuid.UUID, template_id: str | None, worker: WorkerHandle
    ) -> None:
        """The generating_notes stage, run by the worker process; the session ends completed either way (the
        transcript is there), with the reason when the note could not be written."""
        regenerate = template_id is not None
        failed_status = JobStatus.FAILED if regenerate else JobStatus.COMPLETED
        await self._progress(job_id, session_id, "generating_notes", 0.0, None, force=True)
        try:
            prepared = await asyncio.to_thread(self._notes_input_sync, session_id, template_id)
        except TBError as exc:
            await self._notes_done(job_id, session_id, failed_status, "Notes failed", exc.message)
            return
        if prepared is None:
            await asyncio.to_thread(self._finish_job_sync, job_id, JobStatus.CANCELLED)
            return
        template_row_id, message = prepared
        worker.send({"type": "notes", "job_id": str(job_id), **message})
        while True:
            msg = await asyncio.to_thread(worker.recv, 0.5)
            if msg is None or msg.get("job_id") not in (None, str(job_id)):
                continue
            kind = msg.get("type")
            if kind == "progress":
                await self._progress(job_id, session_id, "generating_notes", float(msg["fraction"]), msg.get("eta"))
            elif kind == "result":
                await asyncio.to_thread(self._store_note_sync, job_id, session_id, template_row_id, msg["result"])
                self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.COMPLETED.value, 100, "Done", None))
                return
            elif kind == "error":
                reason = str(msg.get("message") or "The note could not be written.")
                await self._notes_done(job_id, session_id, failed_status, "Notes failed", reason)
                return

    def _notes_input_sync(
        self, session_id: uuid.UUID, template_id: str | None
    ) -> tuple[uuid.UUID, dict[str, Any]] | None:
        from tbdesktop.services.context import notes_options
        from tbdesktop.services.notes import transcript_lines
        from tbdesktop.services.templates import default_template

        with self.ctx.db.unit_of_work() as s:
            row = ProcessingStateRepository(s).get(session_id)
            if row is None:
                return None
            if row.transcript_deleted_at is not None:
                raise TBError("The transcript of this session was deleted, so notes cannot be written.")
            template = s.get(NoteTemplate, uuid.UUID(template_id)) if template_id else None
            if template is None:
                template = default_template(s, row.owner_id)
            if template is None:
                raise TBError("No note template is available.")
            segments = list(
                s.scalars(
                    select(TranscriptSegment)
                    .where(TranscriptSegment.session_id == session_id)
                    .order_by(TranscriptSegment.start_s, TranscriptSegment.idx)
                )
            )
            lines = [dataclasses.asdict(line) for line in transcript_lines(segments, dict(row.speakers or {}))]
            message = {
                "lines": lines,
                "template": {"name": template.name, "content": dict(template.template_content)},
                "notes": notes_options(self.ctx.settings, self.ctx.secrets),
            }
            return template.id, message

    def _store_note_sync(
        self, job_id: uuid.UUID, session_id: uuid.UUID, template_id: uuid.UUID, result: dict[str, Any]
    ) -> None:
        from tbdesktop.services.notes import stored_sections

        with self.ctx.db.unit_of_work() as s:
            state = ProcessingStateRepository(s)
            if state.get(session_id) is None:
                JobRepository(s).finish(job_id, JobStatus.CANCELLED)
                return
            writer = NoteWriter(s)
            writer.add_version(
                session_id,
                template_id,
                stored_sections(result),
                str(result.get("generator", "")),
                removed_statements=int(result.get("removed_statements") or 0),
                warnings=[str(w) for w in result.get("warnings") or []],
            )
            writer.replace_flags(session_id, list(result.get("risk_flags", [])))
            state.update_state(
                session_id,
                ai_summary=str(result.get("summary") or "") or None,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail="Done",
                processing_error=None,
                eta_seconds=None,
            )
            JobRepository(s).finish(job_id, JobStatus.COMPLETED)
        self._last_write.pop(job_id, None)

    async def _notes_done(
        self, job_id: uuid.UUID, session_id: uuid.UUID, status: JobStatus, detail: str, error: str | None
    ) -> None:
        """The note was not written: the session stays completed (its transcript is kept) and says why."""
        await asyncio.to_thread(self._notes_done_sync, job_id, session_id, status, detail, error)
        log.info("notes not written", extra={"job_id": str(job_id), "status": status.value})
        self._emit(ProgressEvent(session_id, job_id, ProcessingStatus.COMPLETED.value, 100, detail, None, error))

    def _notes_done_sync(
        self, job_id: uuid.UUID, session_id: uuid.UUID, status: JobStatus, detail: str, error: str | None
    ) -> None:
        with self.ctx.db.unit_of_work() as s:
            ProcessingStateRepository(s).update_state(
                session_id,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail=detail,
                processing_error=error,
                eta_seconds=None,
            )
            JobRepository(s).finish(job_id, status, error)
        self._last_write.pop(job_id, None)

    def _finish_job_sync(self, job_id: uuid.UUID, status: JobStatus) -> None:
        with self.ctx.db.unit_of_work() as s:
            JobRepository(s).finish(job_id, status)
