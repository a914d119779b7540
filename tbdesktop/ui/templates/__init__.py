"""The Templates page and the template editor."""

from tbdesktop.ui.templates.detail import CLINIC_READ_ONLY
from tbdesktop.ui.templates.drafts import TemplateDraft, section_key
from tbdesktop.ui.templates.editor import TemplateEditorDialog
from tbdesktop.ui.templates.page import TemplatesPage

__all__ = ["CLINIC_READ_ONLY", "TemplateDraft", "TemplateEditorDialog", "TemplatesPage", "section_key"]
