"""Hostile and unusual inputs through the real pipeline: each processes correctly or fails with a clear reason.

The inputs are built here from the generated two-voice session: multichannel, very high sample rate, very
short, hours of near-silence, damaged and empty files, remote and linked media.
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine import audio
from tbdesktop.engine.errors import AudioDecodeError, EngineError
from tbdesktop.engine.types import PipelineResult

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / ".cache" / "fixtures" / "robustness"


def _write(path: Path, samples: np.ndarray, rate: int) -> Path:
    data = np.clip(samples, -1, 1)
    pcm = (data * 32767).astype("<i2")
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    positions = np.arange(int(len(x) * rate / 16000)) * 16000 / rate
    return np.interp(positions, np.arange(len(x)), x).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(speech_fixtures: Any) -> dict[str, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    speech = audio.decode(speech_fixtures["session"], normalize=False)
    files: dict[str, Path] = {}

    path = OUT / "eight_channels_48k.wav"
    if not path.is_file():
        voice = _resample(speech, 48000)
        multi = np.zeros((voice.size, 8), dtype=np.float32)
        multi[:, 0] = voice  # the lapel microphone; the other seven channels are near-silent
        multi[:, 1:] = 0.001 * np.random.default_rng(1).standard_normal((voice.size, 7))
        _write(path, multi, 48000)
    files["eight_channels"] = path

    path = OUT / "speech_192k.wav"
    if not path.is_file():
        _write(path, _resample(speech, 192000), 192000)
    files["rate_192k"] = path

    path = OUT / "very_short.wav"
    if not path.is_file():
        _write(path, speech[int(0.5 * 16000) : int(1.3 * 16000)], 16000)  # 0.8 s: "Good morning"
    files["very_short"] = path

    path = OUT / "three_hours_mostly_silence.flac"
    if not path.is_file():
        clip = OUT / "clip.wav"
        _write(clip, speech, 16000)
        # 90 min of silence, the conversation, 90 min of silence: sox streams it, nothing large in memory
        subprocess.run(
            ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(OUT / "half.flac"), "trim", "0", "5400"],
            check=True,
        )
        subprocess.run(["sox", str(OUT / "half.flac"), str(clip), str(OUT / "half.flac"), str(path)], check=True)
        (OUT / "half.flac").unlink()
    files["three_hours"] = path

    path = OUT / "sixty_four_channels.wav"
    if not path.is_file():
        _write(path, np.zeros((16000, 64), dtype=np.float32), 16000)
    files["sixty_four_channels"] = path

    path = OUT / "corrupt.wav"
    if not path.is_file():
        path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 40)
    files["corrupt"] = path

    path = OUT / "playlist.m3u8"
    path.write_text(f"#EXTM3U\n#EXTINF:24,\n{speech_fixtures['session']}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    files["playlist"] = path
    return files


def _words(result: PipelineResult) -> set[str]:
    return set(re.findall(r"[a-z']+", " ".join(s.text for s in result.segments).lower()))


def test_eight_channel_recording_is_mixed_down_and_transcribed(pipeline: Any, inputs: dict[str, Path]) -> None:
    result = pipeline.run(inputs["eight_channels"])
    assert {"breathing", "diary"} <= _words(result)
    assert len(result.speakers) == 2


def test_192_khz_recording_is_resampled_and_transcribed(pipeline: Any, inputs: dict[str, Path]) -> None:
    result = pipeline.run(inputs["rate_192k"])
    assert result.duration_s == pytest.approx(24.2, abs=1.5)
    assert {"breathing", "diary"} <= _words(result)


def test_very_short_recording_processes(pipeline: Any, inputs: dict[str, Path]) -> None:
    result = pipeline.run(inputs["very_short"])
    assert result.duration_s < 1.0
    assert len(result.speakers) <= 1
    for segment in result.segments:
        assert 0 <= segment.start <= segment.end <= result.duration_s


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024
    return 0.0


def test_three_hours_of_mostly_silence(pipeline: Any, inputs: dict[str, Path]) -> None:
    before = _rss_mb()  # this test process also holds whatever earlier tests loaded
    events: list[tuple[str, float]] = []
    result = pipeline.run(inputs["three_hours"], on_progress=lambda s, f, e: events.append((s, f)))
    assert result.duration_s == pytest.approx(3 * 3600 + 24.2, abs=2)
    assert result.segments, "the conversation in the middle is found"
    assert all(5390 < s.start and s.end < 5435 for s in result.segments), "nothing invented in the silence"
    assert {"breathing", "diary"} <= _words(result)
    assert [s.role for s in result.speakers] == ["therapist", "client"]
    # 3 h of 16 kHz float32 is 660 MiB: the coordinator holds it once, with no second copy
    assert result.peak_rss_mb["main"] - before < 1000
    assert result.peak_rss_mb["asr"] < 1500 and result.peak_rss_mb["diarization"] < 1000


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("corrupt", r"no audio could be decoded|damaged"),
        ("sixty_four_channels", r"unsupported number of audio channels \(64\)"),
        ("playlist", r"Playlists and linked media|no audio could be decoded"),
    ],
)
def test_unusable_inputs_fail_with_a_clear_reason(
    pipeline: Any, inputs: dict[str, Path], name: str, message: str
) -> None:
    with pytest.raises(AudioDecodeError, match=message) as info:
        pipeline.run(inputs[name])
    assert len(info.value.message) < 200 and "Traceback" not in info.value.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "empty"),
        ("zero_samples", "contains no audio"),
        ("truncated", "truncated"),
        ("video_only", "no audio track"),
        ("not_audio", "no audio could be decoded"),
    ],
)
def test_damaged_fixtures_fail_with_a_clear_reason(
    pipeline: Any, speech_fixtures: Any, name: str, message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        pipeline.run(speech_fixtures[name])


def test_remote_addresses_are_refused(pipeline: Any) -> None:
    for url in ("http://example.org/session.wav", "rtsp://camera.local/stream", "concat:a.wav|b.wav"):
        with pytest.raises(AudioDecodeError, match="stored on this computer|could not be found"):
            pipeline.run(Path(url))


def test_decoding_has_a_wall_clock_limit(inputs: dict[str, Path]) -> None:
    with pytest.raises(AudioDecodeError, match="longer than"):
        audio.load(inputs["three_hours"], timeout_s=0.0)


def test_the_pipeline_keeps_working_after_each_failure(pipeline: Any, speech_fixtures: Any) -> None:
    for name in ("empty", "truncated", "not_audio"):
        with pytest.raises(EngineError):
            pipeline.run(speech_fixtures[name])
    assert _words(pipeline.run(speech_fixtures["session"])) >= {"breathing"}
