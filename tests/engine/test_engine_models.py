from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tbdesktop.engine import models
from tbdesktop.engine.errors import ModelError


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def test_install_joins_and_verifies(tmp_path: Path) -> None:
    status = models.model_status("base", tmp_path)
    assert not status.installed
    assert status.sources_available

    target = models.install_base_model(tmp_path)
    assert target == (tmp_path / "models" / "faster-whisper-base").resolve()
    assert _sha256(target / "model.bin") == models.BASE_MODEL_SHA256
    for name in models.BASE_MODEL_AUX_FILES:
        assert (target / name).stat().st_size > 0
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]
    status = models.model_status("base", tmp_path, verify=True)
    assert status.installed
    assert status.verified
    assert status.path == target


def test_second_install_does_not_rehash(tmp_path: Path, monkeypatch: Any) -> None:
    models.install_base_model(tmp_path)

    def fail(path: Path) -> str:
        raise AssertionError("re-hashed a verified model")

    monkeypatch.setattr(models, "_sha256", fail)
    monkeypatch.setattr(models, "_join_parts", fail)
    assert models.resolve_model("base", tmp_path) == models.base_model_dir(tmp_path).resolve()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_marker"])
def test_corrupted_cache_is_detected_and_repaired(tmp_path: Path, damage: str) -> None:
    target = models.install_base_model(tmp_path)
    model_bin = target / "model.bin"
    if damage == "truncate":
        with model_bin.open("r+b") as fh:
            fh.truncate(1000)
    elif damage == "flip":
        # Same size; the modification time tells the marker it no longer vouches for the file.
        with model_bin.open("r+b") as fh:
            fh.seek(5000)
            fh.write(b"\x00" * 64)
        st = model_bin.stat()
        os.utime(model_bin, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    else:
        (target / models.MARKER_NAME).unlink()
        with model_bin.open("r+b") as fh:
            fh.write(b"junk")
    assert not models.model_status("base", tmp_path, verify=True).verified

    models.install_base_model(tmp_path)
    assert _sha256(model_bin) == models.BASE_MODEL_SHA256
    assert models.model_status("base", tmp_path).verified


def test_resolve_model_path_and_unknown(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    with pytest.raises(ModelError, match="does not contain a speech model"):
        models.resolve_model(str(folder), tmp_path)
    (folder / "model.bin").write_bytes(b"x")
    assert models.resolve_model(str(folder), tmp_path) == folder.resolve()
    with pytest.raises(ModelError, match="Model 'large-v3' is not installed") as info:
        models.resolve_model("large-v3", tmp_path)
    assert not (tmp_path / "models").exists()  # nothing downloaded or created
    assert info.value.message.startswith("Model 'large-v3'")
    assert not models.model_status("large-v3", tmp_path).installed


def test_package_data_found_in_frozen_bundle(tmp_path: Path, monkeypatch: Any) -> None:
    bundle = tmp_path / "bundle"
    for package, _ in models.BASE_MODEL_PARTS:
        (bundle / package).mkdir(parents=True)
        (bundle / package / "data").symlink_to(models._package_data_dir(package), target_is_directory=True)
        (bundle / package / "data").resolve(strict=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert models._package_data_dir(models.BASE_MODEL_PARTS[0][0]) == bundle / models.BASE_MODEL_PARTS[0][0] / "data"
    target = models.install_base_model(tmp_path / "cache")
    assert (target / "model.bin").stat().st_size == 145217532


def test_missing_packages_give_model_error(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(models, "BASE_MODEL_PARTS", (("tb_no_such_model_pkg", "model.bin.part1"),))
    with pytest.raises(ModelError, match="reinstall"):
        models.install_base_model(tmp_path)
    assert not models.model_status("base", tmp_path).sources_available
