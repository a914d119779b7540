"""A small worker for the worker-protocol tests: it runs in a real spawned process, served by the one child loop."""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tbdesktop.engine.errors import AudioDecodeError, ModelError
from tbdesktop.engine.worker_protocol import serve


class ToyHandler:
    def __init__(self, marker: str) -> None:
        self.marker = Path(marker)
        self.warmed = 0

    def warm_up(self) -> None:
        if self.marker.with_suffix(".broken").exists():
            raise ModelError("The speech model could not be loaded.")
        self.warmed += 1

    def run(self, task: str, args: dict[str, Any], report: Any, cancelled: Any) -> Any:
        if task == "echo":
            return {"echo": args, "warmed": self.warmed}
        if task == "progress":
            for i in range(int(args["steps"])):
                report("counting", i / args["steps"], None)
            report("counting", 1.0, 0.0)
            report("finishing", 0.0, None)
            return "counted"
        if task == "until_cancelled":
            report("waiting", 0.0, None)
            while not cancelled():
                time.sleep(0.01)  # the scenario: work that only a cancel ends
            from tbdesktop.engine.errors import Cancelled

            raise Cancelled()
        if task == "sleep":
            time.sleep(float(args["seconds"]))  # the scenario: a request slower than its timeout
            return "slept"
        if task == "engine_error":
            raise AudioDecodeError("This file is not audio the app can read.")
        if task == "bug":
            raise ValueError("a detail that must not reach the user")
        if task == "memory":
            raise MemoryError()
        if task == "die":
            os._exit(3)
        raise AssertionError(task)

    def close(self) -> None:
        self.marker.write_text("closed")


def toy_main(conn: Connection, marker: str) -> None:
    serve(conn, ToyHandler(marker), name="toy")
