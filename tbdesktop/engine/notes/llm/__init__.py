"""Notes written by a GGUF language model on the workstation (llama.cpp in the notes worker process)."""

from tbdesktop.engine.notes.llm.generator import LlamaNoteGenerator
from tbdesktop.engine.notes.llm.runtime import RuntimeOptions, check_model_file, gpu_devices

__all__ = ["LlamaNoteGenerator", "RuntimeOptions", "check_model_file", "gpu_devices"]
