"""The pyannote diarization backend: model-directory errors and plumbing everywhere, a real pipeline run where
pyannote.audio is installed (an offline model directory built by scripts/make_pyannote_model_dir.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from polling import heartbeats, poll

from tbdesktop.engine.diarization import pyannote_backend as pb
from tbdesktop.engine.errors import Cancelled, ModelError
from tbdesktop.engine.types import DiarizationResult

REPO_ROOT = Path(__file__).resolve().parents[2]
THREAD_NAME = "pyannote-diarize"


# -- the model directory: checked before pyannote is imported, so these run everywhere -------------------------


def test_unset_model_dir_names_the_variable() -> None:
    for value in (None, "", Path("")):
        with pytest.raises(ModelError, match="TB_PYANNOTE_MODEL_DIR is not set"):
            pb.PyannoteDiarizer(value)


def test_missing_model_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelError, match="TB_PYANNOTE_MODEL_DIR points to .*nowhere, which does not exist"):
        pb.PyannoteDiarizer(missing)


def test_model_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("pipeline: {}\n", encoding="utf-8")
    with pytest.raises(ModelError, match="is not a directory"):
        pb.PyannoteDiarizer(file)


def test_model_dir_without_config(tmp_path: Path) -> None:
    (tmp_path / "segmentation").mkdir()
    with pytest.raises(ModelError, match=r"TB_PYANNOTE_MODEL_DIR \(.*\) does not contain config.yaml") as info:
        pb.PyannoteDiarizer(tmp_path)
    assert str(tmp_path) in info.value.message


def test_missing_pyannote_is_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.yaml").write_text("pipeline: {name: x}\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # import fails as if it were not installed
    with pytest.raises(ModelError, match="pyannote.audio is not installed; install the 'pyannote' extra"):
        pb.PyannoteDiarizer(tmp_path)


def test_config_checkpoints_resolve_inside_the_model_dir(tmp_path: Path) -> None:
    (tmp_path / "segmentation").mkdir()
    (tmp_path / "embedding").mkdir()
    (tmp_path / "embedding" / "pytorch_model.bin").write_bytes(b"")
    (tmp_path / "plda").mkdir()
    config: dict[str, Any] = {
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "embedding": "embedding/pytorch_model.bin",  # relative: read against the model dir
                "plda": str(tmp_path / "plda"),
                "clustering": "VBxClustering",
            },
        },
        "params": {"clustering": {"threshold": 0.6}},
    }
    resolved = pb.resolve_config(config, tmp_path)
    params = resolved["pipeline"]["params"]
    assert params["segmentation"] == {"checkpoint": str(tmp_path / "segmentation")}
    assert params["embedding"] == {"checkpoint": str(tmp_path / "embedding" / "pytorch_model.bin")}
    assert params["plda"] == {"checkpoint": str(tmp_path / "plda")}
    assert params["clustering"] == "VBxClustering"
    assert resolved["params"] == config["params"]
    assert config["pipeline"]["params"]["segmentation"] == "$model/segmentation"  # the input is not changed


def test_hub_ids_in_config_are_refused(tmp_path: Path) -> None:
    config = {
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {"segmentation": "pyannote/segmentation-3.0"},
        }
    }
    with pytest.raises(ModelError, match="names 'pyannote/segmentation-3.0' for segmentation.*does not exist"):
        pb.resolve_config(config, tmp_path)
    no_plda = {
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {"segmentation": str(tmp_path), "embedding": str(tmp_path)},
        }
    }
    with pytest.raises(ModelError, match="does not name a plda checkpoint"):
        pb.resolve_config(no_plda, tmp_path)
    with pytest.raises(ModelError, match="not a pyannote pipeline config"):
        pb.resolve_config({"version": 3}, tmp_path)


# -- result conversion ----------------------------------------------------------------------------------------


def test_turns_are_exclusive_sorted_and_renamed_by_first_appearance() -> None:
    tracks = [
        (5.0, 7.0, "B"),
        (0.5, 2.0, "C"),
        (1.5, 3.0, "B"),  # overlaps C: starts where C ends
        (3.0, 4.0, "B"),  # touches the previous B turn: merged
        (6.5, 9.0, "C"),
        (9.0, 9.0005, "A"),  # too short to keep
        (11.0, 13.0, "A"),  # past the end: clipped
    ]
    result = pb.to_result(tracks, duration=12.0)
    assert [(t.start, t.end, t.speaker) for t in result.turns] == [
        (0.5, 2.0, "SPEAKER_00"),
        (2.0, 4.0, "SPEAKER_01"),
        (5.0, 7.0, "SPEAKER_01"),
        (7.0, 9.0, "SPEAKER_00"),
        (11.0, 12.0, "SPEAKER_02"),
    ]
    assert result.speakers == ("SPEAKER_00", "SPEAKER_01", "SPEAKER_02")
    _assert_well_formed(result, 12.0)


def test_turns_are_cut_to_the_speech_regions() -> None:
    tracks = [(0.0, 4.0, "X"), (4.0, 8.0, "Y"), (8.5, 9.5, "Z")]
    result = pb.to_result(tracks, duration=10.0, regions=[(3.0, 5.0), (1.0, 2.0), (6.0, 7.0)])
    assert [(t.start, t.end, t.speaker) for t in result.turns] == [
        (1.0, 2.0, "SPEAKER_00"),
        (3.0, 4.0, "SPEAKER_00"),
        (4.0, 5.0, "SPEAKER_01"),
        (6.0, 7.0, "SPEAKER_01"),
    ]
    assert result.speakers == ("SPEAKER_00", "SPEAKER_01")  # Z spoke only outside the regions


# -- the run loop, with a stand-in pipeline ----------------------------------------------------------------------


class _FakePipeline:
    """Calls the hook like pyannote's SpeakerDiarization does; with ``pace``, batch ``n`` ends once ``pace(n)``
    returns."""

    def __init__(
        self,
        batches: int = 4,
        error: Exception | None = None,
        pace: Callable[[int], object] | None = None,
    ) -> None:
        self.batches = batches
        self.error = error
        self.pace = pace
        self.completed = 0
        self.calls: list[dict[str, Any]] = []
        self.finished = threading.Event()
        self.devices: list[Any] = []

    def to(self, device: Any) -> _FakePipeline:
        self.devices.append(device)
        return self

    def __call__(self, file: dict[str, Any], hook: Callable[..., None], **kwargs: Any) -> Any:
        self.calls.append({"file": file, **kwargs})
        try:
            hook("segmentation", None, file=file, total=1, completed=0)
            hook("segmentation", None, file=file, total=1, completed=1)
            hook("segmentation", "artifact", file=file)
            if self.error is not None:
                raise self.error
            for batch in range(self.batches):
                if self.pace is not None:
                    self.pace(batch)
                self.completed = batch + 1
                hook("embeddings", None, file=file, total=self.batches, completed=batch + 1)
            hook("discrete_diarization", "artifact", file=file)
        finally:
            self.finished.set()
        seconds = file["waveform"].shape[-1] / pb.SAMPLE_RATE
        tracks = [(0.2, seconds / 2, "spk_b"), (seconds / 2, seconds, "spk_a")]
        annotation = SimpleNamespace(
            itertracks=lambda yield_label: iter((SimpleNamespace(start=s, end=e), "_", label) for s, e, label in tracks)
        )
        return SimpleNamespace(exclusive_speaker_diarization=annotation, speaker_diarization=None)


def _pyannote_audio() -> ModuleType:
    """pyannote.audio, which `make test-deps` installs: without it the backend would go untested."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchcodec's decoder is never used: audio is handed over in memory
            return importlib.import_module("pyannote.audio")
    except ImportError as exc:
        pytest.fail(
            f"pyannote.audio cannot be imported ({exc}): run `make test-deps` "
            "(scripts/pyannote-test-env.sh installs it next to the CPU build of torch)."
        )


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[_FakePipeline], pb.PyannoteDiarizer]:
    """Diarizers built by the real constructor from a model directory, pyannote's loader handing over the
    stand-in pipeline instead of reading checkpoints."""
    pipeline_cls = _pyannote_audio().Pipeline
    (tmp_path / "config.yaml").write_text("pipeline:\n  name: tests.StandInPipeline\n", encoding="utf-8")

    def build(pipeline: _FakePipeline) -> pb.PyannoteDiarizer:
        monkeypatch.setattr(pipeline_cls, "from_pretrained", staticmethod(lambda config: pipeline))
        diarizer = pb.PyannoteDiarizer(tmp_path, device="cpu")
        assert [str(d) for d in pipeline.devices] == ["cpu"]
        return diarizer

    return build


def test_speaker_counts_reach_the_pipeline(stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer]) -> None:
    pipeline = _FakePipeline()
    diarizer = stand_in(pipeline)
    audio = np.zeros(16000 * 4, dtype=np.float32)
    diarizer.diarize(audio, num_speakers=3, min_speakers=2, max_speakers=5)
    diarizer.diarize(audio, min_speakers=2, max_speakers=4, speakers_hint=3)
    diarizer.diarize(audio, min_speakers=0, max_speakers=0)
    assert [{k: v for k, v in c.items() if k != "file"} for c in pipeline.calls] == [
        {"num_speakers": 3},
        {"min_speakers": 2, "max_speakers": 4},
        {"min_speakers": 1, "max_speakers": 1},
    ]
    file = pipeline.calls[0]["file"]
    assert file["sample_rate"] == 16000
    assert tuple(file["waveform"].shape) == (1, 16000 * 4)


def test_result_from_the_pipeline_is_normalised(stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer]) -> None:
    result = stand_in(_FakePipeline()).diarize(np.zeros(16000 * 4, dtype=np.float32))
    assert [(t.start, t.end, t.speaker) for t in result.turns] == [(0.2, 2.0, "SPEAKER_00"), (2.0, 4.0, "SPEAKER_01")]
    assert result.speakers == ("SPEAKER_00", "SPEAKER_01")


def test_no_speech_skips_the_pipeline(stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer]) -> None:
    pipeline = _FakePipeline()
    events: list[tuple[str, float, float | None]] = []
    diarizer = stand_in(pipeline)
    assert diarizer.diarize(np.zeros(16000, dtype=np.float32), regions=[]) == DiarizationResult((), ())
    assert diarizer.diarize(np.zeros(0, dtype=np.float32), on_progress=lambda *e: events.append(e)) == (
        DiarizationResult((), ())
    )
    assert not pipeline.calls
    assert events[-1] == ("diarizing", 1.0, 0.0)


def test_heartbeat_reports_while_the_pipeline_works(
    monkeypatch: pytest.MonkeyPatch, stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer]
) -> None:
    monkeypatch.setattr(pb, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(pb, "POLL_S", 0.01)
    events: list[tuple[str, float, float | None]] = []
    # Batch n ends once the caller has heard 2 (n + 1) heartbeats (or after 10 s: then the count below fails).
    pipeline = _FakePipeline(batches=3, pace=lambda n: poll(lambda: heartbeats(events) >= 2 * (n + 1), 10.0))
    stand_in(pipeline).diarize(np.zeros(16000 * 4, dtype=np.float32), on_progress=lambda *e: events.append(e))
    assert {stage for stage, _, _ in events} == {"diarizing"}
    fractions = [f for _, f, _ in events]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert any(0.1 < f < 0.95 for f in fractions)  # the embedding batches move the bar
    assert heartbeats(events) >= 6, events  # several reports per batch, not just one per hook call
    assert len(events) >= 3 * 3
    assert all(e is not None and e >= 0 for _, f, e in events if f >= 0.1)


def test_cancel_returns_before_the_pipeline_finishes(
    stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer],
) -> None:
    asked = threading.Event()

    def should_cancel() -> bool:  # cancelled once the pipeline is at work: a batch is done
        if pipeline.completed >= 1:
            asked.set()
        return asked.is_set()

    # Batches after the first end only once the cancel has been seen (or after 10 s: then the counts below fail).
    pipeline = _FakePipeline(batches=20, pace=lambda n: n == 0 or asked.wait(10))
    diarizer = stand_in(pipeline)
    with pytest.raises(Cancelled):
        diarizer.diarize(np.zeros(16000 * 4, dtype=np.float32), should_cancel=should_cancel)
    assert pipeline.finished.is_set()  # the helper stopped at its next hook call, long before batch 20
    assert pipeline.completed < pipeline.batches
    assert len(pipeline.calls) == 1
    assert not _helper_threads()


def test_pipeline_errors_reach_the_caller_as_model_errors(
    stand_in: Callable[[_FakePipeline], pb.PyannoteDiarizer],
) -> None:
    pipeline = _FakePipeline(error=RuntimeError("CUDA out of memory"))
    with pytest.raises(ModelError, match="failed while diarizing.*RuntimeError: CUDA out of memory") as info:
        stand_in(pipeline).diarize(np.zeros(16000, dtype=np.float32))
    assert isinstance(info.value.__cause__, RuntimeError)


def test_importing_the_backend_stays_light() -> None:
    code = (
        "import sys, tbdesktop.engine.diarization.pyannote_backend; "
        "heavy = {'torch', 'pyannote', 'pyannote.audio', 'PySide6', 'sqlalchemy'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- a real pyannote.audio pipeline on real speech -------------------------------------------------------------


@pytest.fixture(scope="module")
def pyannote_model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    _pyannote_audio()
    spec = importlib.util.spec_from_file_location(
        "tb_make_pyannote", REPO_ROOT / "scripts" / "make_pyannote_model_dir.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("pyannote_model")
    origin = module.make_model_dir(out)
    return out, origin


@pytest.fixture(scope="module")
def diarizer(pyannote_model_dir: tuple[Path, str]) -> pb.PyannoteDiarizer:
    return pb.PyannoteDiarizer(pyannote_model_dir[0], device="auto")


@pytest.fixture(scope="module")
def session_audio(two_speaker: tuple[Path, list[dict[str, Any]], tuple[str, ...]]) -> npt.NDArray[np.float32]:
    with wave.open(str(two_speaker[0]), "rb") as wf:
        assert wf.getframerate() == 16000
        samples = np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


@pytest.mark.slow
def test_real_pipeline_loads_offline_on_the_right_device(diarizer: pb.PyannoteDiarizer) -> None:
    import torch

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "false"  # no usage telemetry leaves the clinic
    assert diarizer.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert type(diarizer._pipeline).__name__ == "SpeakerDiarization"
    assert pb._networks(diarizer._pipeline, torch)  # the stop hooks found the segmentation and embedding nets


@pytest.mark.slow
def test_real_pipeline_diarizes_a_two_voice_session(
    diarizer: pb.PyannoteDiarizer,
    session_audio: npt.NDArray[np.float32],
    two_speaker: tuple[Path, list[dict[str, Any]], tuple[str, ...]],
    pyannote_model_dir: tuple[Path, str],
) -> None:
    duration = session_audio.shape[0] / 16000
    events: list[tuple[str, float, float | None, float]] = []
    result = diarizer.diarize(
        session_audio,
        num_speakers=2,
        on_progress=lambda stage, fraction, eta: events.append((stage, fraction, eta, time.monotonic())),
    )
    _assert_well_formed(result, duration)
    assert {stage for stage, *_ in events} == {"diarizing"}
    fractions = [f for _, f, _, _ in events]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(events) >= 4
    assert max(b[3] - a[3] for a, b in zip(events, events[1:], strict=False)) < 2.0

    if pyannote_model_dir[1] != "random":
        # Real segmentation-3.0 weights (random ones mark every frame as one voice): the two speakers asked for,
        # speech found where espeak-ng spoke, and not in the gaps.
        assert result.speakers == ("SPEAKER_00", "SPEAKER_01")
        scripted = [(t["start"], t["end"]) for t in two_speaker[1]]
        covered = sum(_overlap(s, e, result) for s, e in scripted) / sum(e - s for s, e in scripted)
        assert covered > 0.85
        found = sum(t.end - t.start for t in result.turns)
        assert found - covered * sum(e - s for s, e in scripted) < 1.0


@pytest.mark.slow
def test_real_pipeline_honours_regions_and_speaker_bounds(
    diarizer: pb.PyannoteDiarizer, session_audio: npt.NDArray[np.float32]
) -> None:
    regions = [(0.4, 4.6), (5.1, 9.5)]
    result = diarizer.diarize(session_audio[: 16000 * 10], regions=regions, min_speakers=1, max_speakers=2)
    _assert_well_formed(result, 10.0)
    assert 1 <= len(result.speakers) <= 2
    for turn in result.turns:
        assert any(start <= turn.start and turn.end <= end for start, end in regions)


@pytest.mark.slow
def test_real_pipeline_cancels_inside_a_model_call_and_runs_again(
    diarizer: pb.PyannoteDiarizer, session_audio: npt.NDArray[np.float32]
) -> None:
    progressed = threading.Event()

    def on_progress(stage: str, fraction: float, eta: float | None) -> None:
        if fraction > 0.0:
            progressed.set()

    with pytest.raises(Cancelled):
        diarizer.diarize(session_audio, on_progress=on_progress, should_cancel=progressed.is_set)
    assert not _helper_threads()  # the stop hooks ended the run inside the network, not at the next batch
    # the models are free again, and the previous run's stop flag does not stop this one
    result = diarizer.diarize(session_audio[: 16000 * 5], num_speakers=1)
    _assert_well_formed(result, 5.0)
    assert result.speakers == ("SPEAKER_00",)


# -- helpers --------------------------------------------------------------------------------------------------


def _assert_well_formed(result: DiarizationResult, duration: float) -> None:
    assert result.turns, "no speaker turns"
    previous_end = 0.0
    for turn in result.turns:
        assert 0.0 <= turn.start < turn.end <= duration + 1e-6
        assert turn.start >= previous_end - 1e-9  # sorted and exclusive
        previous_end = turn.end
    order = list(dict.fromkeys(t.speaker for t in result.turns))
    assert list(result.speakers) == order
    assert order == [f"SPEAKER_{i:02d}" for i in range(len(order))]


def _overlap(start: float, end: float, result: DiarizationResult) -> float:
    return sum(max(0.0, min(end, t.end) - max(start, t.start)) for t in result.turns)


def _helper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


@pytest.mark.slow
def test_a_pyannote_folder_added_as_a_model_pack_is_loaded_by_its_name(
    pyannote_model_dir: tuple[Path, str], session_audio: npt.NDArray[np.float32], tmp_path: Path
) -> None:
    """IT adds the pipeline folder once for the machine; the worker's options name the pack, and the real pipeline
    loads from the registered copy."""
    from tbdesktop.config import Settings
    from tbdesktop.services.context import engine_options
    from tbdesktop.services.model_packs import add_pack, verify_pack

    source = tmp_path / "pyannote-clinic"
    shutil.copytree(pyannote_model_dir[0], source)
    (source / "LICENSE").write_text("MIT License\n\nThe segmentation model's licence.\n", encoding="utf-8")
    models = tmp_path / "machine-models"
    pack = add_pack(source, models)
    assert (pack.kind, pack.name) == ("diarization", "pyannote-clinic")
    assert verify_pack(models, pack).ok

    settings = Settings(
        cache_dir=tmp_path / "cache",
        model_dir=models,
        diarization_backend="pyannote",
        pyannote_model_dir="pyannote-clinic",
    )
    options = engine_options(settings)
    assert options["pyannote_model_dir"] == str(models / "pyannote-clinic")
    diarizer = pb.PyannoteDiarizer(Path(options["pyannote_model_dir"]), device="cpu")
    result = diarizer.diarize(session_audio[: 16000 * 10], min_speakers=1, max_speakers=2)
    _assert_well_formed(result, 10.0)
