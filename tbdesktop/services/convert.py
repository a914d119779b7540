"""ORM rows → DTOs. Kept in one place so every caller shows the same thing."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from tbdesktop.services.dto import ClientInfo, SegmentInfo, SessionInfo, StatusInfo, UserInfo, WordInfo
from tbdesktop.store.models import Client, TherapySession, TranscriptSegment, User


def user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        display_name=user.display_name,
        email=user.email,
        role=user.role,
        created_at=user.created_at,
    )


def client_info(client: Client) -> ClientInfo:
    return ClientInfo(id=client.id, name=client.name, pronouns=client.pronouns, created_at=client.created_at)


SEVERITY_ORDER = ("low", "moderate", "high")


def risk_badge(flags: list[tuple[str, str]]) -> tuple[str | None, tuple[str, ...]]:
    """The highest severity among raised flags and their kinds, in order of first mention (denials left out)."""
    raised = [(kind, severity) for kind, severity in flags if severity in SEVERITY_ORDER]
    if not raised:
        return None, ()
    level = max((severity for _kind, severity in raised), key=SEVERITY_ORDER.index)
    return level, tuple(dict.fromkeys(kind for kind, _severity in raised))


def session_info(
    row: TherapySession,
    *,
    owner_name: str,
    client_name: str | None,
    flags: list[tuple[str, str]] | None = None,
    needs_regeneration: bool = False,
) -> SessionInfo:
    risk_level, risk_kinds = risk_badge(flags or [])
    return SessionInfo(
        id=row.id,
        owner_id=row.owner_id,
        owner_name=owner_name,
        client_id=row.client_id,
        client_name=None if row.is_anonymous else client_name,
        session_date=row.session_date,
        duration_mins=row.duration_mins,
        status=str(row.processing_status.value),
        progress=int(row.processing_progress or 0),
        stage_detail=row.processing_stage_detail,
        error=row.processing_error,
        eta_seconds=row.eta_seconds,
        is_anonymous=bool(row.is_anonymous),
        ai_summary=mask_name(row.ai_summary or "", client_name) or None if row.is_anonymous else row.ai_summary,
        recording_available=bool(row.recording_path) and row.recording_deleted_at is None,
        recording_deleted_at=row.recording_deleted_at,
        transcript_deleted_at=row.transcript_deleted_at,
        consent_method=row.consent_method,
        consent_obtained_at=row.consent_obtained_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        session_type=row.session_type or "individual",
        speakers=_shown_speakers(row.speakers or {}, client_name if row.is_anonymous else None),
        risk_level=risk_level,
        risk_kinds=risk_kinds,
        needs_regeneration=needs_regeneration,
        recording_host=row.recording_host,
        recording_here=bool(row.recording_path),
    )


def _shown_speakers(speakers: dict[str, Any], hidden_name: str | None) -> dict[str, Any]:
    """The voices (keys starting with "_" describe the capture, not a speaker); in an anonymous session a
    speaker named after the client shows "[client]" instead."""
    out: dict[str, Any] = {}
    for key, value in speakers.items():
        if key.startswith("_"):
            continue
        if hidden_name and isinstance(value, dict) and value.get("name"):
            value = {**value, "name": mask_name(str(value["name"]), hidden_name)}
        out[key] = value
    return out


def status_info(row: TherapySession) -> StatusInfo:
    return StatusInfo(
        session_id=row.id,
        status=str(row.processing_status.value),
        progress=int(row.processing_progress or 0),
        stage_detail=row.processing_stage_detail,
        eta_seconds=row.eta_seconds,
        error=row.processing_error,
    )


def segment_info(seg: TranscriptSegment) -> SegmentInfo:
    return SegmentInfo(
        idx=seg.idx,
        start_s=seg.start_s,
        end_s=seg.end_s,
        speaker=seg.speaker,
        role=seg.role,
        text=seg.text,
        words=[
            WordInfo(
                start=float(w.get("start", 0.0)),
                end=float(w.get("end", 0.0)),
                word=str(w.get("word", "")),
                probability=float(w.get("probability", 0.0)),
            )
            for w in (seg.words or [])
        ],
        manual=bool(seg.manual),
        split_from=seg.split_from,
    )


MASK = "[client]"


def mask_name(text: str, name: str | None) -> str:
    """``text`` with the client's name — in full, and each part of it of 3+ letters — replaced by "[client]"."""
    if not name or not text:
        return text
    parts = [name.strip(), *(p for p in re.split(r"\s+", name.strip()) if len(p) >= 3)]
    pattern = "|".join(re.escape(p) for p in sorted(set(parts), key=len, reverse=True) if p)
    if not pattern:
        return text
    return re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", MASK, text, flags=re.IGNORECASE)


def masked_segment(info: SegmentInfo, name: str | None) -> SegmentInfo:
    if not name:
        return info
    return dataclasses.replace(
        info,
        text=mask_name(info.text, name),
        words=[dataclasses.replace(w, word=mask_name(w.word, name)) for w in info.words],
    )
