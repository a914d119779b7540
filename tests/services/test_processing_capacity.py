"""How many jobs run at once: one where they would share the same cores, more where the work spreads."""

from __future__ import annotations

from tbdesktop.services.processing.capacity import JOB_MEMORY_GB, plan


def test_a_small_cpu_workstation_runs_one_job_at_a_time() -> None:
    for cores in (1, 2, 4 - 1):
        cap = plan(0, cores=cores, memory_gb=24.0)
        assert cap.jobs == 1 and cap.asr_threads == 0


def test_many_cores_run_several_jobs_each_with_its_share_of_threads() -> None:
    cap = plan(0, cores=16, memory_gb=64.0)
    assert cap.jobs == 4 and cap.asr_threads == 3  # four cores each: three transcribe, one separates speakers
    assert plan(0, cores=8, memory_gb=64.0).jobs == 2


def test_a_gpu_or_a_remote_service_overlaps_jobs() -> None:
    assert plan(0, cores=2, memory_gb=24.0, gpu=True).jobs == 2
    assert plan(0, cores=2, memory_gb=24.0, gpu=True).asr_threads == 0
    assert plan(0, cores=2, memory_gb=24.0, remote_asr=True).jobs == 3


def test_free_memory_limits_the_jobs() -> None:
    cap = plan(0, cores=32, memory_gb=JOB_MEMORY_GB * 2.5)
    assert cap.jobs == 2 and "memory" in cap.reason
    assert plan(0, cores=32, memory_gb=0.5).jobs == 1


def test_the_setting_wins_and_explicit_threads_are_kept() -> None:
    cap = plan(3, cores=2, memory_gb=24.0)
    assert cap.jobs == 3 and cap.reason == "set in the settings"
    assert plan(2, cores=8, memory_gb=24.0, asr_threads=2).asr_threads == 2
    assert plan(2, cores=8, memory_gb=24.0).asr_threads == 3


def test_the_gpu_question_follows_the_device_setting() -> None:
    from tbdesktop.services.processing.capacity import has_gpu

    assert has_gpu("cpu") is False and has_gpu("cuda") is True
