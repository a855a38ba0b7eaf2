"""The operator against a real API server, scheduler, controller-manager and garbage collector."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.corpus import InvalidCase, invalid_cases

from .operator_fixtures import acme_models, crd, kubectl, operator, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "manifests" / "examples" / "vit.yaml"
GROUP, VERSION, PLURAL = "tfserving.dev", "v1alpha1", "servedmodels"


def example(namespace: str, **spec: Any) -> dict[str, Any]:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"]["namespace"] = namespace
    body["spec"].update(copy.deepcopy(spec))
    return body


def get_sm(k8s: Any, namespace: str, name: str) -> dict[str, Any]:
    return k8s.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)  # type: ignore[no-any-return]


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def test_crd_is_documented_for_kubectl_explain(crd: Path, kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "explain", "servedmodel.spec.labels").stdout
    assert "every target" in out.lower() or "version labels" in out.lower()
    out = kubectl(kubeconfig, "explain", "sm.spec.serving.accelerator.count").stdout
    assert "GPUs per pod" in out


@pytest.mark.parametrize("case", invalid_cases(), ids=lambda c: c.name)
def test_api_server_rejects_each_invalid_spec_naming_the_field(
    case: InvalidCase, crd: Path, kubeconfig: Path, namespace: str
) -> None:
    body = case.body()
    body["metadata"]["namespace"] = namespace
    proc = kubectl(
        kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(body), check=False
    )
    assert proc.returncode != 0, f"{case.name} was accepted by the API server"
    assert case.field in proc.stderr, proc.stderr
    if case.message:
        assert case.message in " ".join(proc.stderr.split()), proc.stderr


def test_readme_example_creates_children_on_the_gpu_pool_and_becomes_ready(
    operator: Any, acme_models: str, k8s: Any, kubeconfig: Path, namespace: str
) -> None:
    body = example(namespace)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))

    wait_for("the Deployment", lambda: k8s.apps.list_namespaced_deployment(namespace).items)
    cm = k8s.core.read_namespaced_config_map("vit-serving-config", namespace)
    assert "model_config_list" in cm.data["models.config"]
    assert k8s.core.read_namespaced_service("vit", namespace).spec.ports[0].port == 8500
    autoscaling = client.AutoscalingV2Api(k8s.api)
    hpa = wait_for(
        "the HPA",
        lambda: autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items,
    )[0]
    assert hpa.spec.max_replicas == 4
    assert hpa.spec.scale_target_ref.name == "vit-serving"

    def scheduled() -> list[Any]:
        pods = k8s.core.list_namespaced_pod(namespace, label_selector="tfserving.dev/role=server").items
        return [p for p in pods if p.spec.node_name]

    pods = wait_for("serving pods to be scheduled", scheduled)
    for pod in pods:
        node = k8s.core.read_node(pod.spec.node_name)
        assert node.metadata.labels["cloud.google.com/gke-accelerator"] == "nvidia-l4"

    def ready() -> dict[str, Any] | None:
        sm = get_sm(k8s, namespace, "vit")
        status = sm.get("status") or {}
        ok = condition(sm, "Ready").get("status") == "True"
        return sm if ok and status.get("observedGeneration") == sm["metadata"]["generation"] else None

    sm = wait_for("Ready with observedGeneration current", ready, timeout=90)
    assert sm["status"]["endpoints"]["grpc"] == f"vit.{namespace}.svc:8500"
    events = k8s.core.list_namespaced_event(namespace, field_selector="involvedObject.name=vit").items
    assert any(e.reason == "ReadyServing" for e in events), [e.reason for e in events]


def test_a_resync_with_nothing_changed_writes_nothing(
    operator: Any, acme_models: str, k8s: Any, kubeconfig: Path, namespace: str
) -> None:
    body = example(namespace, versions=[{"version": 1}], labels={"stable": 1})
    body["spec"]["serving"]["accelerator"] = {"type": "nvidia-tesla-t4"}
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    wait_for(
        "Ready",
        lambda: condition(get_sm(k8s, namespace, "vit"), "Ready").get("status") == "True",
        timeout=90,
    )
    api, key = operator.reconciler.api, (namespace, "vit")
    # Let in-flight passes settle, then count this object's write calls across several resyncs
    # (every 3 s). Other tests' objects may still be changing, so writes are counted per namespace.
    time.sleep(4)
    writes_before, passes_before = api.writes_by_namespace[namespace], operator.reconciler.passes[key]
    time.sleep(10)
    assert operator.reconciler.passes[key] - passes_before >= 3, "no resync happened"
    assert api.writes_by_namespace[namespace] == writes_before


def test_more_gpus_than_any_node_has_stays_pending_with_the_schedulers_reason(
    operator: Any, acme_models: str, k8s: Any, kubeconfig: Path, namespace: str
) -> None:
    body = example(namespace, versions=[{"version": 1}], labels={"stable": 1}, autoscaling=None)
    body["spec"].pop("autoscaling")
    body["spec"]["serving"]["accelerator"] = {"type": "nvidia-l4", "count": 8}
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))

    def unschedulable() -> dict[str, Any]:
        cond = condition(get_sm(k8s, namespace, "vit"), "Ready")
        return cond if cond.get("reason") == "Unschedulable" else {}

    cond = wait_for("Ready=False/Unschedulable", unschedulable, timeout=90)
    assert cond["status"] == "False"
    assert "nvidia.com/gpu" in cond["message"]


def test_deleting_the_servedmodel_removes_every_child(
    operator: Any, acme_models: str, k8s: Any, kubeconfig: Path, namespace: str
) -> None:
    body = example(namespace)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    wait_for("the Deployment", lambda: k8s.apps.list_namespaced_deployment(namespace).items)
    wait_for("the Service", lambda: k8s.core.list_namespaced_service(namespace).items)
    kubectl(kubeconfig, "delete", "servedmodel", "vit", "-n", namespace, "--wait=true")

    def gone() -> bool:
        return not (
            k8s.apps.list_namespaced_deployment(namespace).items
            or k8s.batch.list_namespaced_job(namespace).items
            or k8s.core.list_namespaced_service(namespace).items
            or [
                c
                for c in k8s.core.list_namespaced_config_map(namespace).items
                if c.metadata.name.startswith("vit")
            ]
        )

    wait_for("the garbage collector to remove the children", gone, timeout=90)
