"""`python -m podrunner --kubeconfig K --state-dir D [--gcs-endpoint URL]` (with PYTHONPATH=hack)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from podrunner.config import RunnerConfig
from podrunner.kube import Kube
from podrunner.runner import Runner


def main(argv: list[str] | None = None) -> int:
    repo_root = Path(__file__).resolve().parents[2]
    p = argparse.ArgumentParser(prog="podrunner", description=__doc__)
    p.add_argument("--kubeconfig", type=Path, default=os.environ.get("KUBECONFIG"))
    p.add_argument("--state-dir", type=Path, required=True, help="pod dirs go under <state-dir>/pods")
    p.add_argument("--gcs-endpoint", default=os.environ.get("STORAGE_EMULATOR_HOST"))
    p.add_argument("--repo-root", type=Path, default=repo_root)
    args = p.parse_args(argv)
    if args.kubeconfig is None or not args.kubeconfig.is_file():
        p.error(f"--kubeconfig: {args.kubeconfig} is not a file (run hack/cluster/up.sh first)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = RunnerConfig(args.kubeconfig, args.state_dir, args.repo_root, args.gcs_endpoint)
    runner = Runner(cfg, Kube(cfg.kubeconfig))

    def stop(signum: int, frame: object) -> None:
        runner.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
