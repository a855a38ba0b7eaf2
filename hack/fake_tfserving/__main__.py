"""Entry point: `python -m fake_tfserving --model_config_file=... --port=... --rest_api_port=...`."""

from __future__ import annotations

import logging
import os
import sys

from .errors import ServingError
from .flags import USAGE, FlagError, parse_args


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=os.environ.get("FAKE_TFSERVING_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname).1s %(name)s] %(message)s",
        stream=sys.stderr,
    )
    if "--help" in argv or "-h" in argv:
        print(USAGE)
        return 0
    try:
        options = parse_args(argv)
    except FlagError as exc:
        print(f"invalid flag: {exc}", file=sys.stderr)
        return 255  # main.cc returns -1 when flags do not parse
    from .server import Server  # imported after flag parsing: TensorFlow takes seconds to import

    server = Server(options)
    try:
        server.build_and_start()
    except ServingError as exc:
        # main.cc: "Failed to start server. Error: <status>" and exit code -1.
        print(f"Failed to start server. Error: {exc}", flush=True)
        logging.getLogger("fake_tfserving").error("Failed to start server. Error: %s", exc)
        server.shutdown()
        return 255
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
