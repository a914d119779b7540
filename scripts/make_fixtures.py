"""Generate synthetic audio fixtures for the engine tests (espeak-ng speech, edge-case files).

Usage: python scripts/make_fixtures.py OUTDIR

Outputs are cached: a file that already exists is not generated again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
GAP_S = 0.6
LEAD_S = 0.5

THERAPIST_VOICE = "en-us"
CLIENT_VOICE = "en+f3"

# Alternating turns of a short counselling conversation; the keywords are what tests look for.
TURNS: tuple[tuple[str, str], ...] = (
    ("THERAPIST", "Good morning. How have you been sleeping since our last session?"),
    ("CLIENT", "Not very well. I still wake up at night and worry about my work."),
    ("THERAPIST", "Did the breathing exercise help when you felt anxious?"),
    ("CLIENT", "Yes, it helped a little. I practised it every evening this week."),
    ("THERAPIST", "That is good progress. Please keep a sleep diary until next Tuesday."),
)
KEYWORDS: tuple[str, ...] = (
    "morning",
    "sleeping",
    "session",
    "night",
    "work",
    "breathing",
    "exercise",
    "anxious",
    "evening",
    "week",
    "progress",
    "diary",
    "tuesday",
)
VOICES = {"THERAPIST": THERAPIST_VOICE, "CLIENT": CLIENT_VOICE}


def make_two_speaker_session(out_dir: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A 16 kHz mono WAV of the two-voice conversation and its turns (speaker, text, start, end)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / "session_two_speakers.wav"
    turns_path = out_dir / "session_two_speakers.json"
    if wav_path.is_file() and turns_path.is_file():
        return wav_path, list(json.loads(turns_path.read_text(encoding="utf-8")))

    pieces: list[npt.NDArray[np.int16]] = [np.zeros(int(LEAD_S * SAMPLE_RATE), dtype=np.int16)]
    cursor = len(pieces[0])
    turns: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (speaker, text) in enumerate(TURNS):
            speech = _speak(text, VOICES[speaker], Path(tmp) / f"turn{index}.wav")
            start = cursor / SAMPLE_RATE
            pieces.append(speech)
            cursor += len(speech)
            turns.append({"speaker": speaker, "text": text, "start": start, "end": cursor / SAMPLE_RATE})
            gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.int16)
            pieces.append(gap)
            cursor += len(gap)
    write_wav(wav_path, np.concatenate(pieces))
    turns_path.write_text(json.dumps(turns, indent=2), encoding="utf-8")
    return wav_path, turns


def make_silence(out_dir: Path, seconds: float = 6.0) -> Path:
    """Near-silence: a faint noise floor (about -70 dBFS), as a quiet room recording would have."""
    path = out_dir / "silence.wav"
    if not path.is_file():
        rng = np.random.default_rng(7)
        noise = rng.normal(0.0, 10.0, int(seconds * SAMPLE_RATE))
        write_wav(path, noise.astype(np.int16))
    return path


def make_not_audio(out_dir: Path) -> Path:
    """Random bytes named .mp3."""
    path = out_dir / "not_audio.mp3"
    if not path.is_file():
        path.write_bytes(np.random.default_rng(11).bytes(64 * 1024))
    return path


def make_empty(out_dir: Path) -> Path:
    path = out_dir / "empty.wav"
    if not path.is_file():
        path.write_bytes(b"")
    return path


def make_truncated(out_dir: Path, source: Path) -> Path:
    """A WAV whose header declares the full data size but whose file holds only 40 % of it."""
    path = out_dir / "truncated.wav"
    if not path.is_file():
        data = source.read_bytes()
        path.write_bytes(data[: len(data) * 4 // 10])
    return path


def make_long(out_dir: Path, seconds: float = 180.0) -> Path:
    """Three minutes of low noise; tests pair it with a tiny duration limit."""
    path = out_dir / "long_noise.wav"
    if not path.is_file():
        rng = np.random.default_rng(3)
        write_wav(path, rng.normal(0.0, 30.0, int(seconds * SAMPLE_RATE)).astype(np.int16))
    return path


def make_zero_samples(out_dir: Path) -> Path:
    """A well-formed WAV header with no audio frames."""
    path = out_dir / "zero_samples.wav"
    if not path.is_file():
        write_wav(path, np.zeros(0, dtype=np.int16))
    return path


def make_stereo_44k(out_dir: Path, source: Path) -> Path:
    """The session as 44.1 kHz stereo, to exercise down-mixing and resampling."""
    path = out_dir / "session_stereo_44k.wav"
    if not path.is_file():
        with wave.open(str(source), "rb") as wf:
            mono = np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)
        resampled = _resample(mono, SAMPLE_RATE, 44100)
        stereo = np.stack([resampled, (resampled // 2).astype(np.int16)], axis=1)
        tmp = path.with_name(path.name + ".part")
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(2)
            wf.setsampwidth(2)
            wf.setframerate(44100)
            wf.writeframes(stereo.astype("<i2").tobytes())
        tmp.replace(path)
    return path


def make_no_audio_stream(out_dir: Path) -> Path:
    """A valid container holding only a (tiny) video stream."""
    path = out_dir / "video_only.mkv"
    if not path.is_file():
        import av

        with av.open(str(path), "w") as container:
            stream = container.add_stream("ffv1", rate=5)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            for i in range(5):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, dtype=np.uint8), format="rgb24")
                for packet in stream.encode(frame.reformat(format="yuv420p")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def convert(source: Path, dest: Path) -> Path:
    """Re-encode ``source`` by the extension of ``dest`` (mp3, ogg, flac, m4a, opus); cached."""
    if dest.is_file():
        return dest
    suffix = dest.suffix.lower()
    if suffix in (".ogg", ".flac") and shutil.which("sox"):
        run_tool(["sox", str(source), str(dest)])
        return dest
    codec, rate, fmt, container_format = {
        ".mp3": ("libmp3lame", 16000, "s16p", "mp3"),
        ".flac": ("flac", 16000, "s16", "flac"),
        ".m4a": ("aac", 16000, "fltp", "mp4"),
        ".ogg": ("libopus", 48000, "s16", "ogg"),
        ".opus": ("libopus", 48000, "s16", "ogg"),
    }[suffix]
    _encode(source, dest, codec, rate, fmt, container_format)
    return dest


def make_all(out_dir: Path) -> dict[str, Path]:
    """Every fixture the engine tests use, keyed by a short name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    session, _ = make_two_speaker_session(out_dir)
    files = {
        "session": session,
        "silence": make_silence(out_dir),
        "not_audio": make_not_audio(out_dir),
        "empty": make_empty(out_dir),
        "truncated": make_truncated(out_dir, session),
        "long": make_long(out_dir),
        "video_only": make_no_audio_stream(out_dir),
        "zero_samples": make_zero_samples(out_dir),
        "stereo_44k": make_stereo_44k(out_dir, session),
    }
    for ext in ("mp3", "ogg", "flac", "m4a"):
        files[ext] = convert(session, out_dir / f"session_two_speakers.{ext}")
    return files


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: a voice/variant name (``en-us``, ``en+f3``, ``en+klatt4``), pitch 0–99 and words/min."""

    name: str
    pitch: int = 50
    speed: int = 165

    def args(self) -> list[str]:
        return ["-v", self.name, "-p", str(self.pitch), "-s", str(self.speed)]

    def __str__(self) -> str:
        return f"{self.name} -p {self.pitch} -s {self.speed}"


SILENCE_AMPLITUDE = 64  # |sample| at or below this (about -54 dBFS) counts as silence when trimming


def speak(text: str, voice: Voice) -> npt.NDArray[np.int16]:
    """espeak-ng speech of ``text`` as 16 kHz mono int16, trimmed to its first and last audible sample."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is required to generate speech fixtures (apt install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "speech.wav"
        # Text goes through stdin so a line starting with '-' is never read as an option.
        subprocess.run(
            ["espeak-ng", *voice.args(), "-w", str(wav_path), "--stdin"],
            input=text.encode("utf-8"),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        with wave.open(str(wav_path), "rb") as wf:
            rate, channels = wf.getframerate(), wf.getnchannels()
            data = np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    audio = _resample(data, rate, SAMPLE_RATE)
    start, end = speech_extent(audio)
    return audio[start:end].copy()


def speech_extent(samples: npt.NDArray[np.int16], threshold: int = SILENCE_AMPLITUDE) -> tuple[int, int]:
    """``(first, last + 1)`` sample index above ``threshold``; ``(0, 0)`` for silence."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]), int(loud[-1]) + 1


def frame_levels_db(samples: npt.NDArray[np.int16], frame_s: float = 0.01) -> npt.NDArray[np.float64]:
    """RMS level of each ``frame_s`` frame in dBFS (full scale = 32768)."""
    frame = max(1, int(frame_s * SAMPLE_RATE))
    usable = len(samples) // frame * frame
    frames = samples[:usable].astype(np.float64).reshape(-1, frame) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, 1e-10)), dtype=np.float64)


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    """A 16-bit mono WAV's samples."""
    with wave.open(str(path), "rb") as wf:
        if wf.getnchannels() != 1 or wf.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16-bit mono")
        return np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)


def write_wav(path: Path, samples: npt.NDArray[np.int16]) -> None:
    """Write 16 kHz mono int16 atomically (a ``.part`` file renamed into place)."""
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(samples.astype("<i2").tobytes())
    tmp.replace(path)


def _speak(text: str, voice: str, wav_path: Path) -> npt.NDArray[np.int16]:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is required to generate speech fixtures (apt install espeak-ng)")
    run_tool(["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav_path), text])
    with wave.open(str(wav_path), "rb") as wf:
        rate = wf.getframerate()
        channels = wf.getnchannels()
        data = np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return _resample(data, rate, SAMPLE_RATE)


def _resample(data: npt.NDArray[np.int16], rate: int, target: int) -> npt.NDArray[np.int16]:
    if rate == target:
        return data
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16)


def _encode(source: Path, dest: Path, codec: str, rate: int, fmt: str, container_format: str) -> None:
    import av

    tmp = dest.with_name(dest.name + ".part")
    with av.open(str(source)) as inp, av.open(str(tmp), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
        for frame in inp.decode(audio=0):
            for chunk in resampler.resample(frame):
                for packet in stream.encode(chunk):
                    out.mux(packet)
        for chunk in resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.replace(dest)


def run_tool(cmd: list[str]) -> None:
    """Run an audio tool (sox, espeak-ng) quietly; its stderr is kept for the error when it fails."""
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    for name, path in make_all(Path(argv[1])).items():
        print(f"{name:12s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
