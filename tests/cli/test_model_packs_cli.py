"""`tbdesktop model add/list/verify/remove` as IT runs them, and a pack used by a real transcription: real processes,
the real base model copied as a pack, the real test GGUF, a real machine-wide model folder (under tmp)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_support import note_model_file

from tbdesktop.engine.models import base_model_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSCODE = "cli-passcode-1"
NOBODY = 65534


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "machine-models"


@pytest.fixture
def tb(tmp_path: Path, model_cache: Path, model_dir: Path) -> Any:
    """``tbdesktop`` with its machine-wide model folder at ``model_dir``."""
    script = shutil.which("tbdesktop", path=str(Path(sys.executable).parent))
    assert script, "the console script `tbdesktop` is not installed in the venv"

    def run(
        *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        full = dict(
            os.environ,
            TB_CACHE_DIR=str(model_cache),
            TB_SECRETS_DIR=str(tmp_path / "secrets"),
            TB_PASSCODE=PASSCODE,
            TB_MODEL_DIR=str(model_dir),
        )
        full.update(env or {})
        return subprocess.run(
            [*prefix, script, "--data-dir", str(tmp_path / "data"), *args],
            capture_output=True,
            text=True,
            env=full,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture
def short_wav(two_speaker: Any, tmp_path: Path) -> Path:
    """The first turn of the two-voice fixture: "Good morning. How have you been sleeping…"."""
    wav, turns, _ = two_speaker
    out = tmp_path / "first_turn.wav"
    with wave.open(str(wav), "rb") as src:
        rate = src.getframerate()
        frames = src.readframes(int((turns[0]["end"] + 0.5) * rate))
        params = src.getparams()
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    return out


def test_a_speech_pack_is_added_and_used_by_a_real_transcription(
    tb: Any, model_cache: Path, model_dir: Path, tmp_path: Path, short_wav: Path
) -> None:
    source = tmp_path / "usb" / "whisper-base-ct2"
    shutil.copytree(base_model_dir(model_cache), source, ignore=shutil.ignore_patterns(".*"))
    (source / "LICENSE.txt").write_text("MIT License\n\nCopyright (c) 2022 OpenAI\n", encoding="utf-8")

    added = tb("model", "add", str(source), "--name", "clinic-whisper", "--json")
    assert added.returncode == 0, added.stderr
    pack = json.loads(added.stdout)
    assert (pack["name"], pack["kind"], pack["license_title"]) == ("clinic-whisper", "speech", "MIT License")
    assert pack["path"] == str(model_dir / "clinic-whisper")
    assert {f["path"] for f in pack["files"]} >= {"model.bin", "config.json", "tokenizer.json", "LICENSE.txt"}

    listed = json.loads(tb("model", "list", "--json").stdout)
    assert [p["name"] for p in listed["packs"]] == ["clinic-whisper"] and listed["model_dir"] == str(model_dir)

    done = tb("process", str(short_wav), "--diarization", "none", "--json", env={"TB_ASR_MODEL": "clinic-whisper"})
    assert done.returncode == 0, done.stderr
    text = " ".join(s["text"] for s in json.loads(done.stdout)["segments"]).lower()
    assert "morning" in text and "sleeping" in text

    # the transcription read the pack's copy: without its weights it stops, naming the pack
    (model_dir / "clinic-whisper" / "model.bin").unlink()
    broken = tb("process", str(short_wav), "--diarization", "none", env={"TB_ASR_MODEL": "clinic-whisper"})
    assert broken.returncode == 1 and "clinic-whisper" in broken.stderr and "model.bin" in broken.stderr
    unknown = tb("process", str(short_wav), "--diarization", "none", env={"TB_ASR_MODEL": "never-added"})
    assert unknown.returncode == 1 and "'never-added' is not installed" in unknown.stderr

    removed = tb("model", "remove", "clinic-whisper")
    assert removed.returncode == 0 and "Model pack 'clinic-whisper' removed." in removed.stdout
    assert not (model_dir / "clinic-whisper").exists() and (source / "model.bin").is_file()
    assert json.loads(tb("model", "list", "--json").stdout)["packs"] == []


def test_a_notes_pack_is_verified_and_selftest_reports_it(tb: Any, model_dir: Path, tmp_path: Path) -> None:
    licence = tmp_path / "SmolLM2-LICENSE.txt"
    licence.write_text("Apache License\nVersion 2.0, January 2004\n", encoding="utf-8")
    refused = tb("model", "add", str(note_model_file()))
    assert refused.returncode == 1 and "No licence file beside the file" in refused.stderr
    added = tb("model", "add", str(note_model_file()), "--license", str(licence), "--name", "smollm2")
    assert added.returncode == 0, added.stderr
    assert "Model pack 'smollm2' added: writing notes (GGUF v3, llama" in added.stdout
    assert "TB_NOTES_MODEL=smollm2" in added.stdout
    duplicate = tb("model", "add", str(note_model_file()), "--license", str(licence), "--name", "smollm2")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    verified = tb("model", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["packs"][0]["hashed"] is True
    tested = tb("selftest", "--json", env={"TB_NOTES_BACKEND": "llm", "TB_NOTES_MODEL": "smollm2"})
    checks = {c["check"]: c for c in json.loads(tested.stdout)["checks"]}
    assert checks["model packs"]["ok"] and checks["model packs"]["detail"] == f"1 registered in {model_dir}"
    pack_check = checks["model pack smollm2"]
    assert pack_check["ok"] and pack_check["required"]
    assert pack_check["detail"].startswith("writing notes, 94 MB, licence: Apache License; files present")

    # one byte changed in the middle of the weights: the sizes match, only hashing finds it
    gguf = model_dir / "smollm2" / note_model_file().name
    with gguf.open("r+b") as f:
        f.seek(gguf.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    quick = {c["check"]: c for c in json.loads(tb("selftest", "--json").stdout)["checks"]}
    assert quick["model pack smollm2"]["ok"]
    deep = tb("selftest", "--verify-packs", "--json")
    deep_checks = {c["check"]: c for c in json.loads(deep.stdout)["checks"]}
    assert deep.returncode == 1 and not deep_checks["model pack smollm2"]["ok"]
    assert f"changed since it was added: {gguf.name}" in deep_checks["model pack smollm2"]["detail"]
    tampered = tb("model", "verify", "smollm2")
    assert tampered.returncode == 1 and "[FAIL] smollm2:" in tampered.stdout and gguf.name in tampered.stdout

    # a damaged registry: selftest says so and carries on
    (model_dir / "packs.json").write_text("{", encoding="utf-8")
    broken = tb("selftest", "--json")
    broken_checks = {c["check"]: c for c in json.loads(broken.stdout)["checks"]}
    assert broken.returncode == 1 and "is damaged" in broken_checks["model packs"]["detail"]
    assert broken_checks["engine"]["ok"] and "model pack smollm2" not in broken_checks

    (model_dir / "packs.json").unlink()
    assert tb("model", "list").stdout.startswith("No model packs in")
    gone = tb("model", "remove", "smollm2")
    assert gone.returncode == 1 and "No model pack named 'smollm2'" in gone.stderr


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every account can read (pytest's own tmp folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="tb-packs-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_an_unwritable_model_folder_asks_for_an_administrator(tb: Any, shared_tmp: Path, tmp_path: Path) -> None:
    source = shared_tmp / "whisper"
    source.mkdir()
    (source / "model.bin").write_bytes(b"weights")
    (source / "config.json").write_text("{}", encoding="utf-8")
    (source / "vocabulary.json").write_text("[]", encoding="utf-8")
    (source / "LICENSE").write_text("MIT License\n", encoding="utf-8")
    for path in (source, *source.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    machine = shared_tmp / "models"
    machine.mkdir(mode=0o755)
    if os.geteuid() == 0:
        # Root writes anywhere: the command runs as an ordinary account, as a user would. It may read every file
        # (the checkout may sit in a folder private to root) but writes only where that account may.
        prefix: tuple[str, ...] = (
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
        )
    else:
        machine.chmod(0o555)
        prefix = ()
    result = tb("model", "add", str(source), env={"TB_MODEL_DIR": str(machine), "HOME": str(shared_tmp)}, prefix=prefix)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Cannot write to the model folder {machine}: run the command as an administrator, e.g. with sudo." in (
        result.stderr
    )
    assert list(machine.iterdir()) == []
