"""The generating_notes stage of the processing runner: a progress note written by the worker process from the
stored transcript, after transcription or as a regenerate-notes job of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING, Any

from tbdesktop.engine.worker_protocol import Error, Progress
from tbdesktop.errors import TBError
from tbdesktop.services.processing.handle import WorkerSlot
from tbdesktop.services.processing.jobs import ClaimedJob, live_session
from tbdesktop.services.processing.reporter import JobReporter
from tbdesktop.store.models import JobStatus, NoteTemplate, ProcessingStatus
from tbdesktop.store.note_repositories import SystemNoteWriter
from tbdesktop.store.repositories import SystemJobRepository, SystemSegmentWriter, SystemStateRepository

if TYPE_CHECKING:
    from tbdesktop.services.context import AppContext

log = logging.getLogger(__name__)


class NotesStage:
    """Writes a session's note in a worker slot; the session ends completed either way (the transcript is there),
    with the reason when the note could not be written."""

    def __init__(self, ctx: AppContext, reporter: JobReporter) -> None:
        self.ctx = ctx
        self.reporter = reporter

    # -- a regenerate-notes job -------------------------------------------------------------------------------

    async def run(self, job: ClaimedJob, slot: WorkerSlot) -> None:
        """A new note version from the stored transcript; earlier versions stay."""
        log.info("notes job started", extra={"job_id": job.key, "session_id": str(job.session_id)})
        await self.write(job, slot, job.params.get("template_id"))

    async def cancelled(self, job: ClaimedJob) -> None:
        await self.reporter.completed_with(job, JobStatus.CANCELLED, "Notes cancelled", None)

    async def crashed(self, job: ClaimedJob, message: str) -> None:
        await self.reporter.completed_with(job, JobStatus.FAILED, "Notes failed", message)

    # -- the stage --------------------------------------------------------------------------------------------

    async def write(self, job: ClaimedJob, slot: WorkerSlot, template_id: str | None) -> None:
        """The generating_notes stage (after transcription, ``template_id`` None: the default template)."""
        failed_status = JobStatus.FAILED if template_id is not None else JobStatus.COMPLETED
        await self.reporter.progress(job, "generating_notes", 0.0, None, force=True)
        try:
            prepared = await asyncio.to_thread(self._notes_input_sync, job.session_id, template_id)
        except TBError as exc:
            await self.reporter.completed_with(job, failed_status, "Notes failed", exc.message)
            return
        if prepared is None:
            await self.reporter.finish_job(job, JobStatus.CANCELLED)
            return
        template_row_id, args = prepared

        async def on_progress(p: Progress) -> None:
            await self.reporter.progress(job, "generating_notes", p.fraction, p.eta)

        reply = await slot.request("notes", args, on_progress)
        if isinstance(reply, Error):
            reason = reply.message or "The note could not be written."
            await self.reporter.completed_with(job, failed_status, "Notes failed", reason)
            return
        await asyncio.to_thread(self._store_note_sync, job, template_row_id, reply.data)
        self.reporter.ended(job, ProcessingStatus.COMPLETED, "Done")

    def _notes_input_sync(
        self, session_id: uuid.UUID, template_id: str | None
    ) -> tuple[uuid.UUID, dict[str, Any]] | None:
        from tbdesktop.services.context import notes_options
        from tbdesktop.services.notes import transcript_lines
        from tbdesktop.services.templates import default_template

        with self.ctx.db.unit_of_work() as s:
            row = SystemStateRepository(s).get(session_id)
            if row is None:
                return None
            if row.transcript_deleted_at is not None:
                raise TBError("The transcript of this session was deleted, so notes cannot be written.")
            template = s.get(NoteTemplate, uuid.UUID(template_id)) if template_id else None
            if template is None:
                template = default_template(s, row.owner_id)
            if template is None:
                raise TBError("No note template is available.")
            segments = SystemSegmentWriter(s).in_order(session_id)
            lines = [dataclasses.asdict(line) for line in transcript_lines(segments, dict(row.speakers or {}))]
            args = {
                "lines": lines,
                "template": {"name": template.name, "content": dict(template.template_content)},
                "notes": notes_options(self.ctx.settings, self.ctx.secrets),
            }
            return template.id, args

    def _store_note_sync(self, job: ClaimedJob, template_id: uuid.UUID, result: dict[str, Any]) -> None:
        from tbdesktop.services.notes import stored_sections

        with self.ctx.db.unit_of_work() as s:
            if live_session(s, job) is None:
                return
            state = SystemStateRepository(s)
            writer = SystemNoteWriter(s)
            writer.add_version(
                job.session_id,
                template_id,
                stored_sections(result),
                str(result.get("generator", "")),
                removed_statements=int(result.get("removed_statements") or 0),
                warnings=[str(w) for w in result.get("warnings") or []],
            )
            writer.replace_flags(job.session_id, list(result.get("risk_flags", [])))
            state.update_state(
                job.session_id,
                ai_summary=str(result.get("summary") or "") or None,
                processing_status=ProcessingStatus.COMPLETED,
                processing_progress=100,
                processing_stage_detail="Done",
                processing_error=None,
                eta_seconds=None,
            )
            SystemJobRepository(s).finish(job.id, JobStatus.COMPLETED)
