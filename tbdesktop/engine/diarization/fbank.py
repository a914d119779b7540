"""Kaldi-style log mel filterbank in numpy, as CAM++ was trained on (``torchaudio.compliance.kaldi.fbank``).

80 bins, 25 ms frames every 10 ms with ``snip_edges`` (a frame depends only on its own 400 samples, so
frames of a whole speech region can be sliced into windows), no dither, DC offset removed, pre-emphasis
0.97, povey window, 512-point FFT, power spectrum, mel bins from 20 Hz to the Nyquist frequency, natural log.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
_EPS = float(np.finfo(np.float32).eps)
_BLOCK = 2048  # frames per block: the temporary spectrum of a long region stays small


def _mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1127.0 * np.log1p(hz / 700.0)
    return out


def mel_banks() -> npt.NDArray[np.float32]:
    """Triangular filters on the mel scale, (80, 257); the Nyquist bin has no weight, as in Kaldi."""
    low, high = _mel(np.array(LOW_HZ)), _mel(np.array(SAMPLE_RATE / 2))
    delta = (high - low) / (N_MELS + 1)
    edges = low + delta * np.arange(N_MELS + 2)
    fft_mel = _mel(np.arange(N_FFT // 2, dtype=np.float64) * (SAMPLE_RATE / N_FFT))[None, :]
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (fft_mel - left) / (centre - left)
    down = (right - fft_mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)


_BANKS = mel_banks()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85  # povey


def num_frames(samples: int) -> int:
    return 0 if samples < FRAME else 1 + (samples - FRAME) // HOP


def fbank(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Log mel frames of float audio in [-1, 1], shape (frames, 80); no frame for audio under 25 ms."""
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    count = num_frames(samples.shape[0])
    out = np.empty((count, N_MELS), dtype=np.float32)
    for start in range(0, count, _BLOCK):
        stop = min(start + _BLOCK, count)
        frames = np.lib.stride_tricks.sliding_window_view(samples[start * HOP : (stop - 1) * HOP + FRAME], FRAME)
        frames = frames[::HOP] - frames[::HOP].mean(axis=1, keepdims=True)
        emphasised = np.empty_like(frames)
        emphasised[:, 1:] = frames[:, 1:] - PREEMPHASIS * frames[:, :-1]
        emphasised[:, 0] = frames[:, 0] * (1.0 - PREEMPHASIS)
        spectrum = np.fft.rfft(emphasised * _WINDOW, n=N_FFT, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        out[start:stop] = np.log(np.maximum(power @ _BANKS.T.astype(np.float64), _EPS))
    return out
