"""Small builders of ServedModels for the unit tests."""

from __future__ import annotations

import copy
from typing import Any

from tfserving_operator.spec import ServedModel, parse_servedmodel
from tfserving_operator.validation import validate_document, with_defaults

EXAMPLE: dict[str, Any] = {
    "apiVersion": "tfserving.dev/v1alpha1",
    "kind": "ServedModel",
    "metadata": {"name": "vit", "namespace": "ml", "uid": "0000-uid", "generation": 3},
    "spec": {
        "storageUri": "gs://acme-models/vit",
        "modelName": "vit",
        "versions": [
            {"version": 1},
            {
                "version": 2,
                "export": {"source": "gs://acme-models/src/vit-2.keras", "preset": "image-classifier"},
            },
        ],
        "labels": {"stable": 1, "canary": 2},
        "serving": {
            "image": "tensorflow/serving:2.18.0-gpu",
            "accelerator": {"type": "nvidia-l4", "count": 1},
            "resources": {"requests": {"cpu": "2", "memory": "8Gi"}},
            "batching": {"maxBatchSize": 32, "batchTimeoutMicros": 2000, "numBatchThreads": 4},
        },
        "autoscaling": {"minReplicas": 1, "maxReplicas": 4},
    },
}


def body(**spec_changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    for key, value in spec_changes.items():
        if value is None:
            doc["spec"].pop(key, None)
        else:
            doc["spec"][key] = value
    return doc


def servedmodel(**spec_changes: Any) -> ServedModel:
    doc = body(**spec_changes)
    problems = validate_document(doc)
    assert not problems, [p.render() for p in problems]
    return parse_servedmodel(with_defaults(doc))
