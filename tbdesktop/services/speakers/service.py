"""Correcting who said what (``SessionService`` holds a ``SpeakerEditing`` and offers its methods): split a line at
a word, merge two speakers, add a speaker, and queue a fresh speaker separation with a chosen number of voices.
Owner-only (the repositories filter by user), one transaction each, audited without content. Notes and risk flags
are never rewritten here: a change only marks the session's transcript as edited, and a note written before that is
offered for regeneration."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from tbdesktop.engine.roles import ROLES
from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.convert import mask_name
from tbdesktop.services.dto import JsonMixin, SessionInfo
from tbdesktop.services.ids import parse_session_id
from tbdesktop.services.offloop import off_loop
from tbdesktop.services.session_lifecycle import recording_elsewhere
from tbdesktop.services.session_views import describe
from tbdesktop.services.speakers.edits import line_words, next_label, split_parts, stored_word_index
from tbdesktop.store.models import ACTIVE_STATUSES, JobKind, TherapySession, TranscriptSegment, utcnow
from tbdesktop.store.processing_state import queue
from tbdesktop.store.repositories import AuditRepository, SessionRepository, SystemJobRepository

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tbdesktop.services.context import AppContext
    from tbdesktop.services.dto import UserInfo

log = logging.getLogger(__name__)

NEW_SPEAKER = "new"
MAX_VOICES = 6
MAX_NAME = 100
WAITING_TO_SEPARATE = "Waiting to separate speakers"


@dataclass(frozen=True)
class SpeakersChange(JsonMixin):
    """What a speaker correction did."""

    session: SessionInfo
    action: str  # split_line | merge | add | rediarize
    speaker: str | None = None  # the speaker a split line or merge went to, or the one added
    lines: list[int] = field(default_factory=list)  # the lines it changed or created (idx)
    needs_regeneration: bool = False  # the latest note was written before this change: offer to regenerate it
    job_id: uuid.UUID | None = None  # the queued speaker separation


def _clean_role(role: str | None) -> str | None:
    if role is None or role == "":
        return None
    if role not in ROLES:
        raise ValidationError("Role must be therapist, client, partner, participant or other.")
    return role


def _clean_name(name: str | None) -> str | None:
    clean = " ".join((name or "").split()) or None
    if clean is not None and len(clean) > MAX_NAME:
        raise ValidationError(f"A speaker name can be at most {MAX_NAME} characters.")
    return clean


class SpeakerEditing:
    """Speaker corrections on ``user``'s sessions."""

    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    # -- shared -------------------------------------------------------------------------------------------

    def _editable(self, s: Session, session_id: uuid.UUID) -> TherapySession:
        row = SessionRepository(s, self.user.id).get(session_id, for_update=True)
        if row.transcript_deleted_at is not None:
            raise ValidationError("The transcript of this session was deleted.")
        if row.processing_status in ACTIVE_STATUSES:
            raise ValidationError("This session is being processed; wait until it has finished.")
        return row

    def _voices(self, s: Session, row: TherapySession) -> dict[str, dict[str, Any]]:
        """The session's speakers (capture keys left out), with anyone who has lines but no entry yet."""
        speakers = {k: dict(v) for k, v in (row.speakers or {}).items() if not k.startswith("_")}
        for label, role in SessionRepository(s, self.user.id).speaker_roles(row.id):
            speakers.setdefault(label, {"role": role, "name": None})
        return speakers

    @staticmethod
    def _store_voices(row: TherapySession, voices: dict[str, dict[str, Any]]) -> None:
        capture = {k: v for k, v in (row.speakers or {}).items() if k.startswith("_")}
        row.speakers = {**voices, **capture}

    def _change(
        self,
        s: Session,
        row: TherapySession,
        action: str,
        *,
        speaker: str | None = None,
        lines: list[int] | None = None,
        edited: bool = True,
        job_id: uuid.UUID | None = None,
    ) -> SpeakersChange:
        now = utcnow()
        if edited:
            row.transcript_edited_at = now
        row.updated_at = now
        AuditRepository(s, self.user.id, self.ctx.workstation).record(f"speakers.{action}", "therapy_session", row.id)
        s.flush()
        info = describe(s, self.user, row)
        return SpeakersChange(info, action, speaker, sorted(lines or []), info.needs_regeneration, job_id)

    # -- the role of a speaker -----------------------------------------------------------------------------------------

    def set_speaker_role_sync(self, session_id: uuid.UUID | str, speaker: str, role: str) -> SessionInfo:
        """Correct who is who: the role of one diarized speaker, on the session and every transcript row."""
        sid = parse_session_id(session_id)
        if role not in ROLES:
            raise ValidationError("Role must be therapist, client, partner, participant or other.")
        with self.ctx.db.unit_of_work() as s:
            repo = SessionRepository(s, self.user.id)
            row = repo.get(sid, for_update=True)
            speakers = {k: dict(v) for k, v in (row.speakers or {}).items()}
            known = set(speakers) | {seg.speaker for seg in repo.segments(sid)}
            if speaker not in known:
                raise NotFoundError(f"This session has no speaker '{speaker}'.")
            entry = speakers.setdefault(speaker, {"name": None})
            entry["role"] = role
            entry["role_source"] = "user"
            row.speakers = speakers
            row.transcript_edited_at = utcnow()  # the notes read the roles
            s.execute(
                update(TranscriptSegment)
                .where(TranscriptSegment.session_id == sid, TranscriptSegment.speaker == speaker)
                .values(role=role)
            )
            row.updated_at = utcnow()
            AuditRepository(s, self.user.id, self.ctx.workstation).record(
                "session.speaker_role", "therapy_session", sid
            )
            return describe(s, self.user, row)

    set_speaker_role = off_loop(set_speaker_role_sync)

    # -- split a line -------------------------------------------------------------------------------------

    def split_line_sync(
        self,
        session_id: uuid.UUID | str,
        idx: int,
        at_word: int,
        speaker: str = NEW_SPEAKER,
        *,
        role: str | None = None,
        name: str | None = None,
    ) -> SpeakersChange:
        """Line ``idx`` from word ``at_word`` (0-based) on becomes a new line of ``speaker`` (a label, or "new" for
        a new speaker with ``role`` and ``name``). The first part keeps the line's number; the new line takes the
        next free number and remembers where it came from, so every citation still points at the same words."""
        sid = parse_session_id(session_id)
        role, name = _clean_role(role), _clean_name(name)
        with self.ctx.db.unit_of_work() as s:
            row = self._editable(s, sid)
            segment = s.get(TranscriptSegment, (row.id, int(idx)))
            if segment is None:
                raise NotFoundError(f"This transcript has no line {idx}.")
            # The word is counted as the line is shown: in an anonymous session the client's name is one "[client]".
            hidden = SessionRepository(s, self.user.id).hidden_client_name(row.id)
            count = len(line_words(mask_name(segment.text, hidden)))
            if count < 2:
                raise ValidationError(f"Line {idx} has a single word; there is nothing to split.")
            if not 1 <= at_word < count:
                raise ValidationError(f"The new line must start at word 2 to {count} of line {idx} (counting from 1).")
            try:
                at_word = stored_word_index(segment.text, at_word, hidden)
            except ValueError as exc:
                raise ValidationError("A line cannot be split inside the client's name.") from exc
            voices = self._voices(s, row)
            if speaker == NEW_SPEAKER:
                speaker = next_label(voices)
                voices[speaker] = {"role": role, "name": name, "added": True}
                if role is not None:
                    voices[speaker]["role_source"] = "user"
            elif speaker not in voices:
                raise NotFoundError(f"This session has no speaker '{speaker}'.")
            elif speaker == segment.speaker:
                raise ValidationError("The new line would keep the same speaker; choose another or a new speaker.")
            head, tail = split_parts(segment.start_s, segment.end_s, segment.text, segment.words or [], at_word)
            highest = SessionRepository(s, self.user.id).last_line_number(row.id)
            new_idx = int(highest or 0) + 1
            segment.start_s, segment.end_s = head.start_s, head.end_s
            segment.text, segment.words = head.text, head.words
            segment.manual = True
            s.add(
                TranscriptSegment(
                    session_id=row.id,
                    idx=new_idx,
                    start_s=tail.start_s,
                    end_s=tail.end_s,
                    speaker=speaker,
                    role=voices[speaker].get("role"),
                    text=tail.text,
                    words=tail.words,
                    manual=True,
                    split_from=segment.idx,
                )
            )
            self._store_voices(row, voices)
            change = self._change(s, row, "split_line", speaker=speaker, lines=[segment.idx, new_idx])
        log.info("line split", extra={"session_id": str(sid)})
        return change

    split_line = off_loop(split_line_sync)

    # -- merge two speakers -------------------------------------------------------------------------------

    def merge_speakers_sync(self, session_id: uuid.UUID | str, source: str, into: str) -> SpeakersChange:
        """Every line of ``source`` becomes ``into``'s and ``source`` is gone. Lines are not joined: each keeps
        its number, so notes and risk flags still cite the same words."""
        sid = parse_session_id(session_id)
        with self.ctx.db.unit_of_work() as s:
            row = self._editable(s, sid)
            voices = self._voices(s, row)
            for label in (source, into):
                if label not in voices:
                    raise NotFoundError(f"This session has no speaker '{label}'.")
            if source == into:
                raise ValidationError("Choose two different speakers to merge.")
            moved = SessionRepository(s, self.user.id).line_numbers(row.id, source)
            gone, kept = voices.pop(source), voices[into]
            s.execute(
                update(TranscriptSegment)
                .where(TranscriptSegment.session_id == row.id, TranscriptSegment.speaker == source)
                .values(speaker=into, role=kept.get("role"))
            )
            for key in ("talk_time_s", "words"):
                if isinstance(gone.get(key), (int, float)) or isinstance(kept.get(key), (int, float)):
                    kept[key] = (kept.get(key) or 0) + (gone.get(key) or 0)
            if not kept.get("name") and gone.get("name"):
                kept["name"] = gone["name"]
            self._store_voices(row, voices)
            change = self._change(s, row, "merge", speaker=into, lines=moved, edited=bool(moved))
        log.info("speakers merged", extra={"session_id": str(sid), "lines": len(moved)})
        return change

    merge_speakers = off_loop(merge_speakers_sync)

    # -- add a speaker ------------------------------------------------------------------------------------

    def add_speaker_sync(self, session_id: uuid.UUID | str, role: str, name: str | None = None) -> SpeakersChange:
        """A new speaker (the next free SPEAKER_NN) to move or split lines to; the transcript is unchanged."""
        sid = parse_session_id(session_id)
        clean_role, clean_name = _clean_role(role), _clean_name(name)
        if clean_role is None:
            raise ValidationError("Choose the new speaker's role: therapist, client, partner, participant or other.")
        with self.ctx.db.unit_of_work() as s:
            row = self._editable(s, sid)
            voices = self._voices(s, row)
            label = next_label(voices)
            voices[label] = {"role": clean_role, "name": clean_name, "role_source": "user", "added": True}
            self._store_voices(row, voices)
            return self._change(s, row, "add", speaker=label, edited=False)

    add_speaker = off_loop(add_speaker_sync)

    # -- separate the voices again ------------------------------------------------------------------------

    def rediarize_sync(self, session_id: uuid.UUID | str, voices: int | None = None) -> SpeakersChange:
        """Queue a fresh speaker separation of the stored recording with ``voices`` speakers (None: automatic).
        The words stay; lines the therapist corrected keep their speaker and words."""
        sid = parse_session_id(session_id)
        if voices is not None and not 1 <= int(voices) <= MAX_VOICES:
            raise ValidationError(f"The number of voices must be from 1 to {MAX_VOICES}, or automatic.")
        with self.ctx.db.unit_of_work() as s:
            row = self._editable(s, sid)
            if row.recording_deleted_at is not None:
                when = f"{row.recording_deleted_at:%d %b %Y}"
                raise ValidationError(
                    f"The recording was deleted on {when}, so the voices cannot be separated again; "
                    "split lines and merge speakers by hand instead."
                )
            elsewhere = recording_elsewhere(row, self.ctx.workstation)
            if elsewhere:
                raise ValidationError(elsewhere)
            if not row.recording_path:
                raise ValidationError("This session has no recording to separate the voices of.")
            if not SessionRepository(s, self.user.id).has_transcript(row.id):
                raise ValidationError("This session has no transcript yet; its speakers are separated with it.")
            job = SystemJobRepository(s).enqueue(
                row.id, JobKind.REDIARIZE.value, {"voices": int(voices) if voices is not None else None}
            )
            queue(row, WAITING_TO_SEPARATE)
            change = self._change(s, row, "rediarize", edited=False, job_id=job.id)
        log.info("speaker separation queued", extra={"session_id": str(sid), "voices": voices})
        return change

    rediarize = off_loop(rediarize_sync)
