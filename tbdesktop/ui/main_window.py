"""The main window lives in ``tbdesktop.ui.window``; this name keeps ``from tbdesktop.ui.main_window import
MainWindow`` working."""

from tbdesktop.ui.window.main_window import MainWindow
from tbdesktop.ui.window.processing import Processing

__all__ = ["MainWindow", "Processing"]
