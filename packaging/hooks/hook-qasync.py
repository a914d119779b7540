"""qasync picks its Qt binding with importlib at import time; ship PySide6 only."""

hiddenimports = ["PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets"]
excludedimports = ["PyQt5", "PyQt6", "PySide2"]
