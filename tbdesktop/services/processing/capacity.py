"""How many jobs run at once on this workstation, and how many threads each one's transcription gets.

A job on the CPU uses every core (transcription with all but one, speaker separation beside it), so two jobs at
once on a small machine only share the same cores and finish later each. Several at once pay off where the work
does not all sit on the same cores: a GPU transcribes while the CPU decodes and separates speakers; a remote
transcription service waits on the network; a workstation with many cores gives each job a share of at least four
(below that a second job slows both). Memory is checked too: each job holds its models and decoded audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tbdesktop.config import Settings

MIN_CORES_PER_JOB = 4
JOB_MEMORY_GB = 1.6  # peak of one job on a 60-minute recording with `base` (make bench), with headroom
MAX_JOBS = 4


@dataclass(frozen=True)
class Capacity:
    jobs: int
    asr_threads: int  # 0: the engine's own choice (every core but one)
    reason: str


def available_memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return None


def plan(
    requested: int,
    *,
    cores: int | None = None,
    memory_gb: float | None = None,
    gpu: bool = False,
    remote_asr: bool = False,
    asr_threads: int = 0,
) -> Capacity:
    """``requested`` > 0 is the number the settings (TB_WORKERS) ask for; 0 lets the workstation decide."""
    cores = cores or os.cpu_count() or 1
    by_memory = MAX_JOBS if memory_gb is None else max(int(memory_gb // JOB_MEMORY_GB), 1)
    if requested > 0:
        jobs, reason = requested, "set in the settings"
    elif remote_asr:
        jobs, reason = min(3, MAX_JOBS), "transcription by a remote service"
    elif gpu:
        jobs, reason = 2, "transcription on the GPU, decoding and speaker separation on the CPU"
    else:
        jobs = max(min(cores // MIN_CORES_PER_JOB, MAX_JOBS), 1)
        reason = f"{cores} CPU cores"
    if jobs > by_memory:
        jobs, reason = by_memory, f"{reason}; limited by free memory"
    threads = asr_threads
    if jobs > 1 and not asr_threads and not gpu and not remote_asr:
        threads = max(cores // jobs - 1, 1)  # each job's share, one core of it left to speaker separation
    return Capacity(jobs, threads, reason)


def has_gpu(device: str) -> bool:
    """Whether transcription will run on a GPU, told from the driver without loading the speech runtime into the
    app's process (the engine workers load it)."""
    if device == "cpu":
        return False
    if device == "cuda":
        return True
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir():
        return any(gpus.iterdir())
    if os.name == "nt":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None
    return False


def for_settings(settings: Settings, requested: int | None = None) -> Capacity:
    """The plan for this workstation with these settings (``requested`` overrides ``settings.workers``)."""
    jobs = settings.workers if requested is None else requested
    remote = settings.asr_backend == "openai"
    return plan(
        int(jobs or 0),
        memory_gb=available_memory_gb(),
        gpu=not remote and not jobs and has_gpu(settings.asr_device),
        remote_asr=remote,
        asr_threads=settings.asr_threads,
    )
