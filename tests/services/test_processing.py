"""The persistent job queue end to end: real worker process, real model, real audio."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from plaintext_support import file_copies, memory_copies
from polling import until, until_async
from sqlalchemy import select
from tests_support import run_queue_once, run_until_idle

from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.secrets import SecretsLockedError
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob, TherapySession, TranscriptSegment

pytestmark = pytest.mark.slow


def _words(text: str) -> set[str]:
    return {w.strip(".,?!").lower() for w in text.split()}


def _long_session(src: Path, dest: Path, repeats: int) -> Path:
    if dest.is_file():
        return dest
    with wave.open(str(src), "rb") as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(dest), "wb") as out:
        out.setparams(params)
        for _ in range(repeats):
            out.writeframes(frames)
    return dest


def test_queue_transcribes_real_recording(ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path) -> None:
    wav, _, keywords = two_speaker
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=wav, client_name="Alex", consent_method="verbal"))
    events = run_queue_once(ctx, therapist)

    done = service.get_sync(info.id)
    assert done.status == "completed", done.error
    assert done.progress == 100
    segments = service.transcript_sync(info.id)
    assert segments, "no transcript"
    said = set().union(*(_words(s.text) for s in segments))
    found = [k for k in keywords if k in said]
    assert len(found) >= len(keywords) * 0.7, (found, keywords)
    assert all(s.speaker for s in segments)
    starts = [s.start_s for s in segments]
    assert starts == sorted(starts)
    assert all(w.start <= w.end for s in segments for w in s.words)

    statuses = [e.status for e in events]
    assert "preprocessing" in statuses and "transcribing" in statuses and statuses[-1] == "completed"
    progress = [e.progress for e in events if e.status == "transcribing"]
    assert progress == sorted(progress)
    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
        assert job.status == "completed" and job.finished_at is not None and job.lease_owner is None


def test_rerun_replaces_transcript(ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path) -> None:
    from tbdesktop.store.repositories import SystemJobRepository

    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])

    async def go() -> None:
        await runner.run_until_idle()
        with ctx.db.unit_of_work() as s:
            SystemJobRepository(s).enqueue(info.id, "process")
        await runner.run_until_idle()
        await runner.stop()

    asyncio.run(go())
    with ctx.db.unit_of_work() as s:
        rows = s.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == info.id)).all()
    assert len(rows) == len(service.transcript_sync(info.id)) > 0
    assert sorted(r.idx for r in rows) == list(range(len(rows)))


def test_undecodable_recording_fails_and_queue_moves_on(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path
) -> None:
    service = SessionService(ctx, therapist)
    broken = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], client_name="Broken", consent_method="verbal")
    )
    good = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], client_name="Good", consent_method="verbal")
    )
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, broken.id)
        assert row is not None and row.recording_path
        (ctx.settings.recordings_dir / row.recording_path).write_bytes(b"\x00garbage" * 500)

    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])

    async def go() -> int:
        try:
            return await runner.run_until_idle()
        finally:
            await runner.stop()

    assert asyncio.run(go()) == 2
    failed = service.get_sync(broken.id)
    assert failed.status == "failed"
    assert failed.error and "Traceback" not in failed.error and len(failed.error) < 300
    assert service.get_sync(good.id).status == "completed"


def test_two_slots_process_two_recordings_at_once(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path
) -> None:
    """With two jobs allowed at once (TB_WORKERS=2), a queue of two runs in two worker processes side by side."""
    service = SessionService(ctx, therapist)
    first, second = (
        service.import_recording_sync(
            ImportRequest(allow_duplicate=True, source=two_speaker[0], client_name=name, consent_method="verbal")
        )
        for name in ("Avery", "Blake")
    )
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id], workers=2)
    events: list[ProgressEvent] = []
    runner.add_listener(events.append)
    pids: set[int] = set()

    def note_pids(_event: ProgressEvent) -> None:
        pids.update(runner.worker_pids)

    runner.add_listener(note_pids)

    async def go() -> int:
        try:
            return await runner.run_until_idle()
        finally:
            await runner.stop()

    assert asyncio.run(go()) == 2
    assert runner.capacity.jobs == 2 and len(pids) == 2
    order = [e.session_id for e in events]
    # each session's work began before the other's ended: they overlapped
    for one, other in ((first.id, second.id), (second.id, first.id)):
        last_of_one = max(i for i, sid in enumerate(order) if sid == one)
        first_of_other = order.index(other)
        assert first_of_other < last_of_one
    for info in (first, second):
        done = service.get_sync(info.id)
        assert done.status == "completed", done.error
        assert service.transcript_sync(info.id)


def test_missing_recording_fails_readably(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=two_speaker[0], consent_method="verbal"))
    for f in ctx.settings.recordings_dir.iterdir():
        f.unlink()
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    asyncio.run(runner.run_until_idle())
    failed = service.get_sync(info.id)
    assert failed.status == "failed" and failed.error == "The recording file is missing from the data folder."


def test_cancel_running_job(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path, tmp_path: Path
) -> None:
    long_wav = _long_session(two_speaker[0], tmp_path / "long.wav", 8)
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=long_wav, consent_method="verbal"))
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    seen: list[ProgressEvent] = []
    runner.add_listener(seen.append)

    async def go() -> None:
        task = asyncio.ensure_future(runner.run_next())
        await until_async(lambda: any(e.status == "transcribing" for e in seen), 60, "transcription to start")
        # the worker reads a short-lived decrypted copy held in this process's memory, named on no disk
        assert len(memory_copies(os.getpid())) == 1 and file_copies(os.getpid()) == []
        worker_pid = runner.worker_pid
        assert worker_pid is not None
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker_pid) == min(own + 10, 19)  # below the window in priority
        assert await runner.cancel(info.id)
        await task
        assert worker_pid is not None
        await until_async(lambda: _exited(worker_pid), 30, "the cancelled worker to exit")
        with pytest.raises(ProcessLookupError):
            os.kill(worker_pid, 0)
        await runner.stop()

    asyncio.run(go())
    after = service.get_sync(info.id)
    assert after.status == "cancelled"
    assert service.transcript_sync(info.id) == []
    assert file_copies(os.getpid()) == [] and memory_copies(os.getpid()) == []  # freed on cancel too


def test_job_left_transcribing_completes_after_restart(
    make_settings: Any, two_speaker: Any, model_cache: Path, tmp_path: Path
) -> None:
    """Kill the app (a process running the job) mid-transcription; a new runner resumes and finishes it.

    Both processes open the profile's keys from the passcode-encrypted store, as on a computer without an OS
    keyring; the plaintext copy the dead process left in memory-backed storage is removed at the next start."""
    from tbdesktop.services.recording_vault import remove_stale_plaintext

    ctx = AppContext.open(make_settings(secret_store="file"))
    therapist = ProfileService(ctx).create_profile_sync("Dana Reyes", passcode="resume-passcode")
    long_wav = _long_session(two_speaker[0], tmp_path / "long.wav", 6)
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=long_wav, client_name="Resume", consent_method="verbal"))

    env = dict(
        os.environ,
        TB_DATA_DIR=str(ctx.settings.data_dir),
        TB_CACHE_DIR=str(model_cache),
        TB_SECRETS_DIR=str(ctx.settings.secrets_dir),
        TB_SECRET_STORE="file",
        TB_PASSCODE="resume-passcode",
    )
    script = (
        "import asyncio, os\n"
        "from tbdesktop.config import load_settings\n"
        "from tbdesktop.services.context import AppContext\n"
        "from tbdesktop.services.processing import ProcessingRunner\n"
        "from tbdesktop.services.profiles import ProfileService\n"
        "passcode = os.environ['TB_PASSCODE']\n"
        "ctx = AppContext.open(load_settings(), credentials=lambda profiles: (profiles[0].id, passcode))\n"
        "for p in ProfileService(ctx).list_profiles_sync():\n"
        "    ctx.secrets.unlock(p.id, os.environ['TB_PASSCODE'])\n"
        "asyncio.run(ProcessingRunner(ctx).run_until_idle())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:

        def transcribing() -> bool:
            if service.status_sync(info.id).status == "transcribing":
                return True
            assert proc.poll() is None, "the processing app exited early"
            return False

        until(transcribing, 120, "the other process to start transcribing", interval=0.2)
        assert service.status_sync(info.id).status == "transcribing"
        os.killpg(proc.pid, signal.SIGKILL)  # the app and its worker die without cleaning up
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
        assert job.status == "running"  # left behind by the dead process
    assert service.status_sync(info.id).status == "transcribing"

    # the dead process had no chance to clean up, and there is nothing to clean: its decrypted copy was memory
    assert file_copies(proc.pid) == [] and remove_stale_plaintext() == 0

    try:
        runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
        ctx.secrets.lock()  # as at a new start: the profile's keys wait for its passcode
        with pytest.raises(SecretsLockedError):
            ctx.recordings.open_plaintext(*_stored(ctx, info.id))
        assert ProfileService(ctx).unlock_secrets_sync(therapist.id, "resume-passcode")

        async def restart() -> None:
            assert await runner.resume_abandoned() == 1
            await runner.run_until_idle()
            await runner.stop()

        asyncio.run(restart())
        done = service.get_sync(info.id)
        assert done.status == "completed", done.error
        assert len(service.transcript_sync(info.id)) > 5
        with ctx.db.unit_of_work() as s:
            job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
            # the app dying is not the job failing: its try was given back, the worker's retry is intact
            assert job.status == "completed" and job.attempts == 1 and job.params.get("interrupted") == 1
        assert file_copies(os.getpid()) == [] and memory_copies(os.getpid()) == []  # freed once it ended
    finally:
        ctx.close()


def _stored(ctx: AppContext, session_id: Any) -> tuple[str, str | None, Any]:
    from tbdesktop.store.models import TherapySession

    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None and row.recording_path
        return row.recording_path, row.recording_key, row.owner_id


def test_live_lease_of_another_workstation_is_not_stolen(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    from datetime import timedelta

    from tbdesktop.store.models import utcnow

    info = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(source=two_speaker[0], consent_method="verbal")
    )
    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
        job.status = "running"
        job.lease_owner = "other-host:123:abc"
        job.lease_expires_at = utcnow() + timedelta(minutes=5)
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    assert asyncio.run(runner.resume_abandoned()) == 0
    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
        job.lease_expires_at = utcnow() - timedelta(seconds=1)
    assert asyncio.run(runner.resume_abandoned()) == 1


def test_queue_on_postgresql(make_settings: Any, pg_url: str, two_speaker: Any, model_cache: Path) -> None:
    from tbdesktop.services.profiles import ProfileService

    context = AppContext.open(make_settings(database_url=pg_url))
    try:
        user = ProfileService(context).create_profile_sync("PG Therapist", "pgt@example.org")
        service = SessionService(context, user)
        info = service.import_recording_sync(
            ImportRequest(source=two_speaker[0], client_name="Alex", consent_method="verbal")
        )
        runner = ProcessingRunner(context, owner_ids=[user.id])

        async def go() -> None:
            await runner.run_until_idle()
            await runner.stop()

        asyncio.run(go())
        assert service.get_sync(info.id).status == "completed"
        assert any("sleep" in s.text.lower() for s in service.transcript_sync(info.id))
    finally:
        context.close()


def test_started_runner_warms_worker_and_picks_up_new_jobs(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path
) -> None:
    """The app's runner: a warm worker before any job, woken by an import, finishing it in the background."""
    service = SessionService(ctx, therapist)
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id], poll_interval_s=30)
    finished: list[ProgressEvent] = []
    runner.add_listener(lambda e: finished.append(e) if e.finished else None)

    async def go() -> Any:
        await runner.start()
        warm_pid = runner.worker_pid
        assert warm_pid is not None
        info = await service.import_recording(ImportRequest(source=two_speaker[0], consent_method="verbal"))
        runner.wake()
        await until_async(lambda: bool(finished), 120, "the job to finish")
        assert runner.worker_pid == warm_pid  # the same warm process ran the job
        await runner.stop()
        return info

    info = asyncio.run(go())
    assert [e.status for e in finished] == ["completed"]
    assert service.get_sync(info.id).status == "completed"


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, name) of the live child processes of ``pid``, read from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append((int(entry.name), cmdline))
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_killed_engine_worker_is_retried_and_the_job_completes_once(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path, tmp_path: Path
) -> None:
    """SIGKILL the transcription worker mid-job: the job is retried once and the transcript stored once."""
    long_wav = _long_session(two_speaker[0], tmp_path / "long.wav", 6)
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=long_wav, client_name="Crash", consent_method="verbal"))
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    seen: list[ProgressEvent] = []
    runner.add_listener(seen.append)
    killed: list[int] = []

    async def go() -> None:
        task = asyncio.ensure_future(runner.run_until_idle())

        def both_workers_run() -> bool:
            pid = runner.worker_pid
            return any(e.status == "transcribing" for e in seen) and bool(pid) and len(_children(pid or -1)) >= 2

        await until_async(both_workers_run, 120, "the transcription and diarization workers", interval=0.1)
        engine = _children(runner.worker_pid or -1)
        assert len(engine) >= 2, "the coordinator runs a transcription and a diarization worker"
        pid = min(p for p, _ in engine)  # the transcription worker starts first
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        assert await task == 2  # the failed attempt and the retry
        await runner.stop()

    asyncio.run(go())
    done = service.get_sync(info.id)
    assert done.status == "completed", done.error
    segments = service.transcript_sync(info.id)
    assert segments and [s.start_s for s in segments] == sorted(s.start_s for s in segments)
    with ctx.db.unit_of_work() as s:
        jobs = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).all()
        assert len(jobs) == 1 and jobs[0].status == "completed" and jobs[0].attempts == 2
        rows = s.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == info.id)).all()
        assert len(rows) == len(segments)  # written exactly once
    assert killed and not any(p == killed[0] for p, _ in _children(os.getpid()))


def test_two_channel_recording_is_diarized_by_its_channels(
    ctx: AppContext, therapist: Any, two_speaker: Any, two_microphone_session: Path
) -> None:
    """A recording marked one-microphone-per-person (as the recorder marks a two-channel device) is processed
    with speakers read from the channels; the mark survives processing and is never shown as a speaker."""
    stereo = two_microphone_session
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=stereo, consent_method="verbal"))
    capture = {"channels": 2, "layout": "channel_per_speaker", "sample_rate": 16000}
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.speakers = {"_capture": capture}
    asyncio.run(ProcessingRunner(ctx, owner_ids=[therapist.id]).run_until_idle())
    done = service.get_sync(info.id)
    assert done.status == "completed", done.error
    assert "_capture" not in done.speakers and set(done.speakers) == {"SPEAKER_00", "SPEAKER_01"}
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None and row.speakers["_capture"] == capture
    turns = two_speaker[1]
    first = "SPEAKER_00" if turns[0]["speaker"] == "THERAPIST" else "SPEAKER_01"
    lines = service.transcript_sync(info.id)
    assert lines[0].speaker == first


@pytest.mark.parametrize("failures", [1, 99])
def test_an_unexpected_error_never_leaves_a_job_running(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Path, monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    """A stage error nobody planned for (here the database too busy to take the transcript) is tried once more,
    as a crash is, and then fails the session with a message: the session never stays "in progress" for ever."""
    from sqlalchemy.exc import OperationalError

    from tbdesktop.services.processing.jobs import UNEXPECTED_MESSAGE
    from tbdesktop.services.processing.transcribe_stage import TranscribeStage

    real = TranscribeStage._store_result_sync
    calls: list[int] = []

    def busy_then_real(self: TranscribeStage, job: Any, result: dict[str, Any]) -> bool:
        calls.append(job.attempts)
        if len(calls) <= failures:
            raise OperationalError("INSERT INTO transcript_segments", {}, Exception("database is locked"))
        return real(self, job, result)

    monkeypatch.setattr(TranscribeStage, "_store_result_sync", busy_then_real)
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(
        ImportRequest(source=two_speaker[0], client_name="Alex", consent_method="verbal")
    )
    run_until_idle(ProcessingRunner(ctx, owner_ids=[therapist.id]))

    done = service.get_sync(info.id)
    with ctx.db.unit_of_work() as s:
        job = s.scalars(select(ProcessingJob).where(ProcessingJob.session_id == info.id)).one()
        assert job.lease_owner is None and job.status in {"completed", "failed"}
    assert calls == [1, 2]
    if failures == 1:
        assert done.status == "completed" and service.transcript_sync(info.id)
    else:
        assert done.status == "failed" and done.error == UNEXPECTED_MESSAGE
