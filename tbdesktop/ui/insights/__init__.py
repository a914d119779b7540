"""The Insights page: practice figures as charts and tables (``page``), drawn by ``charts``, listed by ``table``;
``controller`` loads them and exports CSV through the stats service."""

from tbdesktop.ui.insights.page import InsightsPage

__all__ = ["InsightsPage"]
