"""Synthesise AnnoMI counselling dialogues to two-voice audio (espeak-ng) for `make bench` and `make eval`.

The dialogues are read from ../shared/eval/annomi/annomi-dev.csv (never copied into the repository).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import tempfile
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
ANNOMI_CSV = REPO_ROOT.parent / "shared" / "eval" / "annomi" / "annomi-dev.csv"
SAMPLE_RATE = 16000
VOICES = {"therapist": "en-us", "client": "en+f3"}


def load_dialogues(path: Path = ANNOMI_CSV) -> dict[str, list[dict[str, str]]]:
    dialogues: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            dialogues[row["transcript_id"]].append(row)
    for rows in dialogues.values():
        rows.sort(key=lambda r: int(r["utterance_id"]))
    return dict(dialogues)


def _clean(text: str) -> str:
    text = re.sub(r"\[.*?\]", " ", text)
    return re.sub(r"\s+", " ", text.replace("--", " ").replace("-", " ")).strip()


def _speak(text: str, voice: str, tmp: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    raw = tmp / "u.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
    out = tmp / "u16.wav"
    subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)], check=True)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def synthesise(transcript_id: str, rows: list[dict[str, str]], out_dir: Path, max_seconds: float) -> Path:
    """A WAV of the dialogue up to about max_seconds, plus a JSON of the turns actually included."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / f"annomi_{transcript_id}_{int(max_seconds)}s.wav"
    turns_path = wav_path.with_suffix(".json")
    if wav_path.is_file() and turns_path.is_file():
        return wav_path
    pieces = []
    turns = []
    cursor = 0
    gap = np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            text = _clean(row["utterance_text"])
            if not text:
                continue
            speech = _speak(text, VOICES[row["interlocutor"]], Path(tmp))
            turns.append(
                {
                    "role": row["interlocutor"],
                    "text": text,
                    "start": cursor / SAMPLE_RATE,
                    "end": (cursor + len(speech)) / SAMPLE_RATE,
                }
            )
            pieces += [speech, gap]
            cursor += len(speech) + len(gap)
            if cursor / SAMPLE_RATE >= max_seconds:
                break
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.concatenate(pieces).tobytes())
    turns_path.write_text(json.dumps(turns, indent=1), encoding="utf-8")
    return wav_path


def turns_for(wav_path: Path) -> list[dict[str, Any]]:
    return list(json.loads(wav_path.with_suffix(".json").read_text(encoding="utf-8")))
