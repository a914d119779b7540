"""Batch import: dates from a recording's tags, its file name or its modification day; a folder's media files;
duplicates found before anything is copied (of a session of mine, or twice in one batch); imports one after another
where one failing does not stop the others; a returning client's last consent."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from import_audio import write_m4a, write_not_audio, write_tone
from sqlalchemy import func, select

from tbdesktop.errors import ValidationError
from tbdesktop.services import recording_vault
from tbdesktop.services.batch_import import (
    FAILED,
    FROM_METADATA,
    FROM_MODIFIED,
    FROM_NAME,
    IMPORTED,
    SKIPPED,
    BatchImportService,
    BatchItem,
    date_in_name,
    media_files,
    recording_date,
)
from tbdesktop.services.context import AppContext
from tbdesktop.services.digest import sha256_of
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import ProcessingJob, TherapySession


def _set_mtime(path: Path, day: date) -> None:
    moment = datetime(day.year, day.month, day.day, 12, 0).timestamp()
    os.utime(path, (moment, moment))


def test_dates_in_file_names() -> None:
    assert date_in_name("session 2026-12-01") == date(2026, 12, 1)
    assert date_in_name("REC_20261201_1430") == date(2026, 12, 1)
    assert date_in_name("2026-12-01_14-30 Jordan") == date(2026, 12, 1)
    assert date_in_name("client_2025_03_09") == date(2025, 3, 9)
    assert date_in_name("2026-13-45 then 2026-02-03") == date(2026, 2, 3)  # not a day, then a real one
    assert date_in_name("take 12345678") is None
    assert date_in_name("2026-1201") is None  # mixed separators are not a date
    assert date_in_name("notes") is None


def test_recording_date_prefers_metadata_then_name_then_modified(tmp_path: Path) -> None:
    tagged = write_m4a(tmp_path / "2025-01-01 phone.m4a", 440, "2026-11-03T10:15:00.000000Z")
    assert recording_date(tagged, today=date(2026, 12, 5)) == (date(2026, 11, 3), FROM_METADATA)

    named = write_tone(tmp_path / "session_20260704.wav", 500)
    _set_mtime(named, date(2026, 8, 1))
    assert recording_date(named, today=date(2026, 12, 5)) == (date(2026, 7, 4), FROM_NAME)

    plain = write_tone(tmp_path / "session.wav", 550)
    _set_mtime(plain, date(2026, 9, 14))
    assert recording_date(plain, today=date(2026, 12, 5)) == (date(2026, 9, 14), FROM_MODIFIED)

    future = write_tone(tmp_path / "2027-01-01.wav", 600)  # a day to come is not believed
    _set_mtime(future, date(2026, 10, 2))
    assert recording_date(future, today=date(2026, 12, 5)) == (date(2026, 10, 2), FROM_MODIFIED)


def test_media_files_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "week"
    write_tone(folder / "b.wav", 300)
    write_tone(folder / "A.MP3", 310)  # the extension decides, whatever its case (content is not looked at here)
    write_tone(folder / "clip.mov", 320)
    (folder / "notes.txt").write_text("not a recording")
    write_tone(folder / ".hidden.wav", 330)
    write_tone(folder / "sub" / "c.flac", 340)
    write_tone(folder / ".cache" / "d.wav", 350)

    assert [p.name for p in media_files(folder)] == ["A.MP3", "b.wav", "clip.mov"]
    assert [p.relative_to(folder).as_posix() for p in media_files(folder, recursive=True)] == [
        "A.MP3",
        "b.wav",
        "clip.mov",
        "sub/c.flac",
    ]
    with pytest.raises(ValidationError, match="does not exist"):
        media_files(tmp_path / "missing")


def test_inspection_flags_duplicates_and_problems(ctx: AppContext, therapist: Any, tmp_path: Path) -> None:
    service = SessionService(ctx, therapist)
    old = write_tone(tmp_path / "old.wav", 700)
    first = service.import_recording_sync(ImportRequest(source=old, client_name="Noa Levi", consent_method="verbal"))
    renamed = tmp_path / "renamed copy.wav"
    shutil.copy(old, renamed)
    new = write_tone(tmp_path / "new.wav", 710)
    twin = tmp_path / "new again.wav"
    shutil.copy(new, twin)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")

    done: list[int] = []
    found = BatchImportService(service).inspect_sync(
        [renamed, new, twin, empty, tmp_path / "gone.wav"], on_done=done.append
    )
    assert done == [0, 1, 2, 3, 4]
    assert found[0].duplicate_of == first.id and found[0].is_duplicate
    assert found[0].duplicate_message is not None and "imported before" in found[0].duplicate_message
    assert "Noa Levi" in found[0].duplicate_message
    assert not found[1].is_duplicate and found[1].problem is None and found[1].sha256 is not None
    assert found[2].same_as == 1 and found[2].duplicate_of is None and found[2].is_duplicate
    assert found[3].problem == "The file is empty."
    assert found[4].problem == "The file does not exist."
    assert found[1].size == new.stat().st_size


def _count(ctx: AppContext, model: Any) -> int:
    with ctx.db.unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_batch_imports_every_file_whatever_happens_to_the_others(
    ctx: AppContext, therapist: Any, tmp_path: Path
) -> None:
    service = SessionService(ctx, therapist)
    bad = write_not_audio(tmp_path / "broken.wav")
    one = write_tone(tmp_path / "one.wav", 800)
    again = tmp_path / "one again.wav"
    shutil.copy(one, again)
    two = write_tone(tmp_path / "two.wav", 810)
    three = write_tone(tmp_path / "three.wav", 820)
    items = [
        BatchItem(ImportRequest(source=bad, consent_method="verbal")),
        BatchItem(ImportRequest(source=one, client_name="Alex Kim", consent_method="verbal")),
        BatchItem(ImportRequest(source=again, client_name="Alex Kim", consent_method="verbal")),
        BatchItem(ImportRequest(source=two, client_name="Alex Kim", session_date=date(2026, 11, 2))),
        BatchItem(ImportRequest(source=three), skip_reason="Already imported — skipped as a duplicate."),
    ]
    started: list[int] = []
    copies: dict[int, tuple[int, int]] = {}
    seen: list[tuple[int, str]] = []
    results = BatchImportService(service).import_all_sync(
        items,
        on_start=started.append,
        on_copy=lambda i, done, total: copies.__setitem__(i, (done, total)),
        on_result=lambda i, r: seen.append((i, r.status)),
    )
    assert [r.status for r in results] == [FAILED, IMPORTED, SKIPPED, IMPORTED, SKIPPED]
    assert seen == [(i, r.status) for i, r in enumerate(results)]
    assert started == [0, 1, 2, 3]  # a skipped item is never started
    assert results[0].error is not None and "broken.wav" in results[0].error
    assert results[1].session is not None and results[1].session.client_name == "Alex Kim"
    assert copies[1] == (one.stat().st_size, one.stat().st_size)
    # The same content as the file imported just before: refused by the import's own duplicate check.
    assert results[2].existing_id == results[1].session.id and "imported before" in (results[2].error or "")
    assert results[3].session is not None and results[3].session.session_date == date(2026, 11, 2)
    assert results[3].session.stage_detail == "Waiting for the client's consent"  # consent is required by default
    assert results[4].error == "Already imported — skipped as a duplicate."
    assert _count(ctx, TherapySession) == 2
    assert _count(ctx, ProcessingJob) == 1  # only the consented one is queued
    data = results[1].to_json()
    assert data["status"] == IMPORTED and data["id"] == str(results[1].session.id)
    assert data["session"]["client_name"] == "Alex Kim"

    # Asked again with allow_duplicate, the same recording is imported as a new session.
    forced = BatchImportService(service).import_all_sync(
        [BatchItem(ImportRequest(source=again, consent_method="verbal", allow_duplicate=True))]
    )
    assert forced[0].status == IMPORTED and forced[0].session is not None
    assert forced[0].session.id != results[1].session.id


def test_an_inspected_file_is_read_for_its_hash_once(
    ctx: AppContext, therapist: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SessionService(ctx, therapist)
    same = write_tone(tmp_path / "same.wav", 730)
    changed = write_tone(tmp_path / "changed.wav", 740)
    twin = tmp_path / "twin.wav"
    shutil.copy(same, twin)
    batch = BatchImportService(service)
    found = batch.inspect_sync([same, changed, twin])
    assert found[2].same_as == 0
    before = changed.stat().st_mtime_ns
    write_tone(changed, 750)  # edited after it was looked at
    os.utime(changed, ns=(before + 2_000_000_000, before + 2_000_000_000))

    known: list[str | None] = []
    encrypt = recording_vault.encrypt_stream

    def spy(*args: Any, known_sha256: str | None = None, **kwargs: Any) -> str:
        known.append(known_sha256)
        return encrypt(*args, known_sha256=known_sha256, **kwargs)

    monkeypatch.setattr(recording_vault, "encrypt_stream", spy)
    results = batch.import_all_sync(
        [BatchItem(ImportRequest(source=p, consent_method="verbal")) for p in (same, changed, twin)]
    )
    assert [r.status for r in results] == [IMPORTED, IMPORTED, SKIPPED]
    # The duplicate check's hash is the import's: the file is not hashed again as it is copied.
    assert known[0] == found[0].sha256
    assert known[1] is None  # changed since: hashed again while it is copied
    # Duplicates are found as before: the twin is refused by the import's own check.
    assert known[2] == found[2].sha256
    first = results[0].session
    assert first is not None and results[2].existing_id == first.id
    with ctx.db.unit_of_work() as s:
        stored = {row.id: row.recording_sha256 for row in s.scalars(select(TherapySession))}
    assert stored[first.id] == sha256_of(same)
    second = results[1].session
    assert second is not None and stored[second.id] == sha256_of(changed) != found[1].sha256


def test_a_stopped_batch_skips_the_files_not_started(ctx: AppContext, therapist: Any, tmp_path: Path) -> None:
    service = SessionService(ctx, therapist)
    paths = [write_tone(tmp_path / f"f{i}.wav", 900 + 10 * i) for i in range(3)]
    stop = [False]

    def result(index: int, _r: Any) -> None:
        stop[0] = stop[0] or index == 0  # the user stops while the first file is imported

    results = BatchImportService(service).import_all_sync(
        [BatchItem(ImportRequest(source=p, consent_method="verbal")) for p in paths],
        on_result=result,
        should_stop=lambda: stop[0],
    )
    assert [r.status for r in results] == [IMPORTED, SKIPPED, SKIPPED]
    assert "stopped" in (results[1].error or "")
    assert _count(ctx, TherapySession) == 1


def test_last_consent_of_each_client(ctx: AppContext, therapist: Any, tmp_path: Path) -> None:
    service = SessionService(ctx, therapist)

    def add(freq: int, client: str, day: date, consent: str | None) -> None:
        service.import_recording_sync(
            ImportRequest(
                source=write_tone(tmp_path / f"{freq}.wav", freq),
                client_name=client,
                session_date=day,
                consent_method=consent,
            )
        )

    add(1000, "Jordan Lee", date(2026, 10, 1), "verbal")
    add(1010, "Jordan Lee", date(2026, 11, 1), "written")  # the latest with consent
    add(1020, "Jordan Lee", date(2026, 11, 20), None)  # newer, but no consent recorded
    add(1030, "Robin Park", date(2026, 11, 2), None)
    clients = {c.name: c.id for c in service.list_clients_sync()}
    assert service.last_consent_methods_sync() == {clients["Jordan Lee"]: "written"}

    other = SessionService(ctx, _second_therapist(ctx))
    assert other.last_consent_methods_sync() == {}  # another therapist's clients are not mine


def _second_therapist(ctx: AppContext) -> Any:
    from tbdesktop.services.profiles import ProfileService

    return ProfileService(ctx).create_profile_sync("Kim Osei", "kim@example.org")


@pytest.fixture
def db_ctx(db_url: str, make_settings: Any) -> Iterator[AppContext]:
    """An app context on SQLite and on the real PostgreSQL."""
    context = AppContext.open(make_settings(database_url=db_url if db_url.startswith("postgresql") else ""))
    try:
        yield context
    finally:
        context.close()


def test_duplicates_and_last_consent_on_both_databases(db_ctx: AppContext, tmp_path: Path) -> None:
    from tbdesktop.services.profiles import ProfileService

    me = SessionService(db_ctx, ProfileService(db_ctx).create_profile_sync("Dana Reyes", "dana@example.org"))
    other = SessionService(db_ctx, ProfileService(db_ctx).create_profile_sync("Kim Osei", "kim@example.org"))
    wav = write_tone(tmp_path / "a.wav", 1200)
    mine = me.import_recording_sync(ImportRequest(source=wav, client_name="Jordan Lee", consent_method="written"))
    copy = tmp_path / "copy.wav"
    shutil.copy(wav, copy)

    found = BatchImportService(me).inspect_sync([copy])
    assert found[0].duplicate_of == mine.id
    # The same recording in another therapist's sessions is not a duplicate of theirs for me, nor mine for them.
    theirs = BatchImportService(other).inspect_sync([copy])
    assert theirs[0].duplicate_of is None and not theirs[0].is_duplicate
    results = BatchImportService(other).import_all_sync([BatchItem(ImportRequest(source=copy))])
    assert results[0].status == IMPORTED
    assert me.last_consent_methods_sync() == {mine.client_id: "written"}
    assert other.last_consent_methods_sync() == {}
