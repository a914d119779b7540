"""The services one signed-in clinician's window uses, composed once (by ``app.py``) and handed to the rooms."""

from __future__ import annotations

from dataclasses import dataclass

from tbdesktop.services.batch_import import BatchImportService
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.export.service import ExportService
from tbdesktop.services.notes import NoteService
from tbdesktop.services.notes_model import NotesModelService
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.recording.service import RecordingService
from tbdesktop.services.search import SearchService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.settings import SettingsService
from tbdesktop.services.stats import StatsService
from tbdesktop.services.sync.service import SyncService
from tbdesktop.services.templates import TemplateService


@dataclass(frozen=True)
class AppServices:
    """Every service the window's rooms call, for one user; built once per signed-in window.

    Tests swap one part with ``dataclasses.replace`` (a recording service on a fake audio backend, say)."""

    ctx: AppContext
    user: UserInfo
    sessions: SessionService
    notes: NoteService
    profiles: ProfileService
    templates: TemplateService
    settings: SettingsService
    stats: StatsService
    search: SearchService
    export: ExportService
    recording: RecordingService
    sync: SyncService
    batch_import: BatchImportService
    notes_model: NotesModelService

    @classmethod
    def compose(cls, ctx: AppContext, user: UserInfo, *, sync: SyncService | None = None) -> AppServices:
        sessions = SessionService(ctx, user)
        return cls(
            ctx=ctx,
            user=user,
            sessions=sessions,
            notes=NoteService(ctx, user),
            profiles=ProfileService(ctx),
            templates=TemplateService(ctx, user),
            settings=SettingsService(ctx, user),
            stats=StatsService(ctx, user),
            search=SearchService(ctx, user),
            export=ExportService(ctx, user),
            recording=RecordingService(ctx, user),
            sync=sync if sync is not None else SyncService(ctx),
            batch_import=BatchImportService(sessions),
            notes_model=NotesModelService(),
        )
