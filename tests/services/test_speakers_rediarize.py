"""Speaker separation again, as a job of the real runner and worker processes, on a recording of two voices."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from polling import until_async
from sqlalchemy import select
from tests_support import run_queue_once, segment_rows, timed_words

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob, ProcessingStatus, TherapySession, TranscriptSegment
from tbdesktop.store.note_repositories import SystemNoteWriter

pytestmark = pytest.mark.slow

MANUAL_IDX = 1  # corrected by the therapist to the wrong voice on purpose: a re-run must keep it


def _one_voice_session(ctx: AppContext, therapist: Any, wav: Path, turns: list[dict[str, Any]]) -> Any:
    """The recording with its true words, every line given to one speaker (as a poor separation would)."""
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=wav, client_name="Alex", consent_method="verbal"))
    with ctx.db.unit_of_work() as s:
        for job in s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)):
            job.status = "completed"
        for idx, turn in enumerate(turns):
            s.add(
                TranscriptSegment(
                    session_id=info.id,
                    idx=idx,
                    start_s=turn["start"],
                    end_s=turn["end"],
                    speaker="SPEAKER_00",
                    role="client",
                    text=turn["text"],
                    words=timed_words(
                        turn["text"], turn["start"], (turn["end"] - turn["start"]) / len(turn["text"].split())
                    ),
                    manual=idx == MANUAL_IDX,
                )
            )
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.COMPLETED
        row.processing_progress = 100
        row.speakers = {"SPEAKER_00": {"role": "client", "name": "Alex"}}
        SystemNoteWriter(s).add_version(info.id, None, {}, "local")
    return info


def test_rediarize_job_separates_two_voices_and_keeps_corrections(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path
) -> None:
    wav, turns, _keywords = two_speaker
    info = _one_voice_session(ctx, therapist, wav, turns)
    service = SessionService(ctx, therapist)
    before = segment_rows(ctx, info.id)
    change = service.rediarize_sync(info.id, 2)
    assert change.session.status == "queued"

    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    events: list[ProgressEvent] = []
    runner.add_listener(events.append)
    first: list[ProgressEvent] = []

    async def go() -> None:
        try:
            assert await runner.run_until_idle() == 1
            first.extend(events)
            # Again, and cancelled while the voices are being separated: nothing changes.
            service.rediarize_sync(info.id, 3)
            task = asyncio.ensure_future(runner.run_until_idle())

            def diarizing() -> bool:
                if any(e.status == "diarizing" for e in events[len(first) :]):
                    return True
                assert not task.done(), "the second separation never started"
                return False

            await until_async(diarizing, 120, "the second separation to start")
            assert await runner.cancel(info.id)
            await task
        finally:
            await runner.stop()

    asyncio.run(go())
    cancelled = events[len(first) :]

    done = service.get_sync(info.id)
    assert done.status == "completed", done.error
    statuses = [e.status for e in first]
    assert "preprocessing" in statuses and "diarizing" in statuses and statuses[-1] == "completed"
    progress = [e.progress for e in first]
    assert progress == sorted(progress)

    after = segment_rows(ctx, info.id)
    assert set(before) <= set(after)  # no line number lost: every citation still resolves
    assert after[MANUAL_IDX].speaker == "SPEAKER_00" and after[MANUAL_IDX].text == before[MANUAL_IDX].text
    truth: dict[int, str] = {idx: turn["speaker"] for idx, turn in enumerate(turns)}
    pairs = Counter(
        (truth[r.split_from if r.split_from is not None else r.idx], r.speaker)
        for r in after.values()
        if (r.split_from if r.split_from is not None else r.idx) != MANUAL_IDX
    )
    label_of = {who: max((p for p in pairs if p[0] == who), key=lambda p: pairs[p])[1] for who in set(truth.values())}
    assert len(set(label_of.values())) == 2, pairs  # two voices, two speakers
    agree = sum(n for (who, label), n in pairs.items() if label_of[who] == label)
    assert agree >= 0.8 * sum(pairs.values()), pairs
    speakers = done.speakers
    assert set(speakers) == {r.speaker for r in after.values()}
    assert speakers["SPEAKER_00"]["name"] == "Alex"
    assert {speakers[label]["role"] for label in label_of.values()} <= {"therapist", "client"}
    assert done.needs_regeneration

    # The cancelled second run changed nothing and said so.
    assert cancelled and cancelled[-1].status == "completed"
    assert segment_rows(ctx, info.id).keys() == after.keys()
    assert {k: (r.speaker, r.text) for k, r in segment_rows(ctx, info.id).items()} == {
        k: (r.speaker, r.text) for k, r in after.items()
    }
    assert done.stage_detail == "Speaker separation cancelled"
    with ctx.db.unit_of_work() as s:
        kinds = [(j.kind, j.status) for j in s.scalars(select(ProcessingJob).order_by(ProcessingJob.created_at))]
    assert kinds[-2:] == [("rediarize", "completed"), ("rediarize", "cancelled")]


def test_a_failed_separation_says_why_and_loses_nothing(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path
) -> None:
    wav, turns, _keywords = two_speaker
    info = _one_voice_session(ctx, therapist, wav, turns)
    service = SessionService(ctx, therapist)
    before = {k: (r.speaker, r.text) for k, r in segment_rows(ctx, info.id).items()}
    service.rediarize_sync(info.id, None)
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None and row.recording_path
        (ctx.settings.recordings_dir / row.recording_path).write_bytes(b"\x00garbage" * 500)
    events = run_queue_once(ctx, therapist)
    done = service.get_sync(info.id)
    assert done.status == "completed" and done.stage_detail == "Speaker separation failed"
    assert done.error and done.error.endswith("The transcript is unchanged.")
    assert events[-1].error == done.error
    assert {k: (r.speaker, r.text) for k, r in segment_rows(ctx, info.id).items()} == before
    assert not done.needs_regeneration
    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.kind == "rediarize")).one()
        assert job.status == "failed" and job.error == done.error
