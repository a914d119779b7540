"""Headless commands over the same services the GUI uses. With no command, the window opens.

``common`` holds what every command shares, one module per command group adds its commands and runs them, and
``parser`` builds the tree and is the entry point (``tbdesktop.cli:main``)."""

from tbdesktop.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
