"""Reading a journal back: every record in order, a torn tail dropped, damage turned into gaps."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tbdesktop.services.recording.journal import (
    COUNTER,
    GAP_DAMAGED,
    MAX_RECORD,
    RECORD_HEAD,
    TAG,
    JournalHeader,
    Kind,
    key_name,
    record_aad,
    record_nonce,
)
from tbdesktop.services.recording_vault import unwrap_key


@dataclass
class ReadStats:
    """What a full read found: where the good records end and what was damaged."""

    valid_end: int = 0
    torn_bytes: int = 0
    damaged_records: int = 0
    records: int = 0


@dataclass(frozen=True)
class Record:
    kind: int
    payload: bytes

    def gap(self) -> tuple[int, int]:
        frames = COUNTER.unpack(self.payload[:8])[0]
        return int(frames), self.payload[8] if len(self.payload) > 8 else 0

    def json(self) -> dict[str, Any]:
        value = json.loads(self.payload.decode("utf-8"))
        return value if isinstance(value, dict) else {}


def open_key(header: JournalHeader, master: bytes) -> bytes:
    return unwrap_key(master, header.wrapped_key, key_name(header.id))


def read_records(path: Path, header: JournalHeader, data_key: bytes, stats: ReadStats) -> Iterator[Record]:
    """Every record in order. A torn tail is dropped; a damaged record whose length is intact is skipped (an
    audio one becomes a gap of its length, so the timing after it stays right)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(data_key)
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(header.size)
        offset = header.size
        counter = 0
        stats.valid_end = offset
        while True:
            head = f.read(RECORD_HEAD.size)
            if not head:
                break
            if len(head) < RECORD_HEAD.size:
                break
            length, kind = RECORD_HEAD.unpack(head)
            if not TAG <= length <= MAX_RECORD or kind not in (Kind.AUDIO, Kind.GAP, Kind.DETAILS, Kind.EVENT):
                break  # a torn or overwritten length: nothing after it can be framed
            sealed = f.read(length)
            if len(sealed) < length:
                break
            end = offset + RECORD_HEAD.size + length
            try:
                payload = aead.decrypt(record_nonce(header, counter), sealed, record_aad(header, kind, counter))
            except InvalidTag:
                if end >= size:
                    break  # the last record, written only in part before the power went
                stats.damaged_records += 1
                offset = end
                stats.valid_end = end
                counter += 1
                if kind == Kind.AUDIO:
                    frames = (length - TAG) // header.frame_bytes
                    yield Record(Kind.GAP, COUNTER.pack(frames) + bytes([GAP_DAMAGED]))
                continue
            offset = end
            stats.valid_end = end
            stats.records += 1
            counter += 1
            yield Record(kind, payload)
        stats.torn_bytes = size - stats.valid_end


@dataclass
class JournalSummary:
    """What a quick scan tells without decrypting the audio: its length, the latest details, the events."""

    frames: int = 0
    gap_frames: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    bytes: int = 0


def summarize(path: Path, header: JournalHeader, data_key: bytes) -> JournalSummary:
    """Audio length from the record lengths; details, gaps and events decrypted (they are small)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(data_key)
    summary = JournalSummary(bytes=path.stat().st_size)
    with path.open("rb") as f:
        f.seek(header.size)
        counter = 0
        while True:
            head = f.read(RECORD_HEAD.size)
            if len(head) < RECORD_HEAD.size:
                break
            length, kind = RECORD_HEAD.unpack(head)
            if not TAG <= length <= MAX_RECORD:
                break
            if kind == Kind.AUDIO:
                position = f.tell()
                if position + length > summary.bytes:
                    break
                f.seek(length, os.SEEK_CUR)
                summary.frames += (length - TAG) // header.frame_bytes
                counter += 1
                continue
            sealed = f.read(length)
            if len(sealed) < length:
                break
            try:
                record = Record(
                    kind, aead.decrypt(record_nonce(header, counter), sealed, record_aad(header, kind, counter))
                )
            except InvalidTag:
                counter += 1
                continue
            counter += 1
            if kind == Kind.GAP:
                frames, _reason = record.gap()
                summary.frames += frames
                summary.gap_frames += frames
            elif kind == Kind.DETAILS:
                summary.details = record.json()
            elif kind == Kind.EVENT:
                summary.events += 1
    return summary


def truncate_torn_tail(path: Path, valid_end: int) -> None:
    """Cuts a torn last record off, so the journal ends on a whole record."""
    if path.stat().st_size > valid_end:
        with path.open("r+b") as f:
            f.truncate(valid_end)
            f.flush()
            os.fsync(f.fileno())
