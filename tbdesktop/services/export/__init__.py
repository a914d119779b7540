"""Progress notes leaving the app: a document model with text and DOCX renderers, and the audited service."""

from tbdesktop.services.export.document import ExportDocument, build_document, default_file_name
from tbdesktop.services.export.service import ExportResult, ExportService, audit_action
from tbdesktop.services.export.text import render_text
from tbdesktop.services.export.word import render_docx

__all__ = [
    "ExportDocument",
    "ExportResult",
    "ExportService",
    "audit_action",
    "build_document",
    "default_file_name",
    "render_docx",
    "render_text",
]
