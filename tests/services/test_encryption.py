"""Recordings encrypted at rest: the file format, the data folder on disk, processing and playback through
short-lived copies, and the key destroyed with the recording."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from plaintext_support import copies, gone, in_memory
from sqlalchemy import select

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording_vault import (
    CHUNK,
    HEADER_SIZE,
    MAGIC,
    TAG,
    RecordingCryptoError,
    decrypt_stream,
    encrypt_stream,
)
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import TherapySession

AUDIO_MAGICS = (b"RIFF", b"ID3", b"OggS", b"fLaC", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


# -- the file format ---------------------------------------------------------------------------------------


def _roundtrip(data: bytes, key: bytes) -> bytes:
    sealed = io.BytesIO()
    digest = encrypt_stream(io.BytesIO(data), sealed, key)
    import hashlib

    assert digest == hashlib.sha256(data).hexdigest()
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(sealed.getvalue()), out, key)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_encrypt_decrypt_roundtrip(size: int) -> None:
    key = os.urandom(32)
    data = os.urandom(size)
    assert _roundtrip(data, key) == data


def _sealed(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key)
    return out.getvalue()


def _refused(blob: bytes, key: bytes) -> str:
    with pytest.raises(RecordingCryptoError) as caught:
        decrypt_stream(io.BytesIO(blob), io.BytesIO(), key)
    return caught.value.message


def test_tampering_truncation_reordering_and_wrong_keys_are_refused() -> None:
    key = os.urandom(32)
    data = os.urandom(2 * CHUNK + 100)
    blob = _sealed(data, key)
    assert blob.startswith(MAGIC) and data[:64] not in blob and len(blob) == HEADER_SIZE + len(data) + 3 * TAG

    flipped = bytearray(blob)
    flipped[HEADER_SIZE + CHUNK // 2] ^= 0x01
    assert "altered" in _refused(bytes(flipped), key)
    assert "altered" in _refused(blob, os.urandom(32))
    # Dropping the last chunk leaves a file that ends on a chunk not marked final.
    assert "altered" in _refused(blob[: HEADER_SIZE + 2 * (CHUNK + TAG)], key)
    assert "altered" in _refused(blob[:-5], key)
    first, second = (
        blob[HEADER_SIZE : HEADER_SIZE + CHUNK + TAG],
        blob[HEADER_SIZE + CHUNK + TAG : HEADER_SIZE + 2 * (CHUNK + TAG)],
    )
    swapped = blob[:HEADER_SIZE] + second + first + blob[HEADER_SIZE + 2 * (CHUNK + TAG) :]
    assert "altered" in _refused(swapped, key)
    assert "not an encrypted" in _refused(b"RIFF" + blob[4:], key)


# -- the data folder ---------------------------------------------------------------------------------------


def _samples(source: Path) -> list[bytes]:
    """Pieces of the plaintext that must never appear in the data folder (varied ones: silence is all zeros)."""
    data = source.read_bytes()
    pieces: list[bytes] = []
    for start in range(64, len(data) - 48, 997):
        piece = data[start : start + 48]
        if len(set(piece)) >= 24:
            pieces.append(piece)
    step = max(len(pieces) // 8, 1)
    assert pieces, f"no varied piece in {source.name}"
    return pieces[::step][:8]


def assert_no_plaintext_audio(folder: Path, sources: list[Path]) -> list[Path]:
    """Every file under ``folder``: no piece of the sources, no audio container, nothing PyAV can decode."""
    import av

    samples = [piece for source in sources for piece in _samples(source)]
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        content = path.read_bytes()
        assert not content.startswith(AUDIO_MAGICS), f"{path.name} looks like plain audio"
        assert not any(piece in content for piece in samples), f"plaintext audio found in {path.name}"
        if path.suffix in {".wav", ".mp3", ".m4a", ".ogg", ".flac", ".audio"}:
            with pytest.raises(Exception):  # noqa: B017,PT011 - any refusal by the demuxer will do
                with av.open(str(path)) as container:
                    next(container.decode(audio=0))
    return files


def _imported(service: SessionService, source: Path, client: str | None = None) -> Any:
    """An imported recording whose processing is over (deleting is refused while a session is queued)."""
    from tbdesktop.store.models import ProcessingStatus

    info = service.import_recording_sync(ImportRequest(source=source, client_name=client, consent_method="verbal"))
    with service.ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.processing_status = ProcessingStatus.COMPLETED
    return info


def _row(ctx: AppContext, session_id: Any) -> TherapySession:
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, session_id)
        assert row is not None
        s.expunge(row)
        return row


def test_imported_recordings_are_ciphertext_in_the_data_folder(
    ctx: AppContext, therapist: Any, audio_files: dict[str, Path]
) -> None:
    service = SessionService(ctx, therapist)
    sources = [audio_files[name] for name in ("session", "mp3", "m4a", "flac")]
    infos = [
        service.import_recording_sync(ImportRequest(source=src, client_name="Jordan Lee", consent_method="verbal"))
        for src in sources
    ]
    files = assert_no_plaintext_audio(ctx.settings.data_dir, sources)
    assert len([f for f in files if f.parent == ctx.settings.recordings_dir]) == len(sources)
    for info, source in zip(infos, sources, strict=True):
        row = _row(ctx, info.id)
        stored = ctx.settings.recordings_dir / str(row.recording_path)
        assert stored.read_bytes().startswith(MAGIC)
        assert row.recording_key and row.recording_sha256
        # Each recording has a key of its own, and it opens only that recording.
        with ctx.recordings.plaintext(str(row.recording_path), row.recording_key, therapist.id) as plain:
            assert plain.read_bytes() == source.read_bytes()
            assert in_memory(plain)  # named on no disk: anonymous memory of this process
        assert gone(plain)
    keys = {_row(ctx, i.id).recording_key for i in infos}
    assert len(keys) == len(infos)
    first, second = _row(ctx, infos[0].id), _row(ctx, infos[1].id)
    with pytest.raises(RecordingCryptoError):
        ctx.recordings.open_plaintext(str(first.recording_path), second.recording_key, therapist.id)


def test_processing_reads_a_short_lived_copy_and_never_writes_plaintext(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    """At every progress step the data folder holds only ciphertext; the decrypted copy is gone afterwards."""
    wav = two_speaker[0]
    service = SessionService(ctx, therapist)
    info = service.import_recording_sync(ImportRequest(source=wav, client_name="Jordan Lee", consent_method="verbal"))
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    seen_copies: list[int] = []
    problems: list[str] = []
    checks = [0]

    def on_event(_event: Any) -> None:
        if checks[0] < 6:  # a handful of scans while the worker is reading the recording
            checks[0] += 1
            try:
                assert_no_plaintext_audio(ctx.settings.data_dir, [wav])
            except AssertionError as exc:
                problems.append(str(exc))
            seen_copies.append(len(copies(os.getpid())))

    runner.add_listener(on_event)

    async def go() -> None:
        await runner.run_until_idle()
        await runner.stop()

    asyncio.run(go())
    assert service.get_sync(info.id).status == "completed"
    assert problems == []
    assert checks[0] >= 3 and max(seen_copies) == 1  # the copy existed while the job ran …
    assert copies(os.getpid()) == []  # … and not after
    assert_no_plaintext_audio(ctx.settings.data_dir, [wav])


def test_a_damaged_recording_fails_clearly_and_leaves_no_copy(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    service = SessionService(ctx, therapist)
    bad = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], consent_method="verbal")
    )
    good = service.import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], consent_method="verbal")
    )
    stored = ctx.settings.recordings_dir / str(_row(ctx, bad.id).recording_path)
    blob = bytearray(stored.read_bytes())
    blob[HEADER_SIZE + 1000] ^= 0xFF
    stored.write_bytes(bytes(blob))

    async def go() -> None:
        runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
        await runner.run_until_idle()
        await runner.stop()

    asyncio.run(go())
    failed = service.get_sync(bad.id)
    assert failed.status == "failed" and "altered or damaged" in (failed.error or "")
    assert service.get_sync(good.id).status == "completed"  # the other session was processed
    assert copies(os.getpid()) == []


def test_playback_copy_is_audited_and_removed(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    from tbdesktop.store.models import AuditEvent

    service = SessionService(ctx, therapist)
    info = _imported(service, two_speaker[0])
    copy = service.open_recording_sync(info.id)
    assert copy.path.read_bytes() == two_speaker[0].read_bytes()
    assert copy.in_memory
    copy.close()
    copy.close()  # closing twice is harmless
    assert gone(copy.path)
    with ctx.db.unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.object_id == str(info.id)))]
    assert "recording.play" in actions

    other = ProfileService(ctx).create_profile_sync("Other Therapist")
    from tbdesktop.errors import NotFoundError

    with pytest.raises(NotFoundError):
        SessionService(ctx, other).open_recording_sync(info.id)
    service.delete_recording_sync(info.id)
    with pytest.raises(ValidationError, match="deleted"):
        service.open_recording_sync(info.id)


def test_without_anonymous_memory_the_copy_is_a_private_file_removed_with_its_folder(
    ctx: AppContext, therapist: Any, two_speaker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the platform has no anonymous memory files, the copy is a 0600 file on memory-backed storage in a
    0700 folder of this process, and closing it leaves neither the file nor the folder."""
    from tbdesktop.engine.scratch import MemoryFile

    service = SessionService(ctx, therapist)
    info = _imported(service, two_speaker[0])
    monkeypatch.setattr(MemoryFile, "create", classmethod(lambda cls, name: None))
    copy = service.open_recording_sync(info.id)
    try:
        assert not copy.in_memory and copy.path.read_bytes() == two_speaker[0].read_bytes()
        assert oct(copy.path.stat().st_mode & 0o777) == "0o600"
        assert oct(copy.path.parent.stat().st_mode & 0o777) == "0o700"
        assert not copy.path.is_relative_to(ctx.settings.data_dir)
    finally:
        copy.close()
    assert not copy.path.exists() and not copy.path.parent.exists()


def test_a_copy_nobody_closed_is_freed_when_it_is_dropped(
    ctx: AppContext, therapist: Any, two_speaker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A playback copy decrypted for a view that was closed meanwhile: the task waiting for it was cancelled, the
    thread decrypting it ran on, and the copy it returned is dropped unclosed; it must not stay in memory."""
    import gc

    from tbdesktop.engine.scratch import MemoryFile

    service = SessionService(ctx, therapist)
    info = _imported(service, two_speaker[0])
    assert copies(os.getpid()) == []

    async def cancelled_while_decrypting() -> None:
        opening = asyncio.ensure_future(service.open_recording(info.id))
        await asyncio.sleep(0)  # the thread has started
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening

    asyncio.run(cancelled_while_decrypting())  # returns once the decrypting thread has finished
    gc.collect()
    assert copies(os.getpid()) == []

    # the same for a copy in a private file where there is no anonymous memory: the file and its folder go
    monkeypatch.setattr(MemoryFile, "create", classmethod(lambda cls, name: None))
    copy = service.open_recording_sync(info.id)
    path = copy.path
    assert path.is_file()
    del copy
    gc.collect()
    assert not path.exists() and not path.parent.exists()


def test_deleting_a_recording_destroys_its_key(
    ctx: AppContext, therapist: Any, two_speaker: Any, tmp_path: Path
) -> None:
    """A copy of the encrypted file taken before deletion (a backup, a stolen disk image) can no longer be read:
    the wrapped key left the row and the database files, and the master key alone does not open it."""
    service = SessionService(ctx, therapist)
    info = _imported(service, two_speaker[0])
    row = _row(ctx, info.id)
    wrapped = str(row.recording_key)
    stolen = tmp_path / "stolen-copy.bin"
    shutil.copyfile(ctx.settings.recordings_dir / str(row.recording_path), stolen)

    service.delete_recording_sync(info.id)
    after = _row(ctx, info.id)
    assert after.recording_key is None and after.recording_path is None
    assert not (ctx.settings.recordings_dir / str(row.recording_path)).exists()
    assert list(ctx.settings.recordings_dir.iterdir()) == []
    database_files = [p for p in ctx.settings.data_dir.glob("tbdesktop.sqlite3*") if p.is_file()]
    assert database_files
    for path in database_files:
        assert wrapped.encode() not in path.read_bytes(), f"the deleted key is still in {path.name}"

    # The master key is still there (other recordings need it); without the wrapped data key it opens nothing.
    master = ctx.secrets.get("recordings_master_key", user_id=therapist.id)
    assert master is not None
    import base64

    for guess in (base64.b64decode(master), os.urandom(32)):
        with pytest.raises(RecordingCryptoError), stolen.open("rb") as src:
            decrypt_stream(src, io.BytesIO(), guess)


def test_delete_session_and_transcript_leave_no_words_in_the_database_files(
    ctx: AppContext, therapist: Any, two_speaker: Any
) -> None:
    from tests_support import session_with_transcript

    secret_word = "Zanzibarian"
    lines = [
        ("therapist", "How did the week go?"),
        ("client", f"My {secret_word} neighbour kept me awake all week."),
    ]
    service = SessionService(ctx, therapist)
    kept = session_with_transcript(ctx, therapist, two_speaker[0], lines)
    gone = session_with_transcript(ctx, therapist, two_speaker[0], lines)
    assert {h.session_id for h in _search(ctx, therapist, secret_word)} == {kept.id, gone.id}
    service.delete_transcript_sync(kept.id)
    service.delete_session_sync(gone.id)
    assert _search(ctx, therapist, secret_word) == []
    for path in ctx.settings.data_dir.glob("tbdesktop.sqlite3*"):
        assert secret_word.encode() not in path.read_bytes(), f"a deleted transcript is still in {path.name}"


def _search(ctx: AppContext, user: Any, query: str) -> list[Any]:
    from tbdesktop.services.search import SearchService

    return list(SearchService(ctx, user).search_sync(query))


def test_recordings_from_before_encryption_are_sealed(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    """A data folder from before encryption at rest: its plain recordings are encrypted at the next start."""
    service = SessionService(ctx, therapist)
    info = _imported(service, two_speaker[0])
    row = _row(ctx, info.id)
    plain = ctx.settings.recordings_dir / "legacy-recording.wav"
    shutil.copyfile(two_speaker[0], plain)
    with ctx.db.unit_of_work() as s:
        stored = s.get(TherapySession, info.id)
        assert stored is not None
        stored.recording_path, stored.recording_key = plain.name, None
    (ctx.settings.recordings_dir / str(row.recording_path)).unlink()

    assert service.seal_plain_recordings_sync() == 1
    assert service.seal_plain_recordings_sync() == 0
    assert_no_plaintext_audio(ctx.settings.data_dir, [two_speaker[0]])
    sealed = _row(ctx, info.id)
    assert sealed.recording_key and sealed.recording_path != plain.name
    with service.open_recording_sync(info.id) as copy:
        assert copy.path.read_bytes() == two_speaker[0].read_bytes()
