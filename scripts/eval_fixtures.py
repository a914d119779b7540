"""Synthetic therapy sessions with exact truth for `make eval` and `make bench` (espeak-ng voices).

Usage: python scripts/eval_fixtures.py [OUTDIR]        (default .cache/eval-fixtures/v1)

Each session is a 16 kHz mono WAV plus a truth JSON beside it::

    {"name", "kind", "duration_s", "roles": {speaker: role}, "voices": {speaker: "espeak args"},
     "turns": [{"start", "end", "speaker", "role", "text"}], "source", "noise", "snr_db"}

Turn times are exact: every utterance is synthesised on its own, trimmed to its first and last audible sample,
and placed by this script. A turn runs from the first to the last audible sample of one utterance, so the short
pauses espeak-ng puts between a turn's sentences and clauses (0.2–0.4 s) belong to the turn, as they would in a
hand-made reference; each turn also lists those ``pauses`` ([[start, end], …], ≥ 0.15 s) for a speech-only view.
Every session has a faint noise floor (about -72 dBFS) so no stretch is digital zero.

Kinds: ``two_voice`` (therapist/client; AnnoMI dialogue text), ``couples`` (therapist, client, partner),
``long_silences`` (10–30 s gaps), ``fast_exchange`` (short turns, gaps under 1 s), ``noisy`` (pink or brown
noise at 15–20 dB SNR). Outputs are cached and rebuilt only when missing; bump ``VERSION`` when the generator
changes.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import annomi_audio  # noqa: E402
from make_fixtures import SAMPLE_RATE, SILENCE_AMPLITUDE, Voice, read_wav, speak, write_wav  # noqa: E402

REPO_ROOT = SCRIPTS.parent
VERSION = "v1"
DEFAULT_DIR = REPO_ROOT / ".cache" / "eval-fixtures" / VERSION
NOISE_FLOOR_STD = 8.0  # int16 units: about -72 dBFS
MIN_PAUSE_S = 0.15  # silences inside an utterance at least this long are recorded as the turn's "pauses"

# Voices the speaker encoder tells apart, checked with the app's earlier (Resemblyzer) speaker encoder:
# utterance-mean cosine similarity between the voices of one session is 0.59–0.69, against 0.88–0.94 within a
# voice. Pitch alone is not enough (en-us at -p 35 vs -p 50: 0.92), nor is en-gb+m3 vs en-us (0.89).
THERAPIST_M = Voice("en-us", pitch=35, speed=160)
CLIENT_F = Voice("en+f3", pitch=70, speed=175)
PARTNER = Voice("en+Storm", pitch=40, speed=155)
THERAPIST_F = Voice("en-us+f2", pitch=60, speed=165)
CLIENT_M = Voice("en-gb-scotland+m7", pitch=45, speed=150)

# Speaker ids are deliberately not role names: the pipeline's labels are mapped by overlap, never by name.
T, C, P = "A", "B", "C"

Line = tuple[str, str]
"""``(speaker, text)``."""


@dataclass(frozen=True)
class SessionSpec:
    name: str
    kind: str
    voices: dict[str, Voice]
    roles: dict[str, str]
    lines: Callable[[], list[Line]]
    gap: Callable[[random.Random, int], float]
    """Seconds of silence before line ``index`` (index 0: the lead-in)."""
    noise: str | None = None
    snr_db: float | None = None
    source: str = "scripted"
    seed: int = 1


@dataclass
class Session:
    wav: Path
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.truth["name"])


# --- scripted dialogue (our own text) ------------------------------------------------------------------------

# The client (who came for help) talks most of the two partners: that is how the role is told apart from the
# partner (tbdesktop.engine.roles documents the same rule), so the truth here follows it.
COUPLES: tuple[Line, ...] = (
    (T, "Thank you both for coming in today. What would you like to focus on in this session?"),
    (
        C,
        "I think we keep having the same argument about money, and it always ends with one of us leaving the "
        "room. It has been going on for months now, and I am tired of it.",
    ),
    (P, "That is true. I feel judged when I buy something."),
    (T, "So you both notice a pattern. What usually happens just before the argument starts?"),
    (
        C,
        "Usually I see the bank statement at the end of the month and I get worried about the rent. "
        "Then I start asking about every little purchase.",
    ),
    (P, "And then I feel judged instead of asked."),
    (T, "It sounds like worry on one side and feeling judged on the other. Is that fair?"),
    (
        C,
        "Yes, that is fair. I do not mean to judge. I am just scared we will fall behind, the way my parents "
        "did when I was a child.",
    ),
    (P, "I did not know you were scared."),
    (T, "How would it be if you named the worry first, before talking about the purchase?"),
    (C, "I could try that. Maybe we could look at the budget together on Sunday evenings, with a cup of tea."),
    (P, "I would like that, if it is a conversation."),
    (T, "Good. Let us practise it now. Could you start by telling your partner what worries you?"),
    (C, "I worry that we will not have enough saved if one of us loses a job, and that we would lose the flat."),
    (P, "Thank you for saying it like that."),
)

FAST: tuple[Line, ...] = (
    (T, "How was your week?"),
    (C, "Busy."),
    (T, "Busy how?"),
    (C, "Work, mostly."),
    (T, "Long hours?"),
    (C, "Ten hours a day."),
    (T, "Every day?"),
    (C, "Almost."),
    (T, "And sleep?"),
    (C, "Not great."),
    (T, "How many hours?"),
    (C, "Maybe five."),
    (T, "That is not much."),
    (C, "I know."),
    (T, "Did you try the routine?"),
    (C, "Twice."),
    (T, "What happened?"),
    (C, "I fell asleep faster."),
    (T, "That is good news."),
    (C, "It was."),
    (T, "Can you do it three nights?"),
    (C, "I think so."),
    (T, "Which nights?"),
    (C, "Monday, Wednesday, Friday."),
    (T, "Any coffee after lunch?"),
    (C, "Two cups."),
    (T, "Could you skip one?"),
    (C, "Probably."),
    (T, "And the phone in bed?"),
    (C, "Guilty."),
    (T, "Leave it in the kitchen?"),
    (C, "I will try."),
    (T, "Great. Same time next week?"),
    (C, "Yes, thank you."),
)

COUNSELLING: tuple[Line, ...] = (
    (T, "Good afternoon. How have things been since we last met?"),
    (C, "Honestly, up and down. The first few days were fine, but the weekend was hard."),
    (T, "What made the weekend hard?"),
    (C, "My sister visited, and we ended up drinking more than I planned."),
    (T, "You had a plan, and the visit pulled you away from it. What was the plan?"),
    (C, "Two drinks at most, and water in between. I managed it on Friday."),
    (T, "So Friday went the way you wanted. What was different about Saturday?"),
    (C, "We went to a party, and everyone kept refilling my glass."),
    (T, "It sounds like the setting made it hard to keep count."),
    (C, "Exactly. I lost track after the third one."),
    (T, "What could help you keep track next time?"),
    (C, "Maybe I could hold on to my own glass, or tell my sister about the plan."),
    (T, "Both of those sound doable. Which one feels easier to start with?"),
    (C, "Telling my sister. She would support me if she knew."),
    (T, "That is a good step. How confident do you feel, from one to ten?"),
    (C, "About a seven, I think."),
)


# --- AnnoMI text ------------------------------------------------------------------------------------------------


def annomi_lines(transcript_id: str, max_lines: int = 40, max_words: int = 40) -> list[Line] | None:
    """Therapist/client lines of an AnnoMI dialogue (speaker A = therapist, B = client); None when absent."""
    if not annomi_audio.ANNOMI_CSV.is_file():
        return None
    rows = annomi_audio.load_dialogues().get(transcript_id)
    if not rows:
        return None
    lines: list[Line] = []
    for row in rows:
        text = annomi_audio.shorten(annomi_audio.clean_text(row["utterance_text"]), max_words)
        if text:
            lines.append((T if row["interlocutor"] == "therapist" else C, text))
        if len(lines) >= max_lines:
            break
    return lines


def _lines(transcript_id: str, fallback: Sequence[Line], max_words: int = 40) -> Callable[[], list[Line]]:
    return lambda: annomi_lines(transcript_id, max_words=max_words) or list(fallback)


def _source(transcript_id: str) -> str:
    return f"AnnoMI transcript {transcript_id}" if annomi_audio.ANNOMI_CSV.is_file() else "scripted"


def _normal_gap(rng: random.Random, index: int) -> float:
    return 0.5 if index == 0 else rng.uniform(0.35, 1.1)


def _fast_gap(rng: random.Random, index: int) -> float:
    return 0.5 if index == 0 else rng.uniform(0.1, 0.6)


def _long_gap(rng: random.Random, index: int) -> float:
    return {0: 0.5, 3: 12.0, 6: 27.0, 9: 18.0}.get(index, rng.uniform(0.4, 1.0))


def session_specs() -> list[SessionSpec]:
    """The eval set. Target speech: 45–90 s per session (long_silences adds about a minute of gaps)."""
    two = {T: "therapist", C: "client"}
    return [
        SessionSpec(
            "two_voice_smoking",
            "two_voice",
            {T: THERAPIST_M, C: CLIENT_F},
            two,
            _lines("12", COUNSELLING),
            _normal_gap,
            source=_source("12"),
            seed=11,
        ),
        SessionSpec(
            "two_voice_weight_swapped",  # female therapist, male client: roles must not follow pitch
            "two_voice",
            {T: THERAPIST_F, C: CLIENT_M},
            two,
            _lines("25", COUNSELLING),
            _normal_gap,
            source=_source("25"),
            seed=12,
        ),
        SessionSpec(
            "couples_money",
            "couples",
            {T: THERAPIST_M, C: CLIENT_F, P: PARTNER},
            {T: "therapist", C: "client", P: "partner"},
            lambda: list(COUPLES),
            _normal_gap,
            seed=13,
        ),
        SessionSpec(
            "long_silences",
            "long_silences",
            {T: THERAPIST_M, C: CLIENT_F},
            two,
            _lines("7", COUNSELLING, max_words=25),
            _long_gap,
            source=_source("7"),
            seed=14,
        ),
        SessionSpec(
            "fast_exchange",
            "fast_exchange",
            {T: THERAPIST_M, C: CLIENT_F},
            two,
            lambda: list(FAST),
            _fast_gap,
            seed=15,
        ),
        SessionSpec(
            "noisy_pink_18db",
            "noisy",
            {T: THERAPIST_M, C: CLIENT_F},
            two,
            _lines("6", COUNSELLING),
            _normal_gap,
            noise="pinknoise",
            snr_db=18.0,
            source=_source("6"),
            seed=16,
        ),
        SessionSpec(
            "noisy_brown_15db",
            "noisy",
            {T: THERAPIST_F, C: CLIENT_M},
            two,
            _lines("8", COUNSELLING),
            _normal_gap,
            noise="brownnoise",
            snr_db=15.0,
            source=_source("8"),
            seed=17,
        ),
    ]


MAX_SPEECH_S = {"long_silences": 40.0, "fast_exchange": 60.0}
DEFAULT_MAX_SPEECH_S = 70.0


# --- building --------------------------------------------------------------------------------------------------


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"{' and '.join(missing)} needed to build the sessions: run `bash scripts/system-deps.sh test`"
        )


def build_session(spec: SessionSpec, out_dir: Path = DEFAULT_DIR) -> Session:
    """The WAV and truth JSON of one session, cached in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path, truth_path = out_dir / f"{spec.name}.wav", out_dir / f"{spec.name}.json"
    if wav_path.is_file() and truth_path.is_file():
        return Session(wav_path, json.loads(truth_path.read_text(encoding="utf-8")))
    require_tools()

    rng = random.Random(spec.seed)
    max_speech = MAX_SPEECH_S.get(spec.kind, DEFAULT_MAX_SPEECH_S)
    pieces: list[npt.NDArray[np.int16]] = []
    turns: list[dict[str, Any]] = []
    cursor = speech_total = 0
    for index, (speaker, text) in enumerate(spec.lines()):
        gap = np.zeros(int(round(spec.gap(rng, index) * SAMPLE_RATE)), dtype=np.int16)
        speech = speak(text, spec.voices[speaker])
        if speech.size == 0:
            continue
        pieces += [gap, speech]
        cursor += gap.size
        turns.append(_turn(cursor, speech, speaker, spec.roles[speaker], text))
        cursor += speech.size
        speech_total += speech.size
        if speech_total / SAMPLE_RATE >= max_speech:
            break
    pieces.append(np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.int16))
    clean = np.concatenate(pieces)
    mixed = _add_noise_floor(clean, spec.seed)
    if spec.noise is not None and spec.snr_db is not None:
        mixed = mix_noise(clean, turns, spec.noise, spec.snr_db)
    write_wav(wav_path, mixed)
    truth = {
        "name": spec.name,
        "kind": spec.kind,
        "version": VERSION,
        "duration_s": clean.size / SAMPLE_RATE,
        "sample_rate": SAMPLE_RATE,
        "roles": dict(spec.roles),
        "voices": {s: str(v) for s, v in spec.voices.items()},
        "source": spec.source,
        "noise": spec.noise,
        "snr_db": spec.snr_db,
        "turns": turns,
    }
    _write_json(truth_path, truth)
    return Session(wav_path, truth)


def build_all(out_dir: Path = DEFAULT_DIR, names: Sequence[str] | None = None) -> list[Session]:
    return [build_session(s, out_dir) for s in session_specs() if not names or s.name in names]


def _turn(start: int, speech: npt.NDArray[np.int16], speaker: str, role: str, text: str) -> dict[str, Any]:
    return {
        "start": round(start / SAMPLE_RATE, 4),
        "end": round((start + speech.size) / SAMPLE_RATE, 4),
        "speaker": speaker,
        "role": role,
        "text": text,
        "pauses": [[_seconds(start + a), _seconds(start + b)] for a, b in pauses(speech)],
    }


def _seconds(sample: int) -> float:
    return round(sample / SAMPLE_RATE, 4)


def pauses(speech: npt.NDArray[np.int16], min_s: float = MIN_PAUSE_S) -> list[tuple[int, int]]:
    """Silent stretches of at least ``min_s`` inside one utterance, as sample ranges (10 ms resolution)."""
    frame = SAMPLE_RATE // 100
    usable = speech.size // frame * frame
    quiet = np.abs(speech[:usable].astype(np.int32)).reshape(-1, frame).max(axis=1) <= SILENCE_AMPLITUDE
    out: list[tuple[int, int]] = []
    run_start: int | None = None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            if (i - run_start) * frame >= min_s * SAMPLE_RATE:
                out.append((run_start * frame, i * frame))
            run_start = None
    return out


def _add_noise_floor(samples: npt.NDArray[np.int16], seed: int) -> npt.NDArray[np.int16]:
    noise = np.random.default_rng(seed).normal(0.0, NOISE_FLOOR_STD, samples.size)
    return np.clip(samples.astype(np.float64) + noise, -32768, 32767).astype(np.int16)


def mix_noise(
    clean: npt.NDArray[np.int16], turns: Sequence[dict[str, Any]], color: str, snr_db: float
) -> npt.NDArray[np.int16]:
    """``clean`` plus sox ``color`` noise (pinknoise, brownnoise, whitenoise) scaled to ``snr_db``.

    SNR is speech power over the samples inside truth turns against the noise's power over the whole file.
    """
    seconds = clean.size / SAMPLE_RATE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noise.wav"
        subprocess.run(
            ["sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path), "synth", f"{seconds:.4f}"]
            + [color, "vol", "0.5"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        noise = read_wav(path).astype(np.float64)
    noise = np.resize(noise, clean.size) - noise.mean()
    speech = np.concatenate([clean[int(t["start"] * SAMPLE_RATE) : int(t["end"] * SAMPLE_RATE)] for t in turns]).astype(
        np.float64
    )
    speech_power = float(np.mean(speech**2))
    noise_power = float(np.mean(noise**2))
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    mixed = clean.astype(np.float64) + noise * scale
    return np.clip(mixed, -32768, 32767).astype(np.int16)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


# --- long recordings for `make bench` ------------------------------------------------------------------------------


BENCH_DIR = REPO_ROOT / ".cache" / "bench"
BENCH_TRANSCRIPTS = ("5", "0", "1", "2", "12", "6", "7", "8", "3", "9", "10", "11")


def _bench_lines() -> Iterator[Line]:
    """Whole AnnoMI dialogues one after another (the scripted dialogue when AnnoMI is absent)."""
    found = False
    for tid in BENCH_TRANSCRIPTS:
        lines = annomi_lines(tid, max_lines=10_000, max_words=10_000)
        if lines:
            found = True
            yield from lines
    if not found:
        while True:
            yield from COUNSELLING


def build_bench_recording(minutes: float, out_dir: Path = BENCH_DIR, unique_minutes: float = 10.0) -> Session:
    """A two-speaker recording of at least ``minutes``, cached in ``out_dir``.

    The first ``unique_minutes`` are distinct AnnoMI dialogue; longer recordings repeat that block with 5–20 s
    of silence between copies, written frame by frame so building an hour stays small in memory.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"bench_{VERSION}_{int(round(minutes))}min"
    wav_path, truth_path = out_dir / f"{stem}.wav", out_dir / f"{stem}.json"
    if wav_path.is_file() and truth_path.is_file():
        return Session(wav_path, json.loads(truth_path.read_text(encoding="utf-8")))

    require_tools()
    if minutes <= unique_minutes:
        return _bench_block(minutes, out_dir)
    block = _bench_block(unique_minutes, out_dir)
    block_audio = read_wav(block.wav)
    block_turns = block.truth["turns"]
    rng = random.Random(99)
    turns: list[dict[str, Any]] = []
    target = int(minutes * 60 * SAMPLE_RATE)
    tmp = wav_path.with_name(wav_path.name + ".part")
    written = 0
    with wave.open(str(tmp), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        while written < target:
            if written:
                gap = int(rng.uniform(5.0, 20.0) * SAMPLE_RATE)
                wf.writeframes(_add_noise_floor(np.zeros(gap, dtype=np.int16), rng.randrange(1 << 30)).tobytes())
                written += gap
            offset = written / SAMPLE_RATE
            wf.writeframes(block_audio.astype("<i2").tobytes())
            written += block_audio.size
            turns += [_shifted(t, offset) for t in block_turns]
    tmp.replace(wav_path)
    truth = {**block.truth, "name": stem, "duration_s": written / SAMPLE_RATE, "turns": turns}
    _write_json(truth_path, truth)
    return Session(wav_path, truth)


def _shifted(turn: dict[str, Any], offset: float) -> dict[str, Any]:
    return {**turn, "start": round(turn["start"] + offset, 4), "end": round(turn["end"] + offset, 4)}


def _bench_block(minutes: float, out_dir: Path) -> Session:
    stem = f"bench_{VERSION}_{int(round(minutes))}min"
    wav_path, truth_path = out_dir / f"{stem}.wav", out_dir / f"{stem}.json"
    if wav_path.is_file() and truth_path.is_file():
        return Session(wav_path, json.loads(truth_path.read_text(encoding="utf-8")))
    voices = {T: THERAPIST_M, C: CLIENT_F}
    roles = {T: "therapist", C: "client"}
    rng = random.Random(7)
    target = int(minutes * 60 * SAMPLE_RATE)
    pieces: list[npt.NDArray[np.int16]] = []
    turns: list[dict[str, Any]] = []
    cursor = 0
    for index, (speaker, text) in enumerate(_bench_lines()):
        speech = speak(text, voices[speaker])
        if speech.size == 0:
            continue
        gap = np.zeros(int(round(_normal_gap(rng, index) * SAMPLE_RATE)), dtype=np.int16)
        pieces += [gap, speech]
        cursor += gap.size
        turns.append(_turn(cursor, speech, speaker, roles[speaker], text))
        cursor += speech.size
        if cursor >= target:
            break
    pieces.append(np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.int16))
    audio = _add_noise_floor(np.concatenate(pieces), 5)
    write_wav(wav_path, audio)
    truth = {
        "name": stem,
        "kind": "bench",
        "version": VERSION,
        "duration_s": audio.size / SAMPLE_RATE,
        "sample_rate": SAMPLE_RATE,
        "roles": roles,
        "voices": {s: str(v) for s, v in voices.items()},
        "source": "AnnoMI transcripts " + ", ".join(BENCH_TRANSCRIPTS)
        if annomi_audio.ANNOMI_CSV.is_file()
        else "scripted",
        "noise": None,
        "snr_db": None,
        "turns": turns,
    }
    _write_json(truth_path, truth)
    return Session(wav_path, truth)


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR
    for session in build_all(out_dir):
        truth = session.truth
        speech = sum(t["end"] - t["start"] for t in truth["turns"])
        print(
            f"{session.name:28} {truth['kind']:14} {truth['duration_s']:6.1f} s  speech {speech:5.1f} s  "
            f"{len(truth['turns']):3d} turns  {len(truth['roles'])} voices  {truth['source']}  {session.wav}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
