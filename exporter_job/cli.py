"""Entry point of the export Job (`savedmodel-export`, `python -m exporter_job`).

The final error (or the success summary) also goes to the file named by TERMINATION_MESSAGE_PATH, or to
/dev/termination-log when that exists and is writable: Kubernetes shows that file's content in the pod's
`status.containerStatuses[].state.terminated.message` (terminationMessagePath, default /dev/termination-log).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from exporter_job.errors import ExitCode, ExportError
from exporter_job.options import build_parser, options_from_args

log = logging.getLogger("exporter_job")

DEFAULT_TERMINATION_LOG = "/dev/termination-log"
# The kubelet reads at most 4096 bytes of the termination message.
MAX_TERMINATION_MESSAGE = 4096


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    base = build_parser()
    parser = _Parser(prog=base.prog, description=base.description, epilog=base.epilog)
    parser._actions = base._actions
    parser._option_string_actions = base._option_string_actions
    parser._action_groups = base._action_groups
    parser._mutually_exclusive_groups = base._mutually_exclusive_groups
    parser._defaults = base._defaults
    return parser


def write_termination_message(message: str) -> None:
    path = os.environ.get("TERMINATION_MESSAGE_PATH")
    if path is None:
        if not (Path(DEFAULT_TERMINATION_LOG).exists() and os.access(DEFAULT_TERMINATION_LOG, os.W_OK)):
            return
        path = DEFAULT_TERMINATION_LOG
    try:
        Path(path).write_bytes(message.encode()[:MAX_TERMINATION_MESSAGE])
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)


def _fail(message: str, code: int) -> int:
    print(f"savedmodel-export: error: {message}", file=sys.stderr)
    write_termination_message(message)
    return code


def main(argv: list[str] | None = None) -> int:
    try:
        ns = _parser().parse_args(argv)
    except UsageError as exc:
        return _fail(
            f"{exc}. Fix: see `savedmodel-export --help` for the accepted flags and values.",
            ExitCode.BAD_INPUT,
        )
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=getattr(logging, ns.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    try:
        opts = options_from_args(ns)
        # TensorFlow is imported only past this point, so --help and flag errors stay fast.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        logging.getLogger("absl").setLevel(logging.WARNING)
        from exporter_job.export import run_export

        result = run_export(opts)
    except ExportError as exc:
        return _fail(exc.message, exc.code)
    except Exception as exc:
        log.exception("export failed")
        return _fail(
            f"unexpected {type(exc).__name__}: {str(exc).rstrip('.')}. Fix: this is a bug or an environment "
            "problem; the log above has the traceback. Nothing was published (the manifest is written "
            "last), so rerunning is safe.",
            ExitCode.INTERNAL,
        )
    log.info("%s", result.summary)
    print(result.summary)
    write_termination_message(result.summary)
    return ExitCode.OK
