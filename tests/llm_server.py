"""A real llama.cpp OpenAI-compatible server for tests: ``python tests/llm_server.py MODEL.gguf --api-key KEY``.

Listens on 127.0.0.1 on a port the system picks, prints ``{"url": "http://127.0.0.1:PORT"}`` on one line of
stdout once the model is loaded, and serves until stdin closes or it gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="path of the GGUF file")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-answer-tokens", type=int, default=320, help="the server's cap on one answer")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--repeat-penalty", type=float, default=1.2)
    parser.add_argument("--dry-multiplier", type=float, default=0.8, help="DRY anti-loop sampling; 0 turns it off")
    args = parser.parse_args(argv)

    import xllamacpp as xlc

    params: Any = xlc.CommonParams()
    params.model.path = args.model
    params.n_ctx = args.context
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_predict = args.max_answer_tokens
    params.sampling.temp = args.temperature
    params.sampling.penalty_repeat = args.repeat_penalty
    params.sampling.dry_multiplier = args.dry_multiplier
    params.api_keys = [args.api_key]
    params.port = 0  # the system picks a free port; the address is printed below
    params.verbosity = 0

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = xlc.Server(params)
    sys.stdout.write(json.dumps({"url": server.listening_address}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        del server  # stops the HTTP listener and the model loop
    return 0


if __name__ == "__main__":
    sys.exit(main())
