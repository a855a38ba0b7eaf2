"""Export Jobs on the real cluster: the pod really runs the exporter and the version appears in GCS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.models import publish_source

from .operator_fixtures import crd, kubectl, operator, wait_for  # noqa: F401
from .test_servedmodel import condition, get_sm


def servedmodel(namespace: str, source: str, bucket: str) -> dict[str, Any]:
    return {
        "apiVersion": "tfserving.dev/v1alpha1",
        "kind": "ServedModel",
        "metadata": {"name": "scale", "namespace": namespace},
        "spec": {
            "storageUri": f"gs://{bucket}/{namespace}/scale",
            "versions": [{"version": 1, "export": {"source": source, "preset": "passthrough"}}],
            "labels": {"stable": 1},
            "serving": {"replicas": 1},
        },
    }


def test_an_export_job_publishes_the_version_and_the_operator_sees_it(
    operator: Any, k8s: Any, kubeconfig: Path, namespace: str, gcs_endpoint: str
) -> None:
    source = publish_source(f"gs://e2e-models/{namespace}/src/scale-1.keras", factor=1.0)
    body = servedmodel(namespace, source, "e2e-models")
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))

    job = wait_for("the export Job", lambda: k8s.batch.list_namespaced_job(namespace).items)[0]
    assert job.metadata.name == "scale-export-1"
    wait_for(
        "Exported=True",
        lambda: condition(get_sm(k8s, namespace, "scale"), "Exported").get("status") == "True",
        timeout=240,
        interval=2,
    )
    from exporter_job.manifest import VerifiedVersion, verify_version

    assert isinstance(verify_version(f"gs://e2e-models/{namespace}/scale/1"), VerifiedVersion)
    # The manifest can be visible a moment before the Job controller counts the pod's exit.
    wait_for(
        "the export Job to succeed",
        lambda: k8s.batch.read_namespaced_job("scale-export-1", namespace).status.succeeded == 1,
        timeout=60,
    )
    sm = get_sm(k8s, namespace, "scale")
    assert {"version": 1, "state": "Exported"} in sm["status"]["versions"] or any(
        v["version"] == 1 and v["state"] in ("Available", "Loading") for v in sm["status"]["versions"]
    )
    assert sm["status"]["rollout"]["stage"] == {"versions": [1], "labels": {"stable": 1}}


def test_a_failing_export_shows_the_exporters_message_in_status_and_events(
    operator: Any, k8s: Any, kubeconfig: Path, namespace: str, gcs_endpoint: str
) -> None:
    publish_source(f"gs://e2e-models/{namespace}/src/other.keras", factor=1.0)  # the bucket exists
    missing = f"gs://e2e-models/{namespace}/src/does-not-exist.keras"
    body = servedmodel(namespace, missing, "e2e-models")
    body["spec"]["versions"][0]["export"]["backoffLimit"] = 0
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))

    def failed() -> dict[str, Any]:
        cond = condition(get_sm(k8s, namespace, "scale"), "Exported")
        return cond if cond.get("reason") == "ExportFailed" else {}

    cond = wait_for("Exported=False/ExportFailed", failed, timeout=240, interval=2)
    assert "does-not-exist.keras" in cond["message"], cond
    assert condition(get_sm(k8s, namespace, "scale"), "Degraded").get("status") == "True"
    events = k8s.core.list_namespaced_event(namespace, field_selector="involvedObject.name=scale").items
    assert any(e.type == "Warning" and "does-not-exist.keras" in e.message for e in events)
    # Nothing was published for the version.
    from exporter_job.manifest import VersionProblem, verify_version

    assert isinstance(verify_version(f"gs://e2e-models/{namespace}/scale/1"), VersionProblem)
