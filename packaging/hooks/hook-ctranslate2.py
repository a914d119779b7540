"""CTranslate2: the extension module links libctranslate2 and libgomp from ctranslate2.libs/ (or DLLs beside it)."""

from PyInstaller.utils.hooks import collect_dynamic_libs, collect_submodules

binaries = collect_dynamic_libs("ctranslate2")
# The converters pull optional training frameworks; the app only loads converted models.
hiddenimports = collect_submodules("ctranslate2", filter=lambda name: not name.startswith("ctranslate2.converters"))
excludedimports = ["torch", "transformers", "tensorflow", "fairseq", "opennmt", "onmt", "marian"]
