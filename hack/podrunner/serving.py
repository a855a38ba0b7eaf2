"""The hook for serving pods (label tfserving.dev/role=server): which local process stands in for one.

`serving_process` gets a ServingPod (the pod, its IP, its dir, and its container's command line with
paths under volume mountPaths already rewritten to local paths) and returns the ProcessSpec to run,
or None to leave the pod to KWOK's pod-ready stage (it then turns Ready with no process behind it).

The default runs hack/fake_tfserving (`python -m fake_tfserving`, the same flags as
tensorflow_model_server plus --host=<pod IP>) when TFSO_RUN_SERVING=1 and the container's flags
name a model (--model_config_file or --model_base_path), and returns None otherwise.
To run something else, replace this function (the runner looks it up by name at each pod).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from podrunner.kube import Obj
from podrunner.process import ProcessSpec

RUN_SERVING_ENV = "TFSO_RUN_SERVING"


@dataclass(frozen=True)
class ServingPod:
    pod: Obj  # the Pod as the apiserver returned it
    pod_ip: str  # a 127.0.0.0/8 address the process must bind to
    pod_dir: Path  # the pod's local dir (volumes/, work/, log)
    argv: list[str]  # the container's command + args, paths localized
    repo_root: Path


def _model_server_flags(argv: list[str]) -> list[str]:
    """The flags of a tensorflow_model_server command line, whatever entrypoint the image uses."""
    return [a for a in argv if a.startswith("--")]


def serving_process(pod: ServingPod) -> ProcessSpec | None:
    if os.environ.get(RUN_SERVING_ENV) != "1":
        return None
    flags = [f for f in _model_server_flags(pod.argv) if not f.startswith("--host=")]
    # tensorflow_model_server needs one of these; without either this is not a model server's command.
    if not any(f.startswith(("--model_config_file=", "--model_base_path=")) for f in flags):
        return None
    return ProcessSpec(
        argv=[sys.executable, "-m", "fake_tfserving", *flags, f"--host={pod.pod_ip}"],
        env={"PYTHONPATH": str(pod.repo_root / "hack")},
    )
