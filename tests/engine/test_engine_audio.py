from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tbdesktop.engine import audio
from tbdesktop.engine.errors import AudioDecodeError, AudioTooLongError, Cancelled


@pytest.fixture(scope="module")
def session_duration(speech_fixtures: Any) -> float:
    return audio.probe(speech_fixtures["session"]).duration_s


@pytest.mark.parametrize(
    ("name", "codec", "channels", "rate"),
    [
        ("session", "pcm_s16le", 1, 16000),
        ("mp3", "mp3", 1, 16000),
        ("ogg", "vorbis", 1, 16000),
        ("flac", "flac", 1, 16000),
        ("m4a", "aac", 1, 16000),
        ("stereo_44k", "pcm_s16le", 2, 44100),
    ],
)
def test_probe_and_decode_each_format(
    speech_fixtures: Any, session_duration: float, name: str, codec: str, channels: int, rate: int
) -> None:
    info = audio.probe(speech_fixtures[name])
    assert info.codec.startswith(codec)
    assert (info.channels, info.sample_rate) == (channels, rate)
    assert info.duration_s == pytest.approx(session_duration, abs=0.15)

    samples = audio.decode(speech_fixtures[name])
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) / 16000 == pytest.approx(session_duration, abs=0.15)
    assert float(np.max(np.abs(samples))) <= 1.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    assert 0.03 < rms < 0.2  # normalised towards -20 dBFS


def test_decode_to_other_rate(speech_fixtures: Any, session_duration: float) -> None:
    samples = audio.decode(speech_fixtures["session"], sample_rate=8000, normalize=False)
    assert len(samples) / 8000 == pytest.approx(session_duration, abs=0.05)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("not_audio", "no audio could be decoded"),
        ("empty", "is empty"),
        ("video_only", "has no audio track"),
        ("zero_samples", "contains no audio"),
        ("truncated", "The recording is truncated or incomplete"),
    ],
)
def test_probe_rejects_bad_files(speech_fixtures: Any, name: str, fragment: str) -> None:
    with pytest.raises(AudioDecodeError) as info:
        audio.probe(speech_fixtures[name])
    assert fragment in info.value.message
    assert info.value.message.endswith((".", ")."))


def test_truncated_message_reports_durations(speech_fixtures: Any) -> None:
    with pytest.raises(AudioDecodeError, match=r"only \d+\.\d s of the \d+\.\d s"):
        audio.probe(speech_fixtures["truncated"])


@pytest.mark.parametrize("name", ["not_audio", "empty", "video_only"])
def test_decode_rejects_bad_files(speech_fixtures: Any, name: str) -> None:
    with pytest.raises(AudioDecodeError):
        audio.decode(speech_fixtures[name])


def test_probe_refuses_too_long(speech_fixtures: Any) -> None:
    with pytest.raises(AudioTooLongError) as info:
        audio.probe(speech_fixtures["long"], max_duration_s=30)
    assert info.value.limit_s == 30
    assert info.value.duration_s == pytest.approx(180, abs=1)
    assert "over the" in info.value.message
    # Within the limit the same file is accepted.
    assert audio.probe(speech_fixtures["long"], max_duration_s=600).duration_s == pytest.approx(180, abs=0.1)


def test_probe_refuses_too_long_without_header_duration(speech_fixtures: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(audio, "_header_duration", lambda container, stream: None)
    with pytest.raises(AudioTooLongError):
        audio.probe(speech_fixtures["long"], max_duration_s=30)


def test_probe_times_out(speech_fixtures: Any) -> None:
    with pytest.raises(AudioDecodeError, match="took longer than"):
        audio.probe(speech_fixtures["long"], timeout_s=0)


@pytest.mark.parametrize("raw", ["http://example.com/session.mp3", "pipe:0", "concat:a.wav|b.wav"])
def test_probe_rejects_urls_and_protocols(raw: str) -> None:
    with pytest.raises(AudioDecodeError, match="stored on this computer"):
        audio.probe(Path(raw))


def test_probe_rejects_missing_and_directories(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match="could not be found"):
        audio.probe(tmp_path / "missing.wav")
    with pytest.raises(AudioDecodeError, match="not a file"):
        audio.probe(tmp_path)


def test_probe_reads_local_file_with_colon_in_name(speech_fixtures: Any, tmp_path: Path) -> None:
    odd = tmp_path / "pipe:session.wav"
    odd.write_bytes(speech_fixtures["session"].read_bytes())
    assert audio.probe(odd).duration_s > 20


def test_silence_probes_and_stays_quiet(speech_fixtures: Any) -> None:
    assert audio.probe(speech_fixtures["silence"]).duration_s == pytest.approx(6.0, abs=0.01)
    samples = audio.decode(speech_fixtures["silence"])
    assert float(np.max(np.abs(samples))) < 0.01  # not amplified


def test_decode_can_be_cancelled(speech_fixtures: Any) -> None:
    with pytest.raises(Cancelled):
        audio.decode(speech_fixtures["long"], should_cancel=lambda: True)


def test_normalize_loudness_bounds() -> None:
    quiet = (0.01 * np.sin(np.linspace(0, 2000, 16000))).astype(np.float32)
    gain = audio.normalize_loudness(quiet)
    assert gain == pytest.approx(audio.MAX_GAIN)
    loud_peak = np.zeros(16000, dtype=np.float32)
    loud_peak[:100] = 0.5
    loud_peak[100] = 0.9
    audio.normalize_loudness(loud_peak)
    assert float(np.max(np.abs(loud_peak))) <= audio.PEAK_CEILING + 1e-6
    silent = np.zeros(16000, dtype=np.float32)
    assert audio.normalize_loudness(silent) == 1.0
    assert not np.any(silent)
    broken = np.array([np.nan, 0.2, -0.2, np.inf] * 4000, dtype=np.float32)
    audio.normalize_loudness(broken)
    assert np.all(np.isfinite(broken))


def test_random_bytes_named_like_audio_are_not_audio(tmp_path: Path) -> None:
    import os

    fake = tmp_path / "session.mp3"
    fake.write_bytes(os.urandom(200_000))
    with pytest.raises(AudioDecodeError, match="no audio could be decoded") as info:
        audio.probe(fake)
    assert "channels" not in info.value.message


def test_a_file_the_app_may_not_read_says_so(
    speech_fixtures: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal names the missing permission, not the content. (An administrator's account reads any file: there
    the operating system's refusal is stood in for.)"""
    import os
    import shutil

    locked = tmp_path / "locked.wav"
    shutil.copy(speech_fixtures["session"], locked)
    locked.chmod(0o000)
    if os.geteuid() == 0:
        real_open = Path.open

        def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == locked:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refuse)
    try:
        with pytest.raises(AudioDecodeError, match="no permission to read the file"):
            audio.probe(locked)
    finally:
        locked.chmod(0o600)


def test_a_wav_header_claiming_more_than_the_file_holds_reports_what_is_there(
    speech_fixtures: Any, tmp_path: Path
) -> None:
    import struct

    data = bytearray(speech_fixtures["session"].read_bytes())
    at = data.find(b"data")
    rate = struct.unpack("<I", data[28:32])[0]  # bytes per second
    struct.pack_into("<I", data, at + 4, rate * 600)  # ten minutes claimed
    lying = tmp_path / "lying.wav"
    lying.write_bytes(bytes(data))
    real = audio.probe(speech_fixtures["session"]).duration_s
    with pytest.raises(AudioDecodeError, match="truncated") as info:
        audio.probe(lying)
    assert f"only {real:.1f} s of the 600.0 s" in info.value.message
