"""The realistic eval set's sessions and their text: the conditions, one spec per session (voices, roles, style,
channel, seed), and the dialogue lines taken from AnnoMI or, without it, a scripted dialogue."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import annomi_audio  # noqa: E402
import neural_voices as nv  # noqa: E402
from eval_fixtures import Session as Session  # noqa: E402  (a built session: its WAV and truth)

SAMPLE_RATE = nv.SAMPLE_RATE
MIN_PAUSE_S = 0.15
LEAD_S, TAIL_S = 0.6, 1.0
BACKCHANNELS = ("Mm-hmm.", "Yeah.", "Right.", "Okay.", "I see.", "Sure.", "Uh-huh.")
BACKCHANNEL_S = (0.3, 0.8)
OVERLAP_S = (0.3, 1.0)
DOMINANT_SHARE = 0.85

CONDITIONS = (
    "clean_mixed",
    "same_male",
    "same_female",
    "telephone",
    "reverb",
    "noise",
    "backchannel",
    "overlap",
    "dominant",
    "couples",
    "monologue",
)
T, C, P = "A", "B", "C"  # therapist, client, partner; ids are deliberately not role names
TWO = {T: "therapist", C: "client"}

# Our own dialogue for machines without the AnnoMI CSV (repeated to fill a session).
FALLBACK: tuple[tuple[str, str], ...] = (
    (T, "Good afternoon. How have things been since we last met?"),
    (C, "Honestly, up and down. The first few days were fine, but the weekend was hard. I felt tired all the time."),
    (T, "What made the weekend hard?"),
    (C, "My sister visited, and we ended up drinking more than I planned. I woke up on Sunday feeling awful."),
    (T, "You had a plan, and the visit pulled you away from it. What was the plan?"),
    (C, "Two drinks at most, and water in between. I managed it on Friday, which surprised me a little."),
    (T, "So Friday went the way you wanted. What was different about Saturday?"),
    (C, "We went to a party, and everyone kept refilling my glass. I stopped counting after the third one."),
    (T, "It sounds like the setting made it hard to keep count. What could help you next time?"),
    (C, "Maybe I could hold on to my own glass, or tell my sister about the plan before we go out."),
    (T, "Both of those sound doable. Which one feels easier to start with?"),
    (C, "Telling my sister. She would support me if she knew. She has always been on my side."),
    (T, "That is a good step. How confident do you feel about it, from one to ten?"),
    (C, "About a seven, I think. Maybe an eight if she reacts well when I tell her on Thursday."),
)


@dataclass(frozen=True)
class SessionSpec:
    name: str
    condition: str
    voices: dict[str, str]
    roles: dict[str, str]
    transcript: str
    seed: int
    style: str = "dialogue"  # dialogue | backchannel | overlap | dominant | couples | monologue
    channel: str = "clean"  # clean | telephone | reverb | pink | brown | babble
    snr_db: float | None = None
    dominant: str | None = None
    speech_s: float = 125.0

    @property
    def pair(self) -> str:
        if len(self.voices) == 1:
            return "one"
        if len(self.voices) > 2:
            return "three"
        genders = {nv.VOICES[v].gender for v in self.voices.values()}
        return "mixed" if len(genders) > 1 else next(iter(genders))


def session_specs() -> list[SessionSpec]:
    """The realistic set: 33 sessions, three per condition; transcripts never repeat within the set."""
    ids = iter(_transcripts())
    specs: list[SessionSpec] = []

    def add(name: str, condition: str, voices: dict[str, str], **extra: Any) -> None:
        roles = extra.pop("roles", None) or {s: TWO.get(s, "partner") for s in voices}
        specs.append(SessionSpec(name, condition, voices, roles, next(ids), seed=1000 + len(specs), **extra))

    add("clean_mixed_1", "clean_mixed", {T: "joe", C: "heart"})
    add("clean_mixed_2", "clean_mixed", {T: "heart", C: "joe"})
    add("clean_mixed_3", "clean_mixed", {T: "kumo", C: "heart"})
    add("same_male_1", "same_male", {T: "joe", C: "kumo"})
    add("same_male_2", "same_male", {T: "kumo", C: "joe"})
    add("same_male_3", "same_male", {T: "joe", C: "kumo"})
    add("same_female_1", "same_female", {T: "heart", C: "alpha"})
    add("same_female_2", "same_female", {T: "nezumi", C: "heart"})
    add("same_female_3", "same_female", {T: "alpha", C: "nezumi"})
    add("telephone_1", "telephone", {T: "joe", C: "heart"}, channel="telephone")
    add("telephone_2", "telephone", {T: "heart", C: "joe"}, channel="telephone")
    add("telephone_3", "telephone", {T: "kumo", C: "joe"}, channel="telephone")
    add("reverb_1", "reverb", {T: "heart", C: "joe"}, channel="reverb")
    add("reverb_2", "reverb", {T: "joe", C: "heart"}, channel="reverb")
    add("reverb_3", "reverb", {T: "heart", C: "alpha"}, channel="reverb")
    add("noise_pink_18db", "noise", {T: "joe", C: "heart"}, channel="pink", snr_db=18.0)
    add("noise_babble_14db", "noise", {T: "heart", C: "joe"}, channel="babble", snr_db=14.0)
    add("noise_brown_10db", "noise", {T: "joe", C: "kumo"}, channel="brown", snr_db=10.0)
    add("backchannel_1", "backchannel", {T: "joe", C: "heart"}, style="backchannel")
    add("backchannel_2", "backchannel", {T: "heart", C: "joe"}, style="backchannel")
    add("backchannel_3", "backchannel", {T: "kumo", C: "joe"}, style="backchannel")
    add("overlap_1", "overlap", {T: "joe", C: "heart"}, style="overlap")
    add("overlap_2", "overlap", {T: "heart", C: "joe"}, style="overlap")
    add("overlap_3", "overlap", {T: "alpha", C: "heart"}, style="overlap")
    add("dominant_client_1", "dominant", {T: "joe", C: "heart"}, style="dominant", dominant=C)
    add("dominant_therapist", "dominant", {T: "heart", C: "joe"}, style="dominant", dominant=T)
    add("dominant_client_2", "dominant", {T: "alpha", C: "heart"}, style="dominant", dominant=C)
    three = {T: "therapist", C: "client", P: "partner"}
    add("couples_1", "couples", {T: "joe", C: "heart", P: "kumo"}, roles=three, style="couples")
    add("couples_2", "couples", {T: "heart", C: "joe", P: "alpha"}, roles=three, style="couples")
    add("couples_3", "couples", {T: "kumo", C: "alpha", P: "joe"}, roles=three, style="couples")
    add("monologue_1", "monologue", {C: "heart"}, roles={C: "client"}, style="monologue")
    add("monologue_2", "monologue", {C: "joe"}, roles={C: "client"}, style="monologue")
    add("monologue_3", "monologue", {T: "kumo"}, roles={T: "therapist"}, style="monologue", speech_s=110.0)
    return specs


# --- text ------------------------------------------------------------------------------------------------------

# Transcripts the espeak sets already use (eval_fixtures, the AnnoMI WER set) are left to them.
_USED_ELSEWHERE = {"0", "1", "2", "3", "6", "7", "8", "12", "25"}


def _transcripts() -> list[str]:
    """AnnoMI transcripts long enough for a session (≥ 600 words), in id order; placeholders without the CSV."""
    if not annomi_audio.ANNOMI_CSV.is_file():
        return [f"scripted-{i}" for i in range(100)]
    dialogues = annomi_audio.load_dialogues()
    out = []
    for tid in sorted(dialogues, key=int):
        words = sum(len(r["utterance_text"].split()) for r in dialogues[tid])
        if tid not in _USED_ELSEWHERE and words >= 600 and len(dialogues[tid]) >= 25:
            out.append(tid)
    return out


def dialogue_lines(transcript: str, max_words: int = 55) -> list[tuple[str, str]]:
    """``(speaker, text)`` lines of a transcript (A therapist, B client); without AnnoMI, the scripted dialogue
    repeated, each session starting at a different line."""
    if transcript.startswith("scripted") or not annomi_audio.ANNOMI_CSV.is_file():
        start = int(transcript.rpartition("-")[2]) % len(FALLBACK) if transcript[-1:].isdigit() else 0
        return (list(FALLBACK[start:]) + list(FALLBACK[:start])) * 6
    lines = []
    for row in annomi_audio.load_dialogues()[transcript]:
        text = annomi_audio.shorten(annomi_audio.clean_text(row["utterance_text"]), max_words)
        if re.search(r"[A-Za-z]", text):
            lines.append((T if row["interlocutor"] == "therapist" else C, text))
    return lines


def couples_lines(lines: Sequence[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    """The client's lines shared with a partner: two of every five longer lines (≥ 8 words) and a fifth of the
    short ones, so both talk while the client (who came for help) talks most, as the app's role rules expect."""
    out, long_index = [], 0
    for speaker, text in lines:
        if speaker == C and len(text.split()) >= 8:
            speaker = P if long_index % 5 in (1, 3) else C
            long_index += 1
        elif speaker == C and rng.random() < 0.2:
            speaker = P
        out.append((speaker, text))
    return out


def monologue_lines(transcript: str, speaker: str) -> Iterator[str]:
    """One role's longer lines (≥ 8 words), from ``transcript`` on through the following ones, as one talk."""
    order = _transcripts()
    start = order.index(transcript) if transcript in order else 0
    for tid in [*order[start:], *order[:start]]:
        for s, text in dialogue_lines(tid):
            if s == speaker and len(text.split()) >= 8:
                yield text


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]
