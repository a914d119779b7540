"""Who is the therapist? Roles from what each speaker says, documented and deterministic.

Each speaker gets a therapist score from three cues, each scaled to 0..1 across the speakers:

* **questions asked** (weight 3): the share of a speaker's sentences that are questions — ending in "?" or
  opening with a question word ("how", "what", "do you", "can you", …). Therapists ask; clients answer.
* **who opens** (weight 1): the first speaker of the session usually is the therapist greeting the client.
* **talk share** (weight 1): a therapist usually talks less than the client, so less talk scores higher.

The highest score is the therapist. Of the others, the one who talks most is the client; in a couples
session (three speakers, or a hint of three) the next is the partner; anyone else is a participant.
Speakers who say almost nothing (under 3 words) are "other". The user can change every role afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tbdesktop.engine.types import Segment

THERAPIST = "therapist"
CLIENT = "client"
PARTNER = "partner"
PARTICIPANT = "participant"
OTHER = "other"
ROLES = (THERAPIST, CLIENT, PARTNER, PARTICIPANT, OTHER)

WEIGHT_QUESTIONS = 3.0
WEIGHT_OPENS = 1.0
WEIGHT_TALK = 1.0
MIN_WORDS = 3

_QUESTION_START = re.compile(
    r"^(how|what|when|where|why|who|which|do|does|did|is|are|was|were|can|could|would|will|have|has|"
    r"tell me|shall|should|may)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"[^.?!…]+[.?!…]*")


@dataclass(frozen=True)
class SpeakerStats:
    speaker: str
    talk_time_s: float
    words: int
    sentences: int
    questions: int
    first_start: float

    @property
    def question_rate(self) -> float:
        return self.questions / self.sentences if self.sentences else 0.0


def speaker_stats(segments: Sequence[Segment]) -> dict[str, SpeakerStats]:
    acc: dict[str, dict[str, float]] = {}
    for seg in segments:
        entry = acc.setdefault(
            seg.speaker, {"talk": 0.0, "words": 0, "sentences": 0, "questions": 0, "first": seg.start}
        )
        entry["talk"] += max(seg.end - seg.start, 0.0)
        entry["words"] += len(seg.words) if seg.words else len(seg.text.split())
        entry["first"] = min(entry["first"], seg.start)
        for sentence in _SENTENCES.findall(seg.text):
            sentence = sentence.strip()
            if not sentence:
                continue
            entry["sentences"] += 1
            if sentence.endswith("?") or _QUESTION_START.match(sentence):
                entry["questions"] += 1
    return {
        speaker: SpeakerStats(
            speaker=speaker,
            talk_time_s=float(v["talk"]),
            words=int(v["words"]),
            sentences=int(v["sentences"]),
            questions=int(v["questions"]),
            first_start=float(v["first"]),
        )
        for speaker, v in acc.items()
    }


def _scaled(values: dict[str, float]) -> dict[str, float]:
    low, high = min(values.values()), max(values.values())
    if high - low < 1e-9:
        return {k: 0.0 for k in values}
    return {k: (v - low) / (high - low) for k, v in values.items()}


def therapist_scores(stats: dict[str, SpeakerStats]) -> dict[str, float]:
    total_talk = sum(s.talk_time_s for s in stats.values()) or 1.0
    questions = _scaled({k: s.question_rate for k, s in stats.items()})
    quiet = _scaled({k: 1.0 - s.talk_time_s / total_talk for k, s in stats.items()})
    opener = min(stats.values(), key=lambda s: s.first_start).speaker
    return {
        k: WEIGHT_QUESTIONS * questions[k] + WEIGHT_OPENS * (1.0 if k == opener else 0.0) + WEIGHT_TALK * quiet[k]
        for k in stats
    }


def assign_roles(segments: Sequence[Segment], speakers_hint: int | None = None) -> dict[str, str]:
    """Map each speaker label to a role."""
    stats = speaker_stats(segments)
    if not stats:
        return {}
    talkers = {k: s for k, s in stats.items() if s.words >= MIN_WORDS}
    roles = {k: OTHER for k in stats}
    if not talkers:
        return roles
    if len(talkers) == 1:
        # A monologue: a therapist dictating notes asks nothing; a client talking alone is still the client.
        (only,) = talkers
        roles[only] = THERAPIST if talkers[only].question_rate >= 0.3 else CLIENT
        return roles
    scores = therapist_scores(talkers)
    therapist = max(scores, key=lambda k: (scores[k], -talkers[k].first_start))
    roles[therapist] = THERAPIST
    others = sorted(
        (k for k in talkers if k != therapist), key=lambda k: (-talkers[k].talk_time_s, talkers[k].first_start)
    )
    couples = speakers_hint == 3 or len(talkers) == 3
    for position, speaker in enumerate(others):
        if position == 0:
            roles[speaker] = CLIENT
        elif position == 1 and couples:
            roles[speaker] = PARTNER
        else:
            roles[speaker] = PARTICIPANT
    return roles


def apply_roles(segments: Sequence[Segment], roles: dict[str, str]) -> list[Segment]:
    return [replace(seg, role=roles.get(seg.speaker)) for seg in segments]
