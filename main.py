"""TherapyBridge Desktop: `python main.py` opens the app; `python main.py <command>` runs the CLI."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Worker processes are spawned; a frozen build re-enters here and must hand them over.
    multiprocessing.freeze_support()
    from tbdesktop.cli import main

    sys.exit(main())
