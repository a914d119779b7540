"""Synthesise AnnoMI counselling dialogues to two-voice audio (espeak-ng) for `make bench` and `make eval`.

The dialogues are read from ../shared/eval/annomi/annomi-dev.csv (never copied into the repository).
Each turn's times cover exactly its audible speech (espeak-ng's leading and trailing silence is trimmed).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import wave
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

REPO_ROOT = SCRIPTS.parent
ANNOMI_CSV = REPO_ROOT.parent / "shared" / "eval" / "annomi" / "annomi-dev.csv"
SAMPLE_RATE = 16000
VOICES = {"therapist": "en-us", "client": "en+f3"}
SPEAKERS = {"therapist": "A", "client": "B"}
CACHE_VERSION = "v2"


def load_dialogues(path: Path = ANNOMI_CSV) -> dict[str, list[dict[str, str]]]:
    dialogues: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            dialogues[row["transcript_id"]].append(row)
    for rows in dialogues.values():
        rows.sort(key=lambda r: int(r["utterance_id"]))
    return dict(dialogues)


def clean_text(text: str) -> str:
    """An utterance as espeak-ng should read it: no [annotations], no dashes (they are cut-offs in AnnoMI)."""
    text = re.sub(r"\[.*?\]", " ", text)
    return re.sub(r"\s+", " ", text.replace("--", " ").replace("-", " ")).strip()


_clean = clean_text


def shorten(text: str, max_words: int) -> str:
    """At most ``max_words`` words, cut at the last sentence end inside the limit when there is one."""
    words = text.split()
    if len(words) <= max_words:
        return text
    head = " ".join(words[:max_words])
    cut = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    return head[: cut + 1] if cut > len(head) // 3 else head + "."


def synthesise(transcript_id: str, rows: list[dict[str, str]], out_dir: Path, max_seconds: float) -> Path:
    """A WAV of the dialogue up to about max_seconds, plus a JSON of the turns actually included.

    Turns carry ``start``/``end`` (audible speech only), ``speaker`` (A therapist, B client), ``role`` and
    ``text``.
    """
    from make_fixtures import Voice, speak

    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / f"annomi_{transcript_id}_{int(max_seconds)}s_{CACHE_VERSION}.wav"
    turns_path = wav_path.with_suffix(".json")
    if wav_path.is_file() and turns_path.is_file():
        return wav_path
    pieces = []
    turns = []
    cursor = 0
    gap = np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.int16)
    for row in rows:
        text = clean_text(row["utterance_text"])
        if not text:
            continue
        speech = speak(text, Voice(VOICES[row["interlocutor"]]))
        if speech.size == 0:
            continue
        pieces += [gap, speech]
        cursor += gap.size
        turns.append(
            {
                "start": round(cursor / SAMPLE_RATE, 4),
                "end": round((cursor + speech.size) / SAMPLE_RATE, 4),
                "speaker": SPEAKERS[row["interlocutor"]],
                "role": row["interlocutor"],
                "text": text,
            }
        )
        cursor += speech.size
        if cursor / SAMPLE_RATE >= max_seconds:
            break
    pieces.append(gap)
    tmp = wav_path.with_name(wav_path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.concatenate(pieces).astype("<i2").tobytes())
    tmp.replace(wav_path)
    turns_path.write_text(json.dumps(turns, indent=1), encoding="utf-8")
    return wav_path


def turns_for(wav_path: Path) -> list[dict[str, Any]]:
    return list(json.loads(wav_path.with_suffix(".json").read_text(encoding="utf-8")))


def truth_for(wav_path: Path) -> dict[str, Any]:
    """The eval truth dict (see eval_fixtures) of a synthesised dialogue."""
    turns = turns_for(wav_path)
    with wave.open(str(wav_path), "rb") as w:
        duration = w.getnframes() / w.getframerate()
    roles = {t["speaker"]: t["role"] for t in turns}
    return {
        "name": wav_path.stem,
        "kind": "annomi",
        "duration_s": duration,
        "roles": roles,
        "voices": {SPEAKERS[r]: v for r, v in VOICES.items() if SPEAKERS[r] in roles},
        "source": f"AnnoMI transcript {wav_path.stem.split('_')[1]}",
        "turns": turns,
    }
