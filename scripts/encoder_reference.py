"""Write tests/engine/data/encoder_reference.json: the speaker encoder's output computed by PyTorch.

Run once in an environment that has torch (``pip install torch==2.13.0``); the test suite then checks that the
numpy encoder reproduces PyTorch's LSTM on the same input. The input is a fixed, seeded synthetic signal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def reference_signal() -> np.ndarray:
    rng = np.random.default_rng(20261125)
    t = np.arange(16000 * 2) / 16000
    voiced = 0.2 * np.sin(2 * np.pi * 140 * t) + 0.1 * np.sin(2 * np.pi * 280 * t + 0.3)
    return (voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def main() -> int:
    import torch

    from tbdesktop.engine.diarization import encoder as enc

    source = enc.encoder_source()
    assert source is not None, "pip install --no-deps resemblyzer==0.1.4 first"
    weights = enc.read_legacy_state_dict(source)
    lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
    linear = torch.nn.Linear(256, 256)
    lstm.load_state_dict({k[5:]: torch.tensor(v) for k, v in weights.items() if k.startswith("lstm.")})
    linear.load_state_dict(
        {"weight": torch.tensor(weights["linear.weight"]), "bias": torch.tensor(weights["linear.bias"])}
    )
    mels = enc.mel_frames(reference_signal())[: enc.PARTIAL_FRAMES]
    with torch.no_grad():
        _, (hidden, _) = lstm(torch.tensor(mels[None]))
        embed = torch.relu(linear(hidden[-1]))
        embed = embed / embed.norm(dim=1, keepdim=True)
    out = REPO_ROOT / "tests" / "engine" / "data" / "encoder_reference.json"
    out.write_text(json.dumps({"torch": torch.__version__, "embedding": embed[0].tolist()}), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
