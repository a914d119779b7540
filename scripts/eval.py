"""`make eval`: transcription accuracy (WER) on AnnoMI counselling dialogues synthesised with two voices.

Reads ../shared/eval/annomi/annomi-dev.csv when it exists (skips otherwise). Speaker-role accuracy joins this
report once diarization lands.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import annomi_audio  # noqa: E402

_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "ten": "10"}


def normalise(text: str) -> list[str]:
    text = text.lower().replace("'", "")
    words = re.findall(r"[a-z0-9]+", text)
    return [_NUMBERS.get(w, w) for w in words if w not in {"um", "uh", "mm", "hmm"}]


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per dialogue")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not annomi_audio.ANNOMI_CSV.is_file():
        print(f"skipped: {annomi_audio.ANNOMI_CSV} not found")
        return 0
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tbdesktop.config import load_settings
    from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

    pipeline = Pipeline(PipelineOptions(cache_dir=load_settings().cache_dir, language="en"))
    dialogues = annomi_audio.load_dialogues()
    chosen = sorted(dialogues, key=int)[: args.dialogues]
    rows = []
    errors = total = 0
    for tid in chosen:
        wav = annomi_audio.synthesise(tid, dialogues[tid], REPO_ROOT / ".cache" / "eval", args.seconds)
        ref = normalise(" ".join(t["text"] for t in annomi_audio.turns_for(wav)))
        result = pipeline.run(wav)
        hyp = normalise(" ".join(s.text for s in result.segments))
        e, n = wer(ref, hyp)
        errors, total = errors + e, total + n
        rows.append({"transcript_id": tid, "topic": dialogues[tid][0]["topic"], "words": n, "wer": e / max(n, 1)})
    report = {"dialogues": rows, "wer": errors / max(total, 1), "words": total}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for r in rows:
        print(f"AnnoMI {r['transcript_id']:>4} {r['topic'][:40]:40} {r['words']:5d} words  WER {r['wer']:.3f}")
    print(f"Overall WER {report['wer']:.3f} over {total} words (espeak-ng voices, Whisper base int8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
