"""Acoustic conditions for the realistic eval sessions: telephone band, room reverb, background noise.

Every function takes and returns 16 kHz mono float32 of the same length, so truth times stay exact (sox's
filters and rate changes are delay-compensated: measured lag under 1 ms). Noise is seeded.
"""

from __future__ import annotations

import random
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import make_fixtures as mf
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
NOISE_FLOOR_DB = -72.0


def write_wav(path: Path, audio: npt.NDArray[np.float32]) -> None:
    """16-bit mono at 16 kHz, written atomically (a ``.part`` file renamed into place)."""
    mf.write_wav(path, (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2"))


def _read_fitted(path: Path, n: int) -> npt.NDArray[np.float32]:
    """A 16-bit WAV as float32, cut or zero-padded to ``n`` samples."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, data.size)] = data[:n]
    return out


def _sox(
    audio: npt.NDArray[np.float32], effects: Sequence[str], out_args: Sequence[str] = ()
) -> npt.NDArray[np.float32]:
    """``audio`` through sox ``effects`` (and back to 16 kHz float32, same length)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, audio)
        mf.run_tool(["sox", "-V1", str(src), *out_args, str(dst), *effects])
        return _read_fitted(dst, audio.size)


def telephone(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """300–3400 Hz, mild compression, 8 kHz µ-law, back to 16 kHz (sox's filters are delay-compensated)."""
    with tempfile.TemporaryDirectory() as tmp:
        narrow = Path(tmp) / "narrow.wav"
        write_wav(Path(tmp) / "in.wav", audio)
        mf.run_tool(
            ["sox", "-V1", str(Path(tmp) / "in.wav"), "-r", "8000", "-e", "u-law", "-b", "8", str(narrow)]
            + ["sinc", "300-3400", "compand", "0.01,0.25", "-70,-70,-50,-44,-20,-16,0,-9", "0", "-90", "0"]
            + ["rate", "8000"]
        )
        back = Path(tmp) / "back.wav"
        mf.run_tool(
            ["sox", "-V1", str(narrow), "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", str(back), "rate", "16000"]
        )
        return _read_fitted(back, audio.size)


def reverb(audio: npt.NDArray[np.float32], seed: int) -> npt.NDArray[np.float32]:
    """A room: sox reverb (reverberance 40–70 %, room scale 60–100 %), dry and wet mixed, peak kept below 0 dBFS."""
    rng = random.Random(seed)
    effects = ["gain", "-6", "reverb", str(rng.randint(40, 70)), "50", str(rng.randint(60, 100)), "100", "10", "0"]
    out = _sox(audio, effects)
    return (out * 2.0).astype(np.float32)  # undo the headroom


def noise(kind: str, n: int, seed: int, babble_text: Sequence[str] = ()) -> npt.NDArray[np.float32]:
    """Seeded pink (1/f), brown (1/f²) or babble (eight espeak-ng talkers at once) noise, unit RMS."""
    rng = np.random.default_rng(seed)
    if kind == "babble":
        out = _babble(n, seed, babble_text)
    else:
        white = rng.standard_normal(n)
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        f[0] = f[1]
        shaped = spectrum / (np.sqrt(f) if kind == "pink" else np.maximum(f, 20.0))
        shaped[f < 20] = 0.0
        out = np.fft.irfft(shaped, n)
    out = out - out.mean()
    return (out / max(float(np.sqrt(np.mean(out**2))), 1e-12)).astype(np.float32)


def _babble(n: int, seed: int, babble_text: Sequence[str]) -> npt.NDArray[np.float64]:
    from make_fixtures import TURNS, Voice, speak

    rng = random.Random(seed)
    voices = ["en-us", "en+f3", "en-gb", "en+m3", "en-us+f2", "en+f4", "en-gb-scotland", "en+m7"]
    text = list(babble_text) or [t for _, t in TURNS]
    out = np.zeros(n)
    for index, name in enumerate(voices):
        talker = np.zeros(0)
        while talker.size < n:
            line = rng.choice(text)
            speech = speak(line, Voice(name, pitch=rng.randint(30, 70), speed=rng.randint(150, 180))).astype(np.float64)
            talker = np.concatenate([talker, speech / max(np.sqrt(np.mean(speech**2)), 1e-9), np.zeros(1600)])
        out += np.roll(talker[:n], index * 4000)
    return out


def mix_noise(
    clean: npt.NDArray[np.float32], turns: Sequence[dict[str, Any]], background: npt.NDArray[np.float32], snr_db: float
) -> npt.NDArray[np.float32]:
    """``clean`` plus ``background`` scaled so speech power inside the truth turns over noise power is ``snr_db``."""
    inside = np.zeros(clean.size, dtype=bool)
    for t in turns:
        inside[int(t["start"] * SAMPLE_RATE) : int(t["end"] * SAMPLE_RATE)] = True
    speech_power = float(np.mean(clean[inside].astype(np.float64) ** 2))
    noise_power = float(np.mean(background.astype(np.float64) ** 2))
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return (clean + background * scale).astype(np.float32)


def noise_floor(audio: npt.NDArray[np.float32], seed: int) -> npt.NDArray[np.float32]:
    floor = np.random.default_rng(seed).normal(0.0, 10 ** (NOISE_FLOOR_DB / 20), audio.size)
    return (audio + floor).astype(np.float32)
