"""Shared fixtures for the engine tests: generated audio, an installed base model, a loaded pipeline."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tb_make_fixtures", REPO_ROOT / "scripts" / "make_fixtures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the script look their module up by name
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class SpeechFixtures:
    directory: Path
    files: dict[str, Path]
    turns: list[dict[str, Any]]
    keywords: tuple[str, ...]

    def __getitem__(self, name: str) -> Path:
        return self.files[name]


@pytest.fixture(scope="session")
def fixture_script() -> ModuleType:
    return _load_fixture_script()


@pytest.fixture(scope="session")
def speech_fixtures(tmp_path_factory: pytest.TempPathFactory, fixture_script: ModuleType) -> SpeechFixtures:
    out_dir = tmp_path_factory.mktemp("speech_fixtures")
    files = fixture_script.make_all(out_dir)
    turns = json.loads((out_dir / "session_two_speakers.json").read_text(encoding="utf-8"))
    return SpeechFixtures(directory=out_dir, files=files, turns=turns, keywords=fixture_script.KEYWORDS)


@pytest.fixture(scope="session")
def model_cache_dir(model_cache: Path) -> Path:
    """The shared model cache (tests/conftest.py) with the offline `base` model joined once per run."""
    return model_cache


@pytest.fixture(scope="session")
def pipeline(model_cache_dir: Path) -> Iterator[Any]:
    from tbdesktop.engine.pipeline import Pipeline, PipelineOptions

    with Pipeline(PipelineOptions(cache_dir=model_cache_dir, device="cpu")) as p:
        yield p
