"""faster-whisper loads its Silero VAD model (assets/*.onnx) from the package folder at run time."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("faster_whisper", includes=["assets/*"])
