"""`gui` (and no command at all): the app window."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tbdesktop.cli.common import settings_for

if TYPE_CHECKING:
    from tbdesktop.cli.common import SubParsers
    from tbdesktop.config import Settings


def cmd_gui(args: argparse.Namespace) -> int:
    # Qt is loaded only for the window: the headless commands never import it
    from tbdesktop.app import run_gui
    from tbdesktop.logs import add_log_file

    def load() -> Settings:
        # read by the app, so that a broken clinic policy file is shown in its error dialog
        settings = settings_for(args)
        add_log_file(settings.data_dir / "logs")
        return settings

    return run_gui(load)


def add_gui_command(sub: SubParsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("gui", parents=[common], help="open the app window")
    p.set_defaults(func=cmd_gui)
