"""The local cluster is a real Kubernetes cluster, shaped like GKE, and stays on loopback."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import urllib.error
import urllib.request
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import utils

from .operator_fixtures import wait_for

if TYPE_CHECKING:
    from tests.e2e.conftest import Cluster, K8s

Obj = dict[str, Any]
POOLS = {"cpu-pool": None, "l4-pool": ("nvidia-l4", 1), "t4-pool": ("nvidia-tesla-t4", 2)}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def raw(resp: Any) -> Obj:
    return json.loads(resp.data)


def pods(k8s: K8s, ns: str, selector: str | None = None) -> list[Obj]:
    return raw(k8s.core.list_namespaced_pod(ns, label_selector=selector, _preload_content=False))["items"]


def pod(k8s: K8s, ns: str, name: str) -> Obj:
    return raw(k8s.core.read_namespaced_pod(name, ns, _preload_content=False))


def create(k8s: K8s, ns: str, manifest: Obj) -> None:
    utils.create_from_dict(k8s.api, manifest, namespace=ns)


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == kind), None)


def bare_pod(name: str, **spec: Any) -> Obj:
    container = {"name": "main", "image": "registry.invalid/none:1", **spec.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def job(name: str, command: list[str], **container: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "python:3.11-slim", "command": command, **container}
                    ],
                }
            },
        },
    }


def job_condition(k8s: K8s, ns: str, name: str) -> str | None:
    """'Complete' or 'Failed' once the real Job controller has decided, else None."""
    j = raw(k8s.batch.read_namespaced_job(name, ns, _preload_content=False))
    for kind in ("Complete", "Failed"):
        c = condition(j, kind)
        if c and c["status"] == "True":
            return kind
    return None


def job_pod(k8s: K8s, ns: str, name: str) -> Obj:
    return wait_for(f"a pod of job {name}", lambda: pods(k8s, ns, f"batch.kubernetes.io/job-name={name}"))[0]


def test_node_pools_look_like_gke(local_cluster: Cluster, k8s: K8s) -> None:
    nodes = raw(k8s.core.list_node(label_selector="type=kwok", _preload_content=False))["items"]
    by_pool: dict[str, list[Obj]] = {}
    for n in nodes:
        by_pool.setdefault(n["metadata"]["labels"]["cloud.google.com/gke-nodepool"], []).append(n)
    assert {p: len(ns) for p, ns in by_pool.items()} == {"cpu-pool": 2, "l4-pool": 2, "t4-pool": 2}
    for pool, gpu in POOLS.items():
        for n in by_pool[pool]:
            assert _ready(n), f"node {n['metadata']['name']} is not Ready"
            labels, taints = n["metadata"]["labels"], n["spec"].get("taints") or []
            if gpu is None:
                assert "cloud.google.com/gke-accelerator" not in labels
                assert "nvidia.com/gpu" not in n["status"]["allocatable"]
                assert taints == []
                continue
            accelerator, count = gpu
            assert labels["cloud.google.com/gke-accelerator"] == accelerator
            assert n["status"]["capacity"]["nvidia.com/gpu"] == str(count)
            assert n["status"]["allocatable"]["nvidia.com/gpu"] == str(count)
            assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in taints
            assert {"cpu", "memory", "pods"} <= set(n["status"]["allocatable"])


def test_pod_ips_and_pod_cidrs_are_loopback(local_cluster: Cluster, k8s: K8s, namespace: str) -> None:
    create(k8s, namespace, bare_pod("plain"))
    running = wait_for("pod plain running", lambda: pod(k8s, namespace, "plain")["status"].get("podIP"))
    node = raw(k8s.core.read_node(pod(k8s, namespace, "plain")["spec"]["nodeName"], _preload_content=False))
    # KWOK gave the pod an address from its node's podCIDR (127.10.N.0/24), not its 10.0.0.0/24 default.
    assert ipaddress.ip_address(running) in ipaddress.ip_network(node["spec"]["podCIDR"])
    assert all_addresses_outside_loopback(k8s) == []


def all_addresses_outside_loopback(k8s: K8s) -> list[str]:
    loopback = ipaddress.ip_network("127.0.0.0/8")
    bad = []
    for node in raw(k8s.core.list_node(_preload_content=False))["items"]:
        cidrs = node["spec"].get("podCIDRs") or [node["spec"].get("podCIDR") or "0.0.0.0/32"]
        bad += [
            f"node {node['metadata']['name']}: {c}"
            for c in cidrs
            if ipaddress.ip_network(c).network_address not in loopback
        ]
    for p in raw(k8s.core.list_pod_for_all_namespaces(_preload_content=False))["items"]:
        for ip in p["status"].get("podIPs") or []:
            if ipaddress.ip_address(ip["ip"]) not in loopback:
                bad.append(f"pod {p['metadata']['namespace']}/{p['metadata']['name']}: {ip['ip']}")
    return bad


def test_gpu_pod_lands_on_the_requested_accelerator_pool(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    for accelerator in ("nvidia-l4", "nvidia-tesla-t4"):
        name = f"gpu-{accelerator}"
        create(
            k8s,
            namespace,
            bare_pod(
                name,
                tolerations=[GPU_TOLERATION],
                nodeSelector={"cloud.google.com/gke-accelerator": accelerator},
                container={"resources": {"limits": {"nvidia.com/gpu": "1"}}},
            ),
        )
    for accelerator in ("nvidia-l4", "nvidia-tesla-t4"):
        p = wait_for("GPU pod Ready", partial(ready_pod, k8s, namespace, f"gpu-{accelerator}"))
        node = raw(k8s.core.read_node(p["spec"]["nodeName"], _preload_content=False))
        assert node["metadata"]["labels"]["cloud.google.com/gke-accelerator"] == accelerator


def _ready(p: Obj) -> Obj | None:
    c = condition(p, "Ready")
    return p if c and c["status"] == "True" else None


def ready_pod(k8s: K8s, ns: str, name: str) -> Obj | None:
    return _ready(pod(k8s, ns, name))


def test_pod_wanting_more_gpus_than_any_node_stays_pending(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    create(
        k8s,
        namespace,
        bare_pod(
            "greedy",
            tolerations=[GPU_TOLERATION],
            container={"resources": {"limits": {"nvidia.com/gpu": "3"}}},
        ),
    )

    def failed_scheduling() -> list[Obj]:
        events = raw(k8s.core.list_namespaced_event(namespace, _preload_content=False))["items"]
        return [e for e in events if e["reason"] == "FailedScheduling"]

    # The real scheduler's verdict, e.g. "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, ...".
    event = wait_for(
        "FailedScheduling for lack of GPUs",
        lambda: next((e for e in failed_scheduling() if "Insufficient nvidia.com/gpu" in e["message"]), None),
    )
    assert event["involvedObject"]["name"] == "greedy"
    assert event["source"].get("component", event.get("reportingComponent")) == "default-scheduler"
    p = pod(k8s, namespace, "greedy")
    assert p["status"]["phase"] == "Pending" and not p["spec"].get("nodeName")
    assert condition(p, "PodScheduled")["reason"] == "Unschedulable"  # type: ignore[index]


def test_job_pod_runs_for_real_and_the_job_completes(
    local_cluster: Cluster, k8s: K8s, namespace: str, gcs_endpoint: str
) -> None:
    create(
        k8s,
        namespace,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "sekret"}},
    )
    create(
        k8s,
        namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "conf"}},
    )
    script = (
        "import os, sys; e = os.environ; "
        "print('hello from', e['POD_NAME'], e['SECRET'], e['CONF'], e['LITERAL'], "
        "e['STORAGE_EMULATOR_HOST']); "
        "print('python', sys.executable)"
    )
    manifest = job("hello", ["python", "-c", script])
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "CONF", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "LITERAL", "value": "x-$(CONF)"},
    ]
    create(k8s, namespace, manifest)
    assert wait_for("job hello to finish", lambda: job_condition(k8s, namespace, "hello")) == "Complete"
    p = job_pod(k8s, namespace, "hello")
    assert p["status"]["phase"] == "Succeeded"
    terminated = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    logs = subprocess.run(
        ["bash", "hack/cluster/logs.sh", p["metadata"]["name"], namespace],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"hello from {p['metadata']['name']} sekret conf x-conf {gcs_endpoint}" in logs
    # The project's venv comes first on PATH, so `python` is the one with the project's packages.
    assert "/.venv/bin/python" in logs


def test_failing_job_reports_exit_code_and_termination_message(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    writes_message = (
        "import os, sys; "
        "open(os.environ['TERMINATION_MESSAGE_PATH'], 'w').write('bad storageUri: gs://nope'); "
        "sys.exit(3)"
    )
    create(k8s, namespace, job("explicit", ["python", "-c", writes_message]))
    logs_only = "import sys; print('stack trace here', file=sys.stderr); sys.exit(3)"
    create(
        k8s,
        namespace,
        job("fallback", ["python", "-c", logs_only], terminationMessagePolicy="FallbackToLogsOnError"),
    )
    for name, message in (("explicit", "bad storageUri: gs://nope"), ("fallback", "stack trace here\n")):
        assert wait_for(f"job {name} to finish", partial(job_condition, k8s, namespace, name)) == "Failed"
        p = job_pod(k8s, namespace, name)
        assert p["status"]["phase"] == "Failed"
        terminated = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (3, "Error", message)


def test_on_failure_job_pod_restarts_in_place_and_keeps_its_volume(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    # Fails on the first run, succeeds on the second: the emptyDir outlives a container restart.
    script = (
        "import os, sys; marker = sys.argv[1]; again = os.path.exists(marker); "
        "open(marker, 'w').close(); print('second run' if again else 'first run'); "
        "sys.exit(0 if again else 1)"
    )
    manifest = job("flaky", ["python", "-c", script, "/scratch/attempted"])
    manifest["spec"]["backoffLimit"] = 2
    template = manifest["spec"]["template"]["spec"]
    template["restartPolicy"] = "OnFailure"
    template["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    template["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    create(k8s, namespace, manifest)
    assert wait_for("job flaky to finish", partial(job_condition, k8s, namespace, "flaky")) == "Complete"
    status = job_pod(k8s, namespace, "flaky")["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["terminated"]["exitCode"] == 0


def test_deleting_a_deployment_garbage_collects_its_pods(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    labels = {"app": "gc"}
    create(
        k8s,
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "gc"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": bare_pod("x")["spec"]},
            },
        },
    )
    wait_for("2 ready replicas", lambda: [p for p in pods(k8s, namespace, "app=gc") if _ready(p)][1:])
    k8s.apps.delete_namespaced_deployment("gc", namespace, propagation_policy="Background")
    wait_for("pods garbage-collected", lambda: pods(k8s, namespace, "app=gc") == [])
    assert raw(k8s.apps.list_namespaced_replica_set(namespace, _preload_content=False))["items"] == []


def test_serving_pod_without_a_model_server_command_is_left_to_kwok(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    manifest = bare_pod("server", container={"args": ["--port=8500", "--rest_api_port=8501"]})
    manifest["metadata"]["labels"] = {"tfserving.dev/role": "server"}
    create(k8s, namespace, manifest)
    p = wait_for("serving pod Ready", partial(ready_pod, k8s, namespace, "server"))
    assert p["metadata"]["annotations"]["podrunner.tfserving.dev/status-owner"] == "kwok"
    assert "containerID" not in p["status"]["containerStatuses"][0]  # KWOK's status, no process


MODELS_CONFIG = "model_config_list {}\n"
MONITORING_CONFIG = 'prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n'


def test_serving_pod_runs_a_model_server_on_its_own_loopback_ip(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    if not local_cluster.serving_processes:
        pytest.skip("the pod runner does not run serving pods here (TFSO_RUN_SERVING=0)")
    create(
        k8s,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "tfs"},
            "data": {"models.config": MODELS_CONFIG, "monitoring.config": MONITORING_CONFIG},
        },
    )
    manifest = bare_pod(
        "tfs",
        tolerations=[GPU_TOLERATION],
        nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-l4"},
        volumes=[{"name": "config", "configMap": {"name": "tfs"}}],
        container={
            "image": "tensorflow/serving:2.19.0-gpu",
            "args": [
                "--port=8500",
                "--rest_api_port=8501",
                "--model_config_file=/etc/tfs/models.config",
                "--model_config_file_poll_wait_seconds=1",
                "--monitoring_config_file=/etc/tfs/monitoring.config",
            ],
            "ports": [{"name": "http", "containerPort": 8501}, {"name": "grpc", "containerPort": 8500}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}},
            "readinessProbe": {
                "httpGet": {"path": "/monitoring/prometheus/metrics", "port": "http"},
                "periodSeconds": 1,
            },
            "volumeMounts": [{"name": "config", "mountPath": "/etc/tfs"}],
        },
    )
    manifest["metadata"]["labels"] = {"tfserving.dev/role": "server"}
    create(k8s, namespace, manifest)
    # Not Ready before the probe passes: the model server needs a few seconds to start.
    running = wait_for("tfs running", lambda: pod(k8s, namespace, "tfs")["status"].get("phase") == "Running")
    assert running and not ready_pod(k8s, namespace, "tfs")
    p = wait_for("tfs Ready (readiness probe passed)", partial(ready_pod, k8s, namespace, "tfs"), timeout=90)
    ip = p["status"]["podIP"]
    node = raw(k8s.core.read_node(p["spec"]["nodeName"], _preload_content=False))
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(node["spec"]["podCIDR"])
    # The model server really listens on the pod's IP and answers like TF Serving.
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://{ip}:8501/v1/models/absent", timeout=5)
    assert missing.value.code == 404
    assert "Could not find any versions" in missing.value.read().decode()

    # ConfigMap updates reach the process's copy of the volume, as the kubelet syncs them.
    updated = "model_config_list {}\n# updated\n"
    k8s.core.patch_namespaced_config_map("tfs", namespace, {"data": {"models.config": updated}})
    assert local_cluster.state_dir is not None
    local = (
        local_cluster.state_dir / "pods" / f"{namespace}_tfs_{p['metadata']['uid']}" / "volumes" / "config"
    )
    wait_for(
        "the updated models.config", lambda: (local / "models.config").read_text() == updated, timeout=20
    )

    pid = int(p["status"]["containerStatuses"][0]["containerID"].removeprefix("podrunner://"))
    k8s.core.delete_namespaced_pod("tfs", namespace)
    wait_for("the model server to stop", lambda: not _alive(pid), timeout=30)


def test_pod_runner_stops_the_process_of_a_deleted_pod(
    local_cluster: Cluster, k8s: K8s, namespace: str
) -> None:
    create(
        k8s,
        namespace,
        job("sleeper", ["python", "-c", "import time; print('up', flush=True); time.sleep(600)"]),
    )
    p = wait_for(
        "sleeper running", lambda: [x for x in pods(k8s, namespace) if x["status"].get("phase") == "Running"]
    )[0]
    pid = int(p["status"]["containerStatuses"][0]["containerID"].removeprefix("podrunner://"))
    assert _alive(pid)
    k8s.batch.delete_namespaced_job("sleeper", namespace, propagation_policy="Background")
    wait_for("the pod's process to stop", lambda: not _alive(pid), timeout=30)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
