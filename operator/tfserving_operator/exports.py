"""Pure builder of the export Job that produces one SavedModel version."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import naming as n
from .children import Manifest, owner_reference
from .settings import OperatorSettings
from .spec import Export, ServedModel

EXPORT_HASH_ANNOTATION = "tfserving.dev/export-hash"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


def export_args(sm: ServedModel, version: int, export: Export) -> list[str]:
    return [
        f"--source={export.source}",
        f"--output={sm.spec.storage_uri}",
        f"--version={version}",
        f"--preset={export.preset}",
        *export.args,
    ]


def export_hash(sm: ServedModel, version: int, export: Export, settings: OperatorSettings) -> str:
    """Identifies what a Job exports; a Job's pod template is immutable, so a change means a new Job."""
    key = json.dumps(
        [export_args(sm, version, export), export.image or settings.exporter_image], sort_keys=True
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def export_job(sm: ServedModel, version: int, export: Export, settings: OperatorSettings) -> Manifest:
    labels = {**n.common_labels(sm), n.ROLE_LABEL: "exporter", n.VERSION_LABEL: str(version)}
    resources: dict[str, Any] = {}
    if export.resources.requests:
        resources["requests"] = dict(export.resources.requests)
    if export.resources.limits:
        resources["limits"] = dict(export.resources.limits)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "exporter",
                "image": export.image or settings.exporter_image,
                "command": ["savedmodel-export"],
                "args": export_args(sm, version, export),
                "env": [
                    {"name": "TERMINATION_MESSAGE_PATH", "value": TERMINATION_MESSAGE_PATH},
                    {"name": "HOME", "value": "/tmp"},
                ],
                "terminationMessagePath": TERMINATION_MESSAGE_PATH,
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "resources": resources,
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "work", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "work", "emptyDir": {}}],
    }
    if export.service_account_name:
        pod_spec["serviceAccountName"] = export.service_account_name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": n.export_job_name(sm, version),
            "namespace": sm.namespace,
            "labels": labels,
            "annotations": {EXPORT_HASH_ANNOTATION: export_hash(sm, version, export, settings)},
            "ownerReferences": [owner_reference(sm)],
        },
        "spec": {
            "backoffLimit": export.backoff_limit,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
