"""Realistic therapy sessions with exact truth for `make eval`: neural voices, hard acoustic conditions.

Usage: python scripts/realistic_fixtures.py [--jobs 2] [--out DIR] [--condition NAME …]
       (default DIR: .cache/eval-realistic/<VERSION>; needs `make eval-deps`)

The espeak-ng fixtures (scripts/eval_fixtures.py) stay for fast unit tests; their voices are far easier to tell
apart than people. These sessions use the neural voices of scripts/neural_voices.py, the acoustic conditions of
scripts/audio_conditions.py and text from the AnnoMI
counselling dialogues (../shared/eval/annomi/annomi-dev.csv, read at build time and never copied here; without it
a short scripted dialogue is used). Every utterance is synthesised alone, trimmed to its audible extent and
placed by this script, so the truth times are exact. The truth JSON has the format of eval_fixtures.py plus
``condition``, ``pair`` (mixed/male/female/one/three), per-turn ``kind`` (turn, backchannel, overlap) and the
build time. Turns may overlap (the ``overlap`` condition): both speakers' turns are in the truth as spoken.
The session specs and their text are in realistic_sessions.py.

Conditions (each on three sessions of 2–4 minutes; ``monologue`` sessions have one speaker):

- ``clean_mixed``  a woman and a man;  ``same_male`` joe + kumo;  ``same_female`` heart, alpha and nezumi in pairs
- ``telephone``    300–3400 Hz band, 8 kHz µ-law and back to 16 kHz, mild compression (sox)
- ``reverb``       a room (sox reverb; the truth keeps the dry speech times, the tail is left out of turns)
- ``noise``        pink, brown or babble noise at 10–20 dB SNR (seeded; SNR as in eval_fixtures.mix_noise)
- ``backchannel``  the listener's "mm-hmm", "yeah", "right" (0.3–0.8 s) between the speaker's sentences
- ``overlap``      at many speaker changes the listener starts 0.3–1 s before the speaker ends
- ``dominant``     one speaker has about 85 % of the talk (twice the client, once the therapist)
- ``couples``      therapist, client and partner
- ``monologue``    one person talking

Deterministic: text, voices, gaps, gains, noise and effects are seeded (piper's own sampling noise excepted,
see neural_voices). Sessions are cached and rebuilt only when missing; bump ``VERSION`` when this changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import annomi_audio  # noqa: E402
import audio_conditions as ac  # noqa: E402
import neural_voices as nv  # noqa: E402
from realistic_sessions import (  # noqa: E402
    BACKCHANNEL_S,
    BACKCHANNELS,
    CONDITIONS,
    DOMINANT_SHARE,
    FALLBACK,
    LEAD_S,
    MIN_PAUSE_S,
    OVERLAP_S,
    SAMPLE_RATE,
    TAIL_S,
    C,
    Session,
    SessionSpec,
    T,
    couples_lines,
    dialogue_lines,
    monologue_lines,
    sentences,
    session_specs,
)

REPO_ROOT = SCRIPTS.parent
VERSION = "r2"
DEFAULT_DIR = REPO_ROOT / ".cache" / "eval-realistic" / VERSION
# --- placing speech --------------------------------------------------------------------------------------------


@dataclass
class Placed:
    start: int
    audio: npt.NDArray[np.float32]
    speaker: str
    text: str
    kind: str = "turn"

    @property
    def end(self) -> int:
        return self.start + self.audio.size


class Placer:
    """Synthesises utterances one at a time and places them: ``gap_s`` after the latest end (negative: overlap)."""

    def __init__(self, spec: SessionSpec, synth: nv.Synthesiser) -> None:
        self.spec = spec
        self.synth = synth
        self.rng = random.Random(spec.seed)
        self.placed: list[Placed] = []
        self.latest_end = int(LEAD_S * SAMPLE_RATE)
        self.speech = dict.fromkeys(spec.voices, 0.0)
        self._count = 0

    @property
    def speech_total(self) -> float:
        return sum(self.speech.values())

    def say(self, speaker: str, text: str, speed: float = 1.0) -> npt.NDArray[np.float32]:
        self._count += 1
        return self.synth.say(text, self.spec.voices[speaker], seed=self.spec.seed * 1000 + self._count, speed=speed)

    def place(self, speaker: str, text: str, audio: npt.NDArray[np.float32], gap_s: float, kind: str = "turn") -> None:
        if audio.size == 0:
            return
        start = self.latest_end + int(round(gap_s * SAMPLE_RATE))
        if self.placed and gap_s < 0:
            start = max(start, self.placed[-1].start + SAMPLE_RATE // 2)
        self.placed.append(Placed(start, audio, speaker, text, kind))
        self.latest_end = max(self.latest_end, start + audio.size)
        self.speech[speaker] += audio.size / SAMPLE_RATE

    def add(self, speaker: str, text: str, gap_s: float, kind: str = "turn") -> None:
        self.place(speaker, text, self.say(speaker, text), gap_s, kind)

    def gap(self) -> float:
        """A natural gap between turns: mostly 0.3–1.2 s, sometimes a 1.5–3 s pause."""
        return self.rng.uniform(1.5, 3.0) if self.rng.random() < 0.1 else self.rng.uniform(0.3, 1.2)

    def backchannel(self, speaker: str) -> tuple[str, npt.NDArray[np.float32]] | None:
        """A 0.3–0.8 s backchannel in ``speaker``'s voice (spoken slower or faster to fit), or None."""
        lo, hi = BACKCHANNEL_S
        for text in self.rng.sample(BACKCHANNELS, len(BACKCHANNELS)):
            for speed in (1.0, 0.75, 1.3):
                audio = self.say(speaker, text, speed)
                if lo * SAMPLE_RATE <= audio.size <= hi * SAMPLE_RATE:
                    return text, audio
        return None


def compose(spec: SessionSpec, synth: nv.Synthesiser) -> Placer:
    placer = Placer(spec, synth)
    rng = placer.rng
    lines = dialogue_lines(spec.transcript)
    if spec.style == "monologue":
        (speaker,) = spec.voices
        for text in monologue_lines(spec.transcript, T if speaker == T else C):
            placer.add(speaker, text, rng.uniform(0.4, 1.5))
            if placer.speech_total >= spec.speech_s:
                break
        return placer
    if spec.style == "couples":
        lines = couples_lines(lines, rng)
    previous: str | None = None
    for speaker, text in lines:
        if placer.speech_total >= spec.speech_s:
            break
        listener = C if speaker == T else T
        if spec.style == "dominant":
            if speaker != spec.dominant:
                text = annomi_audio.shorten(text, 10)
                audio = placer.say(speaker, text)
                share = (placer.speech[speaker] + audio.size / SAMPLE_RATE) / (placer.speech_total + 1e-9)
                if share > 1.0 - DOMINANT_SHARE + 0.01:
                    continue  # the dominant speaker goes on; this line is dropped
                placer.place(speaker, text, audio, placer.gap())
            else:
                placer.add(speaker, text, placer.gap())
        elif spec.style == "overlap" and previous not in (None, speaker) and rng.random() < 0.6:
            last = placer.placed[-1]
            if last.audio.size >= 1.5 * SAMPLE_RATE:
                placer.add(speaker, text, -rng.uniform(*OVERLAP_S), kind="overlap")
            else:
                placer.add(speaker, text, placer.gap())
        elif spec.style == "backchannel" and len(sentences(text)) >= 2 and rng.random() < 0.7:
            parts = sentences(text)
            cut = max(1, len(parts) // 2)
            placer.add(speaker, " ".join(parts[:cut]), placer.gap())
            found = placer.backchannel(listener)
            if found is not None:
                placer.place(listener, found[0], found[1], rng.uniform(0.1, 0.3), kind="backchannel")
            placer.add(speaker, " ".join(parts[cut:]), rng.uniform(0.1, 0.35))
        else:
            placer.add(speaker, text, placer.gap())
        previous = speaker
    return placer


def mix(placer: Placer, spec: SessionSpec) -> tuple[npt.NDArray[np.float32], list[dict[str, Any]]]:
    """The dry mix (each speaker at a seeded gain of -4…+2 dB) and its truth turns."""
    rng = random.Random(spec.seed + 7)
    gains = {s: 10 ** (rng.uniform(-4.0, 2.0) / 20) for s in sorted(spec.voices)}
    total = placer.latest_end + int(TAIL_S * SAMPLE_RATE)
    out = np.zeros(total, dtype=np.float32)
    turns = []
    for p in sorted(placer.placed, key=lambda q: q.start):
        out[p.start : p.end] += p.audio * gains[p.speaker]
        turns.append(
            {
                "start": round(p.start / SAMPLE_RATE, 4),
                "end": round(p.end / SAMPLE_RATE, 4),
                "speaker": p.speaker,
                "role": spec.roles[p.speaker],
                "text": p.text,
                "kind": p.kind,
                "pauses": [
                    [round((p.start + a) / SAMPLE_RATE, 4), round((p.start + b) / SAMPLE_RATE, 4)]
                    for a, b in find_pauses(p.audio)
                ],
            }
        )
    return out, turns


def find_pauses(audio: npt.NDArray[np.float32], min_s: float = MIN_PAUSE_S) -> list[tuple[int, int]]:
    """Quiet stretches (10 ms frames below the trim level) of at least ``min_s`` inside one utterance."""
    frame = SAMPLE_RATE // 100
    usable = audio.size // frame * frame
    if usable == 0:
        return []
    peak = float(np.max(np.abs(audio)))
    quiet = np.abs(audio[:usable]).reshape(-1, frame).max(axis=1) <= nv.TRIM_LEVEL * peak / 0.5
    out: list[tuple[int, int]] = []
    run: int | None = None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and run is None:
            run = i
        elif not q and run is not None:
            if (i - run) * frame >= min_s * SAMPLE_RATE:
                out.append((run * frame, i * frame))
            run = None
    return out


# --- building ------------------------------------------------------------------------------------------------------


def build_session(spec: SessionSpec, out_dir: Path = DEFAULT_DIR, synth: nv.Synthesiser | None = None) -> Session:
    """The WAV and truth JSON of one session, cached in ``out_dir``."""
    wav_path, truth_path = out_dir / f"{spec.name}.wav", out_dir / f"{spec.name}.json"
    if wav_path.is_file() and truth_path.is_file():
        return Session(wav_path, json.loads(truth_path.read_text(encoding="utf-8")))
    if shutil.which("sox") is None:
        raise RuntimeError("sox is needed to build the realistic sessions: run `bash scripts/system-deps.sh test`")
    out_dir.mkdir(parents=True, exist_ok=True)
    with _building(out_dir / f".{spec.name}.lock"):  # two runs at once: one builds, the other waits and reads
        if wav_path.is_file() and truth_path.is_file():
            return Session(wav_path, json.loads(truth_path.read_text(encoding="utf-8")))
        return _build(spec, wav_path, truth_path, synth)


@contextlib.contextmanager
def _building(lock: Path) -> Iterator[None]:
    import fcntl

    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(spec: SessionSpec, wav_path: Path, truth_path: Path, synth: nv.Synthesiser | None) -> Session:
    started = time.perf_counter()
    placer = compose(spec, synth or nv.Synthesiser())
    synth_s = time.perf_counter() - started
    audio, turns = mix(placer, spec)
    audio = ac.noise_floor(audio, spec.seed)
    if spec.channel == "reverb":
        audio = ac.reverb(audio, spec.seed)
    elif spec.channel == "telephone":
        audio = ac.telephone(audio)
    elif spec.channel in ("pink", "brown", "babble"):
        assert spec.snr_db is not None
        background = ac.noise(spec.channel, audio.size, spec.seed, [t for _, t in FALLBACK])
        audio = ac.mix_noise(audio, turns, background, spec.snr_db)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    ac.write_wav(wav_path, audio)
    speech = {s: round(v, 2) for s, v in placer.speech.items()}
    truth = {
        "name": spec.name,
        "kind": spec.condition,
        "condition": spec.condition,
        "version": VERSION,
        "duration_s": audio.size / SAMPLE_RATE,
        "sample_rate": SAMPLE_RATE,
        "roles": dict(spec.roles),
        "voices": {s: nv.VOICES[v].describe for s, v in spec.voices.items()},
        "voice_names": dict(spec.voices),
        "pair": spec.pair,
        "source": f"AnnoMI transcript {spec.transcript}" if spec.transcript.isdigit() else "scripted",
        "channel": spec.channel,
        "noise": spec.channel if spec.channel in ("pink", "brown", "babble") else None,
        "snr_db": spec.snr_db,
        "speech_s": speech,
        "talk_share": {s: round(v / max(sum(speech.values()), 1e-9), 3) for s, v in speech.items()},
        "overlap_s": round(overlap_seconds(turns), 2),
        "synthesis_s": round(synth_s, 2),
        "build_s": round(time.perf_counter() - started, 2),
        "turns": turns,
    }
    tmp = truth_path.with_name(truth_path.name + ".part")
    tmp.write_text(json.dumps(truth, indent=1), encoding="utf-8")
    tmp.replace(truth_path)
    return Session(wav_path, truth)


def overlap_seconds(turns: Sequence[dict[str, Any]]) -> float:
    """Seconds during which two or more truth speakers talk at once."""
    events = sorted([(float(t["start"]), 1) for t in turns] + [(float(t["end"]), -1) for t in turns])
    active, last, total = 0, 0.0, 0.0
    for time_s, delta in events:
        if active >= 2:
            total += time_s - last
        active += delta
        last = time_s
    return total


_WORKER_SYNTH: nv.Synthesiser | None = None


def _build_in_worker(spec: SessionSpec, out_dir: Path) -> dict[str, Any]:
    global _WORKER_SYNTH
    if _WORKER_SYNTH is None:
        os.nice(10)  # shared cores: synthesis yields to everything interactive
        _WORKER_SYNTH = nv.Synthesiser()
    return build_session(spec, out_dir, _WORKER_SYNTH).truth


def build_all(
    out_dir: Path = DEFAULT_DIR,
    names: Sequence[str] | None = None,
    conditions: Sequence[str] | None = None,
    jobs: int = 2,
) -> list[Session]:
    """Every selected session, building the missing ones in ``jobs`` processes (niced)."""
    specs = [
        s for s in session_specs() if (not names or s.name in names) and (not conditions or s.condition in conditions)
    ]
    missing = [
        s for s in specs if not ((out_dir / f"{s.name}.wav").is_file() and (out_dir / f"{s.name}.json").is_file())
    ]
    if missing:
        started = time.perf_counter()
        print(f"building {len(missing)} realistic sessions in {out_dir} ({jobs} processes, niced) …", flush=True)
        if jobs <= 1 or len(missing) == 1:
            for spec in missing:
                _report(_build_in_worker(spec, out_dir))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                for future in as_completed([pool.submit(_build_in_worker, s, out_dir) for s in missing]):
                    _report(future.result())
        print(f"built {len(missing)} sessions in {time.perf_counter() - started:.0f} s wall", flush=True)
    return [build_session(s, out_dir) for s in specs]


def _report(truth: dict[str, Any]) -> None:
    print(
        f"  {truth['name']:22} {truth['duration_s']:6.1f} s  {len(truth['turns']):3d} turns  "
        f"synthesis {truth['synthesis_s']:5.1f} s  build {truth['build_s']:5.1f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--condition", nargs="*", choices=CONDITIONS)
    parser.add_argument("--sessions", nargs="*")
    args = parser.parse_args(argv)
    sessions = build_all(args.out, args.sessions, args.condition, args.jobs)
    total_synth = 0.0
    for s in sessions:
        t = s.truth
        total_synth += float(t.get("build_s") or 0.0)
        shares = " ".join(f"{k}:{v:.0%}" for k, v in t["talk_share"].items())
        print(
            f"{s.name:22} {t['condition']:12} {t['pair']:6} {t['duration_s']:6.1f} s {len(t['turns']):3d} turns "
            f"overlap {t['overlap_s']:4.1f} s  talk {shares:18} {t['source']}"
        )
    minutes = sum(s.truth["duration_s"] for s in sessions) / 60
    print(
        f"{len(sessions)} sessions, {minutes:.1f} min of audio; build time recorded: {total_synth:.0f} s (one process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
