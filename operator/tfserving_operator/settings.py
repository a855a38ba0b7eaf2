"""Operator-wide settings, read once from the environment (the Helm chart and manifests set them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

FIELD_MANAGER = "tfserving-operator"
ANNOTATION_PREFIX = "tfserving.dev"


@dataclass(frozen=True)
class OperatorSettings:
    exporter_image: str = "tfserving-operator/exporter:0.1.0"
    accelerator_label_key: str = "cloud.google.com/gke-accelerator"
    gpu_resource: str = "nvidia.com/gpu"
    gpu_taint_key: str = "nvidia.com/gpu"
    resync_seconds: float = 60.0
    rollout_poll_seconds: float = 0.5
    replica_timeout_seconds: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> OperatorSettings:
        defaults = cls()
        return cls(
            exporter_image=env.get("TFSO_EXPORTER_IMAGE", defaults.exporter_image),
            accelerator_label_key=env.get("TFSO_ACCELERATOR_LABEL_KEY", defaults.accelerator_label_key),
            gpu_resource=env.get("TFSO_GPU_RESOURCE", defaults.gpu_resource),
            gpu_taint_key=env.get("TFSO_GPU_TAINT_KEY", defaults.gpu_taint_key),
            resync_seconds=float(env.get("TFSO_RESYNC_SECONDS", defaults.resync_seconds)),
            rollout_poll_seconds=float(env.get("TFSO_ROLLOUT_POLL_SECONDS", defaults.rollout_poll_seconds)),
            replica_timeout_seconds=float(
                env.get("TFSO_REPLICA_TIMEOUT_SECONDS", defaults.replica_timeout_seconds)
            ),
        )
