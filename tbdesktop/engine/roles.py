"""Who is the therapist? Roles from what each speaker says, documented and deterministic.

Each speaker gets a therapist score from three cues, each scaled to 0..1 across the speakers:

* **questions asked** (weight 3): the share of a speaker's sentences that are questions — ending in "?" or
  opening with a question word ("how", "what", "do you", "can you", …). Therapists ask; clients answer.
* **who the words are about** (weight 2): therapists say "you" and "your" (reflecting, asking); clients say
  "I", "me" and "my" (telling their story). The cue is ten times the difference of the two rates per word.
* **who opens** (weight 1): the first speaker of the session usually is the therapist greeting the client.
* **talk share** (weight 1): a therapist usually talks less than the client, so less talk scores higher.

The cues are used as measured, not rescaled between speakers, so a small difference stays a small one.

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
WEIGHT_ADDRESS = 2.0
WEIGHT_OPENS = 1.0
WEIGHT_TALK = 1.0
MIN_WORDS = 3

_QUESTION_START = re.compile(
    r"^(how|what|when|where|why|who|which|do|does|did|is|are|was|were|can|could|would|will|have|has|"
    r"tell me|shall|should|may)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"[^.?!…]+[.?!…]*")
_WORDS = re.compile(r"[a-z']+")
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "you're", "you've", "you'd", "you'll"})
_FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"})


@dataclass(frozen=True)
class SpeakerStats:
    speaker: str
    talk_time_s: float
    words: int
    sentences: int
    questions: int
    first_start: float
    second_person: int = 0
    first_person: int = 0

    @property
    def question_rate(self) -> float:
        return self.questions / self.sentences if self.sentences else 0.0

    @property
    def address(self) -> float:
        """How much more this speaker says "you" than "I", per word."""
        return (self.second_person - self.first_person) / self.words if self.words else 0.0


def speaker_stats(segments: Sequence[Segment]) -> dict[str, SpeakerStats]:
    acc: dict[str, dict[str, float]] = {}
    for seg in segments:
        entry = acc.setdefault(
            seg.speaker,
            {"talk": 0.0, "words": 0, "sentences": 0, "questions": 0, "first": seg.start, "you": 0, "i": 0},
        )
        for word in _WORDS.findall(seg.text.lower().replace("’", "'")):
            entry["you"] += word in _SECOND_PERSON
            entry["i"] += word in _FIRST_PERSON
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
            second_person=int(v["you"]),
            first_person=int(v["i"]),
        )
        for speaker, v in acc.items()
    }


def therapist_scores(stats: dict[str, SpeakerStats]) -> dict[str, float]:
    total_talk = sum(s.talk_time_s for s in stats.values()) or 1.0
    opener = min(stats.values(), key=lambda s: s.first_start).speaker
    return {
        k: WEIGHT_QUESTIONS * s.question_rate
        + WEIGHT_ADDRESS * max(-1.0, min(1.0, 10.0 * s.address))
        + WEIGHT_OPENS * (1.0 if k == opener else 0.0)
        + WEIGHT_TALK * (1.0 - s.talk_time_s / total_talk)
        for k, s in stats.items()
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
