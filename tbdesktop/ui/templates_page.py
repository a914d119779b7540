"""The Templates page's former import path; the page lives in ``tbdesktop.ui.templates``."""

from tbdesktop.ui.templates import CLINIC_READ_ONLY, TemplatesPage

__all__ = ["CLINIC_READ_ONLY", "TemplatesPage"]
