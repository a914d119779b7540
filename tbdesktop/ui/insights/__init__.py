"""The Insights page: practice figures as charts and tables (``page``), drawn by ``charts``, listed by ``table``."""

from tbdesktop.ui.insights.page import InsightsPage

__all__ = ["InsightsPage"]
