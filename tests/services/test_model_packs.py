"""Model packs: validating, copying and registering a model for the whole machine, checking it again, and a pack's
name standing for its path wherever a model is chosen. Small crafted files for the format failures; the real test
GGUF once."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from llm_support import note_model_file

from tbdesktop.config import Settings
from tbdesktop.services import model_packs as mp
from tbdesktop.services.about import about_info
from tbdesktop.services.context import engine_options, notes_options
from tbdesktop.services.model_packs import PackError, add_pack, list_packs, remove_pack, verify_pack
from tbdesktop.services.notes_model import model_file_problem
from tbdesktop.services.secrets import SecretVault

REPO_ROOT = Path(__file__).resolve().parents[2]
MIT = "MIT License\n\nCopyright (c) 2022 OpenAI\n\nPermission is hereby granted, free of charge...\n"


def _speech_folder(root: Path, name: str = "whisper-small-ct2", *, licence: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"\x00weights" * 512)
    (folder / "config.json").write_text(json.dumps({"num_hidden_layers": 12, "alignment_heads": []}), "utf-8")
    (folder / "vocabulary.txt").write_text("a\nb\nc\n", encoding="utf-8")
    if licence:
        (folder / "LICENSE").write_text(MIT, encoding="utf-8")
    return folder


def _gguf(path: Path, *, version: int = 3, name: str = "Tiny Test", arch: str = "llama") -> Path:
    def string(text: str) -> bytes:
        data = text.encode()
        return struct.pack("<Q", len(data)) + data

    header = b"GGUF" + struct.pack("<IQQ", version, 0, 2)
    header += string("general.architecture") + struct.pack("<I", 8) + string(arch)
    header += string("general.name") + struct.pack("<I", 8) + string(name)
    path.write_bytes(header + b"\x00" * 256)
    return path


def _pyannote_folder(root: Path, config: str | None = None) -> Path:
    folder = root / "pyannote-community-1"
    for rel in (
        "segmentation/pytorch_model.bin",
        "embedding/pytorch_model.bin",
        "plda/plda.npz",
        "plda/xvec_transform.npz",
    ):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"checkpoint " + rel.encode())
    (folder / "config.yaml").write_text(
        config
        or "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
        "    segmentation: $model/segmentation\n    embedding: $model/embedding\n    plda: $model/plda\n",
        encoding="utf-8",
    )
    (folder / "LICENSE.md").write_text("CC-BY-4.0\n\nThe model card's licence.\n", encoding="utf-8")
    return folder


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "machine" / "models"


def test_a_speech_folder_is_checked_copied_hashed_and_registered(tmp_path: Path, model_dir: Path) -> None:
    source = _speech_folder(tmp_path / "usb")
    pack = add_pack(source, model_dir)

    assert (pack.name, pack.kind, pack.model) == ("whisper-small-ct2", "speech", ".")
    assert pack.license_file == "LICENSE" and pack.license_title == "MIT License"
    assert pack.format == "faster-whisper (CTranslate2), 12 layers" and pack.source == str(source)
    folder = model_dir / "whisper-small-ct2"
    assert sorted(f.path for f in pack.files) == ["LICENSE", "config.json", "model.bin", "vocabulary.txt"]
    for entry in pack.files:
        copy = folder / entry.path
        assert copy.read_bytes() == (source / entry.path).read_bytes()
        assert entry.size == copy.stat().st_size and entry.sha256 == hashlib.sha256(copy.read_bytes()).hexdigest()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o644  # every account reads it
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    # the registry and the pack's own manifest say the same; no staging folder is left behind
    assert list_packs(model_dir) == (pack,)
    assert json.loads((folder / mp.MANIFEST_NAME).read_text("utf-8")) == pack.to_json()
    assert sorted(p.name for p in model_dir.iterdir()) == [".packs.lock", "packs.json", "whisper-small-ct2"]
    assert source.exists()  # the original is never touched


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: (f / "model.bin").unlink(), "holds no model this application knows: expected a faster-whisper"),
        (lambda f: (f / "config.json").unlink(), "has no config.json"),
        (
            lambda f: (f / "config.json").write_text("{not json", "utf-8"),
            "config.json in whisper-small-ct2 is not valid",
        ),
        (lambda f: (f / "vocabulary.txt").unlink(), "has no tokenizer.json or vocabulary file"),
    ],
)
def test_a_broken_speech_folder_is_refused_saying_what_is_expected(
    tmp_path: Path, model_dir: Path, make: Callable[[Path], object], message: str
) -> None:
    source = _speech_folder(tmp_path / "usb")
    make(source)
    with pytest.raises(PackError, match=message):
        add_pack(source, model_dir)
    assert not model_dir.exists() or list(model_dir.iterdir()) == []


def test_a_file_that_is_not_gguf_and_an_unsupported_gguf_are_refused(tmp_path: Path, model_dir: Path) -> None:
    text = tmp_path / "notes.bin"
    text.write_bytes(b"PK\x03\x04 not a model")
    (tmp_path / "LICENSE.txt").write_text(MIT, encoding="utf-8")
    with pytest.raises(PackError, match="a single file must be a GGUF note model"):
        add_pack(text, model_dir)
    with pytest.raises(PackError, match="is not a GGUF model"):
        add_pack(text, model_dir, kind="notes")
    with pytest.raises(PackError, match="GGUF version 9; this application reads versions 2, 3"):
        add_pack(_gguf(tmp_path / "future.gguf", version=9), model_dir)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF\x03\x00")
    with pytest.raises(PackError, match="damaged GGUF header"):
        add_pack(truncated, model_dir)
    with pytest.raises(PackError, match="has no model.bin"):
        add_pack(_pyannote_folder(tmp_path / "p"), model_dir, kind="speech")


def test_a_licence_is_required(tmp_path: Path, model_dir: Path) -> None:
    source = _speech_folder(tmp_path / "usb", licence=False)
    with pytest.raises(PackError, match="No licence file in the folder .*--license FILE"):
        add_pack(source, model_dir)
    (tmp_path / "lonely").mkdir()
    gguf = _gguf(tmp_path / "lonely" / "tiny.gguf")
    with pytest.raises(PackError, match="No licence file beside the file"):
        add_pack(gguf, model_dir)
    empty = tmp_path / "EMPTY.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(PackError, match="is empty"):
        add_pack(gguf, model_dir, license_path=empty)
    assert list_packs(model_dir) == ()

    # given with --license, the licence is copied into the pack beside the model
    terms = tmp_path / "terms.md"
    terms.write_text("Apache License 2.0\n", encoding="utf-8")
    pack = add_pack(source, model_dir, license_path=terms, name="small")
    assert pack.license_file == "LICENSE.md" and pack.license_title == "Apache License 2.0"
    assert (model_dir / "small" / "LICENSE.md").read_text("utf-8") == "Apache License 2.0\n"
    # a licence file beside a single GGUF file counts, in any case
    (gguf.parent / "copying.TXT").write_text("GPL-3.0\n", encoding="utf-8")
    notes = add_pack(gguf, model_dir)
    assert (notes.name, notes.kind, notes.model, notes.license_title) == ("tiny", "notes", "tiny.gguf", "GPL-3.0")
    assert notes.format == "GGUF v3, llama, Tiny Test"


def test_names_duplicates_and_replace(tmp_path: Path, model_dir: Path) -> None:
    source = _speech_folder(tmp_path / "usb", "faster whisper (large)")
    first = add_pack(source, model_dir)
    assert first.name == "faster-whisper-large"
    with pytest.raises(PackError, match="already exists; choose another --name, or add --replace"):
        add_pack(source, model_dir)
    for bad in ("base", "../evil", ".hidden", "a/b"):
        with pytest.raises(PackError, match="cannot name a model pack|built-in speech model"):
            add_pack(source, model_dir, name=bad)

    (source / "model.bin").write_bytes(b"new weights")
    second = add_pack(source, model_dir, replace=True)
    assert second.name == first.name and {f.path: f.size for f in second.files}["model.bin"] == len(b"new weights")
    assert (model_dir / first.name / "model.bin").read_bytes() == b"new weights"
    assert list_packs(model_dir) == (second,)
    assert sorted(p.name for p in model_dir.iterdir()) == [".packs.lock", "faster-whisper-large", "packs.json"]


def test_a_model_dir_that_cannot_be_used_is_explained(tmp_path: Path) -> None:
    source = _speech_folder(tmp_path / "usb")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(PackError, match="Cannot use the model folder"):
        add_pack(source, blocker / "models")


def test_verify_finds_changed_missing_and_extra_files(tmp_path: Path, model_dir: Path) -> None:
    pack = add_pack(_speech_folder(tmp_path / "usb"), model_dir)
    folder = model_dir / pack.name
    assert verify_pack(model_dir, pack).ok and verify_pack(model_dir, pack, full=False).ok

    weights = folder / "model.bin"
    data = bytearray(weights.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes: only a full check sees it
    weights.write_bytes(bytes(data))
    assert verify_pack(model_dir, pack, full=False).ok
    full = verify_pack(model_dir, pack)
    assert not full.ok and full.changed == ("model.bin",) and full.hashed

    (folder / "vocabulary.txt").unlink()
    (folder / "notes.txt").write_text("added later", encoding="utf-8")
    quick = verify_pack(model_dir, pack, full=False)
    assert quick.missing == ("vocabulary.txt",) and quick.extra == ("notes.txt",) and not quick.ok
    assert "missing: vocabulary.txt" in quick.summary() and "not part of the pack: notes.txt" in quick.summary()

    shutil.rmtree(folder)
    gone = verify_pack(model_dir, pack, full=False)
    assert not gone.ok and "folder" in gone.problems[0] and "missing" in gone.problems[0]


def test_remove_unregisters_and_deletes_the_copy_only(tmp_path: Path, model_dir: Path) -> None:
    source = _speech_folder(tmp_path / "usb")
    pack = add_pack(source, model_dir)
    assert remove_pack(model_dir, pack.name) == pack
    assert list_packs(model_dir) == () and not (model_dir / pack.name).exists()
    assert (source / "model.bin").is_file()
    with pytest.raises(PackError, match="No model pack named 'whisper-small-ct2'"):
        remove_pack(model_dir, pack.name)


def test_a_damaged_registry_is_reported_not_a_crash(tmp_path: Path, model_dir: Path) -> None:
    pack = add_pack(_speech_folder(tmp_path / "usb"), model_dir)
    (model_dir / "packs.json").write_text('{"packs": [{"name": 1', encoding="utf-8")
    with pytest.raises(PackError, match="model pack list .*packs.json is damaged"):
        list_packs(model_dir)
    assert mp.find_pack(model_dir, pack.name) is None
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", model_dir=model_dir)
    assert engine_options(settings)["model"] == "base"
    notices = {m.key: m for m in about_info(settings).models}
    assert not notices["packs"].installed and "is damaged" in notices["packs"].status


def test_a_diarization_pack_is_the_folder_the_pyannote_backend_loads(tmp_path: Path, model_dir: Path) -> None:
    pack = add_pack(_pyannote_folder(tmp_path / "a"), model_dir)
    assert (pack.kind, pack.license_file, pack.license_title) == ("diarization", "LICENSE.md", "CC-BY-4.0")
    assert pack.format == "pyannote pipeline SpeakerDiarization (segmentation, embedding, plda)"

    without_plda = _pyannote_folder(tmp_path / "b")
    (without_plda / "plda" / "xvec_transform.npz").unlink()
    with pytest.raises(PackError, match="plda folder .* lacks xvec_transform.npz"):
        add_pack(without_plda, model_dir, name="b")
    hub = _pyannote_folder(
        tmp_path / "c",
        "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
        "    segmentation: pyannote/segmentation-3.0\n    embedding: $model/embedding\n    plda: $model/plda\n",
    )
    with pytest.raises(PackError, match="not usable: .*pyannote/segmentation-3.0"):
        add_pack(hub, model_dir, name="c")
    bad_yaml = _pyannote_folder(tmp_path / "d", "pipeline: [unclosed\n")
    with pytest.raises(PackError, match="config.yaml in pyannote-community-1 is not valid YAML"):
        add_pack(bad_yaml, model_dir, name="d")

    settings = Settings(
        data_dir=tmp_path / "data",
        model_dir=model_dir,
        diarization_backend="pyannote",
        pyannote_model_dir=pack.name,
    )
    assert engine_options(settings)["pyannote_model_dir"] == str(model_dir / pack.name)


def test_pack_names_resolve_where_models_are_chosen(tmp_path: Path, model_dir: Path) -> None:
    speech = add_pack(_speech_folder(tmp_path / "usb"), model_dir, name="large")
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "LICENSE").write_text(MIT, encoding="utf-8")
    notes = add_pack(_gguf(tmp_path / "n" / "tiny.gguf"), model_dir, name="notes-small")
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        secrets_dir=tmp_path / "secrets",
        model_dir=model_dir,
        asr_model="large",
        notes_backend="llm",
        notes_model="notes-small",
    )
    assert engine_options(settings)["model"] == str(model_dir / "large")
    assert engine_options(settings, model="base")["model"] == "base"  # an override that is not a pack stays
    vault = SecretVault(tmp_path / "secrets", "auto")
    assert notes_options(settings, vault)["model_path"] == str(model_dir / "notes-small" / "tiny.gguf")
    # a name of the wrong kind, or one never registered, is left for the loader to refuse
    wrong = Settings(data_dir=tmp_path / "data", model_dir=model_dir, asr_model="notes-small", notes_backend="llm",
                     notes_model="large")  # fmt: skip
    assert engine_options(wrong)["model"] == "notes-small"
    assert notes_options(wrong, vault)["model_path"] == str(Path("large").expanduser())

    # the settings check accepts a notes pack's name, and says what is wrong with anything else
    assert model_file_problem("notes-small", model_dir) is None
    assert model_file_problem("large", model_dir) == (
        "No note model file or notes model pack is named 'large' (see `tbdesktop model list`)."
    )
    (model_dir / "notes-small" / "tiny.gguf").unlink()
    assert model_file_problem("notes-small", model_dir) == "The note model file tiny.gguf was not found."
    assert speech.kind == "speech" and notes.kind == "notes"

    # About shows a chosen pack as in use, chosen by its name or by its path, and not as a folder of its own
    for chosen in ("large", str(model_dir / "large")):
        about = {m.key: m for m in about_info(dataclasses.replace(settings, asr_model=chosen)).models}
        assert about["pack-large"].in_use and not about["speech"].in_use and "custom-speech" not in about


def test_the_real_test_gguf_registers_as_a_notes_pack(tmp_path: Path, model_dir: Path) -> None:
    source = note_model_file()
    licence = tmp_path / "LICENSE"
    licence.write_text("Apache License\nVersion 2.0, January 2004\n", encoding="utf-8")
    pack = add_pack(source, model_dir, license_path=licence, name="smollm2")
    assert pack.kind == "notes" and pack.model == source.name
    assert pack.format.startswith("GGUF v3, llama") and "Smollm2" in pack.format
    assert {f.path for f in pack.files} == {source.name, "LICENSE.txt"}
    assert {f.path: f.size for f in pack.files}[source.name] == source.stat().st_size
    assert verify_pack(model_dir, pack).ok
    assert model_file_problem("smollm2", model_dir) is None

    notices = {m.key: m for m in about_info(Settings(data_dir=tmp_path / "d", model_dir=model_dir)).models}
    row = notices["pack-smollm2"]
    assert (row.name, row.license, row.installed, row.in_use) == ("smollm2", "Apache License", True, False)
    assert row.role == "Writing notes (model pack)" and row.license_file == "pack:smollm2"
    in_use = about_info(
        Settings(data_dir=tmp_path / "d", model_dir=model_dir, notes_backend="llm", notes_model="smollm2")
    )
    assert {m.key: m for m in in_use.models}["pack-smollm2"].in_use
    text = in_use.license("pack:smollm2")
    assert text is not None and text.text.startswith("Apache License\nVersion 2.0")


def test_packs_added_at_the_same_time_are_all_registered(tmp_path: Path, model_dir: Path) -> None:
    """Four real processes add a pack each at once: the registry lock keeps every entry."""
    sources = [_speech_folder(tmp_path / "src", f"whisper-{i}") for i in range(4)]
    env = {**os.environ, "TB_MODEL_DIR": str(model_dir)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "main.py"), "model", "add", str(src)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for src in sources
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sorted(p.name for p in list_packs(model_dir)) == [f"whisper-{i}" for i in range(4)]
    assert all(verify_pack(model_dir, p).ok for p in list_packs(model_dir))
