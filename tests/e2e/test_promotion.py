"""End to end: a canary, a promotion and a rollback while clients keep calling both labels.

Export Jobs really run the exporter; every serving pod is a TF-Serving-compatible server bound to
the pod's loopback IP. Clients call the pods directly (as a Service would), by label.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.models import publish_source

from .operator_fixtures import crd, kubectl, operator, wait_for  # noqa: F401
from .test_servedmodel import condition, get_sm

INPUT = {"instances": [[1.0, 1.0, 1.0]]}  # version N answers N * 3


@dataclass
class Traffic:
    """Predict calls by label to every ready serving pod, until stopped."""

    k8s: Any
    namespace: str
    name: str
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    answers: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        http = requests.Session()
        http.trust_env = False  # pod IPs, directly
        pods: list[tuple[str, str]] = []
        labels: list[str] = []
        refreshed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - refreshed > 1.0:
                pods = self._ready_pods()
                # Only labels every ready replica already resolves; from then on they must keep working.
                labels = sorted(
                    (get_sm(self.k8s, self.namespace, self.name).get("status") or {}).get("liveLabels") or {}
                )
                refreshed = time.monotonic()
            for pod, ip in pods:
                for label in labels:
                    url = f"http://{ip}:8501/v1/models/{self.name}/labels/{label}:predict"
                    self.calls += 1
                    try:
                        response = http.post(url, json=INPUT, timeout=10)
                    except requests.RequestException as err:
                        self.failures.append(f"{pod} {label}: {err}")
                        continue
                    if response.status_code != 200:
                        self.failures.append(f"{pod} {label}: {response.status_code} {response.text[:200]}")
                    else:
                        self.answers[(pod, label)].append(response.json()["predictions"][0][0])
            time.sleep(0.05)

    def _ready_pods(self) -> list[tuple[str, str]]:
        pods = self.k8s.core.list_namespaced_pod(
            self.namespace, label_selector="tfserving.dev/role=server"
        ).items
        out = []
        for pod in pods:
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
            if ready and pod.status.pod_ip and not pod.metadata.deletion_timestamp:
                out.append((pod.metadata.name, pod.status.pod_ip))
        return out

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def set_labels(kubeconfig: Path, namespace: str, labels: dict[str, int]) -> None:
    patch = {"spec": {"labels": labels}}
    kubectl(
        kubeconfig,
        "patch",
        "servedmodel",
        "scale",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        yaml.safe_dump(patch),
    )


def wait_live(k8s: Any, namespace: str, labels: dict[str, int], timeout: float = 180) -> dict[str, Any]:
    def live() -> dict[str, Any] | None:
        sm = get_sm(k8s, namespace, "scale")
        status = sm.get("status") or {}
        settled = status.get("rollout", {}).get("phase") == "Idle"
        return sm if settled and status.get("liveLabels") == labels else None

    return wait_for(f"labels {labels} live on every replica", live, timeout=timeout, interval=1)  # type: ignore[no-any-return]


def unloaded_everywhere(k8s: Any, namespace: str, version: int) -> bool:
    http = requests.Session()
    http.trust_env = False
    pods = k8s.core.list_namespaced_pod(namespace, label_selector="tfserving.dev/role=server").items
    for pod in pods:
        states = http.get(f"http://{pod.status.pod_ip}:8501/v1/models/scale", timeout=5).json()
        live = {
            int(v["version"])
            for v in states["model_version_status"]
            if v["state"] not in ("END", "UNLOADING")
        }
        if version in live:
            return False
    return True


def pod_identities(k8s: Any, namespace: str) -> dict[str, tuple[str, int]]:
    pods = k8s.core.list_namespaced_pod(namespace, label_selector="tfserving.dev/role=server").items
    return {
        p.metadata.name: (p.metadata.uid, sum(c.restart_count for c in p.status.container_statuses or []))
        for p in pods
    }


def serve_two_versions(
    kubeconfig: Path, k8s: Any, namespace: str, serving: dict[str, Any], rollout: dict[str, Any]
) -> str:
    """A ServedModel `scale` whose versions 1 and 2 are exported by Jobs, serving stable=1; its base URI."""
    src = f"gs://e2e-models/{namespace}/src"
    base = f"gs://e2e-models/{namespace}/scale"
    body = {
        "apiVersion": "tfserving.dev/v1alpha1",
        "kind": "ServedModel",
        "metadata": {"name": "scale", "namespace": namespace},
        "spec": {
            "storageUri": base,
            "versions": [
                {"version": v, "export": {"source": publish_source(f"{src}/scale-{v}.keras", factor=v)}}
                for v in (1, 2)
            ],
            "labels": {"stable": 1},
            "serving": serving,
            "rollout": rollout,
        },
    }
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    wait_for(
        "both versions exported",
        lambda: condition(get_sm(k8s, namespace, "scale"), "Exported").get("status") == "True",
        timeout=300,
        interval=2,
    )
    wait_live(k8s, namespace, {"stable": 1})
    return base


def test_canary_promotion_and_rollback_without_a_failed_request_or_a_restart(
    operator: Any, local_cluster: Any, k8s: Any, kubeconfig: Path, namespace: str, gcs_endpoint: str
) -> None:
    serving = {"replicas": 2, "accelerator": {"type": "nvidia-tesla-t4"}}
    serve_two_versions(kubeconfig, k8s, namespace, serving, {"stageTimeoutSeconds": 300})
    wait_for(
        "Ready",
        lambda: condition(get_sm(k8s, namespace, "scale"), "Ready").get("status") == "True",
        timeout=120,
    )
    pods_before = pod_identities(k8s, namespace)
    assert len(pods_before) == 2

    with Traffic(k8s, namespace, "scale") as traffic:
        time.sleep(2)
        set_labels(kubeconfig, namespace, {"stable": 1, "canary": 2})
        wait_live(k8s, namespace, {"stable": 1, "canary": 2})
        time.sleep(2)
        set_labels(kubeconfig, namespace, {"stable": 2, "canary": 2})
        sm = wait_live(k8s, namespace, {"stable": 2, "canary": 2})
        assert sm["status"]["rollout"]["stage"]["versions"] == [2]
        wait_for(
            "version 1 unloaded on every server", lambda: unloaded_everywhere(k8s, namespace, 1), timeout=60
        )
        time.sleep(2)
        # Rollback: version 1 was dropped, so it is loaded again before stable moves back.
        set_labels(kubeconfig, namespace, {"stable": 1, "canary": 2})
        wait_live(k8s, namespace, {"stable": 1, "canary": 2})
        time.sleep(2)

    assert traffic.failures == [], traffic.failures[:10]
    assert traffic.calls > 100
    for (pod, label), values in traffic.answers.items():
        if label == "canary":
            assert set(values) == {6.0}, (pod, values)
            continue
        # stable: version 1 until the move, 2 after it, then 1 again after the rollback; never back and forth.
        changes = [b for a, b in itertools.pairwise(values) if a != b]
        assert values[0] == 3.0 and changes == [6.0, 3.0], (pod, changes)
    assert pod_identities(k8s, namespace) == pods_before, "a serving pod was restarted or replaced"
    events = k8s.core.list_namespaced_event(namespace, field_selector="involvedObject.name=scale").items
    reasons = {e.reason for e in events}
    assert {"PromotingLoading", "PromotingMovingLabels", "PromotingUnloading"} <= reasons, reasons


def test_a_version_that_fails_to_load_aborts_and_keeps_the_old_labels(
    operator: Any, local_cluster: Any, k8s: Any, kubeconfig: Path, namespace: str, gcs_endpoint: str
) -> None:
    """Version 2's directory holds a complete manifest but a SavedModel TF cannot load."""
    from tests.support.models import upload

    # Fail fast: by default TF Serving retries a failing load 5 times, a minute apart.
    serving = {"replicas": 1, "extraArgs": ["--max_num_load_retries=0"]}
    base = serve_two_versions(kubeconfig, k8s, namespace, serving, {"stageTimeoutSeconds": 600})
    # Corrupt version 2's graph after its manifest check passed (the operator caches complete versions).
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pb") as junk:
        junk.write(b"not a SavedModel")
        junk.flush()
        upload(Path(junk.name), f"{base}/2/saved_model.pb")
    set_labels(kubeconfig, namespace, {"stable": 1, "canary": 2})

    def degraded() -> dict[str, Any]:
        cond = condition(get_sm(k8s, namespace, "scale"), "Degraded")
        return cond if cond.get("status") == "True" else {}

    cond = wait_for("Degraded=True", degraded, timeout=600, interval=2)
    assert cond["reason"] == "LoadFailed", cond
    sm = get_sm(k8s, namespace, "scale")
    assert sm["status"]["liveLabels"] == {"stable": 1}, "the old labels keep serving"
    assert condition(sm, "Promoting")["reason"] == "Aborted"
