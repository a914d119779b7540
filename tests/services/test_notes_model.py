"""Testing a note model before use: a real load and answer of the test GGUF model in a separate process, the
clear errors of a damaged or missing file, the timeout and cancel that end the process, and the CLI command."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from llm_support import note_model_file
from polling import until_async

from tbdesktop import cli
from tbdesktop.services.notes_model import ModelTestResult, NotesModelService


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.gguf"
    path.write_bytes(b"GGUF" + os.urandom(2048))
    return path


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def test_the_test_model_loads_and_answers_in_another_process() -> None:
    before = _children()  # processes other tests left winding down are not this test's
    model = note_model_file()
    result = NotesModelService().test_model_sync(str(model), threads=2, gpu_layers=0, context=2048)
    assert result.ok, result.error
    assert result.model_name == model.name and result.file_bytes == model.stat().st_size
    assert result.load_seconds > 0 and result.tokens_per_s > 0 and result.prompt_tokens_per_s > 0
    assert result.answer_valid and result.threads == 2 and result.context_tokens == 2048
    assert not result.uses_gpu and result.device_text.startswith("CPU")
    assert result.lines()[0] == f"{model.name} loads and answers."
    assert "MB" in result.lines()[-1]
    assert _children() <= before


def test_a_damaged_or_missing_file_is_a_clear_error(damaged: Path, tmp_path: Path) -> None:
    service = NotesModelService()
    result = service.test_model_sync(str(damaged), threads=1, context=1024)
    assert not result.ok
    assert result.error.startswith("The note model damaged.gguf could not be loaded")
    assert result.lines() == [result.error]
    missing = service.test_model_sync(str(tmp_path / "gone.gguf"))
    assert missing.error == "The note model file gone.gguf was not found." and missing.seconds == 0.0
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    assert service.test_model_sync(str(text)).error == "The note model file notes.gguf is not a GGUF model."
    assert service.test_model_sync("").error == "Choose the note model file (.gguf)."
    assert service.test_model_sync(str(damaged), context=64).error.startswith("The context takes 512")


def test_a_test_past_its_timeout_or_cancelled_ends_its_process() -> None:
    before = _children()
    service = NotesModelService()
    late = service.test_model_sync(str(note_model_file()), threads=1, context=2048, timeout=0.05)
    assert not late.ok and late.error == "The model test did not finish within 0.05 s; it was stopped."
    assert _children() <= before

    async def cancel() -> None:
        task = asyncio.create_task(service.test_model(str(note_model_file()), 1, 0, 2048))

        def started() -> bool:  # cancelled once its process runs
            if _children() - before:
                return True
            assert not task.done(), "the model test's process never started"
            return False

        await until_async(started, 60, "the model test's process to start", interval=0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert _children() <= before


def test_result_words_for_a_gpu() -> None:
    result = ModelTestResult(
        ok=True, model_name="m.gguf", file_bytes=5 * 1024**3, gpu_devices=["NVIDIA H200"], gpu_layers=999, threads=0
    )
    assert result.uses_gpu and result.device_text == "GPU (NVIDIA H200), 999 layers offloaded"
    assert "every core" in result.lines()[3] and result.lines()[4] == "File size: 5.0 GB"
    assert ModelTestResult(ok=True, model_name="m", gpu_devices=["x"], gpu_layers=0).device_text.startswith("CPU")


def test_cli_model_test_notes(damaged: Path, capsys: Any) -> None:
    model = note_model_file()
    assert (
        cli.main(["model", "test-notes", str(model), "--threads", "2", "--gpu-layers", "0", "--context", "2048"]) == 0
    )
    out = capsys.readouterr().out
    assert f"{model.name} loads and answers." in out and "tokens/s" in out and "File size: 94 MB" in out
    assert cli.main(["model", "test-notes", str(damaged), "--context", "1024"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: The note model damaged.gguf could not be loaded")
    assert cli.main(["model", "test-notes", str(damaged), "--context", "1024", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and "could not be loaded" in data["error"]
