"""Model packs: models IT adds for the whole machine (``tbdesktop model add``), each with its licence and checksums.

A pack is a copy of a faster-whisper folder (speech), a GGUF file (notes) or a pyannote pipeline folder
(diarization) under ``Settings.model_dir/<name>/``, with a manifest of every file's size and SHA-256. The
registry ``packs.json`` in the same folder lists them. A pack's name can be given wherever a model is chosen.
Nothing is ever downloaded: a pack is only ever copied from a path on this machine.
"""

from tbdesktop.services.model_packs.formats import (
    KIND_ROLES,
    KINDS,
    MANIFEST_NAME,
    NAME_RE,
    REGISTRY_NAME,
    PackError,
    check_format,
    detect_kind,
    find_license,
    gguf_header,
    is_license_name,
    license_title,
    size_text,
)
from tbdesktop.services.model_packs.install import add_pack, check_name, default_name, remove_pack
from tbdesktop.services.model_packs.registry import (
    PackCheck,
    PackFile,
    PackManifest,
    find_pack,
    get_pack,
    license_text,
    list_packs,
    registry_file,
    resolve_model_setting,
    verify_pack,
    verify_packs,
)

__all__ = [
    "KINDS",
    "KIND_ROLES",
    "MANIFEST_NAME",
    "NAME_RE",
    "REGISTRY_NAME",
    "PackCheck",
    "PackError",
    "PackFile",
    "PackManifest",
    "add_pack",
    "check_format",
    "check_name",
    "default_name",
    "detect_kind",
    "find_license",
    "find_pack",
    "get_pack",
    "gguf_header",
    "is_license_name",
    "license_text",
    "license_title",
    "list_packs",
    "registry_file",
    "remove_pack",
    "resolve_model_setting",
    "size_text",
    "verify_pack",
    "verify_packs",
]
