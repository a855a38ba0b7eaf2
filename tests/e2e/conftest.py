"""The e2e tier: tests against a real Kubernetes API server.

With KUBECONFIG set in the environment, the suite runs against that cluster (kind, GKE, ...).
Otherwise it uses the local cluster (hack/cluster/up.sh: a real control plane with KWOK nodes, a
GCS stand-in and the pod runner). A local cluster that was already up is reused and left running;
one this session brought up is torn down at the end (TFSO_KEEP_CLUSTER=1 keeps it), so a CI run
leaves no processes behind.

When it runs up.sh, the pod runner runs fake_tfserving for serving pods (TFSO_RUN_SERVING=0 turns
that off). On the local cluster the harness enforces the network rule: every node podCIDR and pod IP must be
inside 127.0.0.0/8, checked when the session starts and for each test's namespace at its end.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPTS = REPO / "hack" / "cluster"
E2E_DIR = Path(__file__).resolve().parent
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
# A cold `up.sh` builds Kubernetes, etcd, KWOK and Helm from source: many minutes on 2 cores.
UP_TIMEOUT_SECONDS = 3600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    gcs_endpoint: str | None  # STORAGE_EMULATOR_HOST, when the cluster has a GCS stand-in
    local: bool  # the hack/cluster one (KWOK nodes, pod runner, loopback network)
    state_dir: Path | None  # local cluster only: logs and pod dirs
    serving_processes: bool  # local cluster only: the pod runner runs fake_tfserving for serving pods


@dataclass(frozen=True)
class K8s:
    api: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    batch: client.BatchV1Api
    custom: client.CustomObjectsApi


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _local_state() -> dict[str, str] | None:
    """The env file of a local cluster whose API server answers, or None."""
    proc = subprocess.run(
        ["bash", str(CLUSTER_SCRIPTS / "kubeconfig.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    env_file = Path(proc.stdout.strip()).parents[3] / "env"
    if not env_file.is_file():
        return None
    ready = subprocess.run(
        ["kubectl", "--kubeconfig", proc.stdout.strip(), "--request-timeout=3s", "get", "--raw", "/readyz"],
        capture_output=True,
        check=False,
    )
    return _read_env_file(env_file) if ready.returncode == 0 else None


def _run_script(name: str, timeout: float, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        ["bash", str(CLUSTER_SCRIPTS / name)], timeout=timeout, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        pytest.fail(f"hack/cluster/{name} failed with exit code {proc.returncode} (its output is above)")


def outside_loopback(value: str) -> bool:
    net = ipaddress.ip_network(value, strict=False)
    return not (isinstance(net, ipaddress.IPv4Network) and net.subnet_of(LOOPBACK))


def _items(resp: Any) -> list[dict[str, Any]]:
    return json.loads(resp.data)["items"]


def loopback_violations(core: client.CoreV1Api, namespace: str | None = None) -> list[str]:
    """Node podCIDRs (cluster-wide) or pod IPs (of `namespace`, or all) outside 127.0.0.0/8."""
    bad = []
    if namespace is None:
        for node in _items(core.list_node(_preload_content=False)):
            spec = node["spec"]
            cidrs = spec.get("podCIDRs") or [spec.get("podCIDR") or "missing"]
            bad += [
                f"node {node['metadata']['name']} podCIDR {c}"
                for c in cidrs
                if c == "missing" or outside_loopback(c)
            ]
        pods = _items(core.list_pod_for_all_namespaces(_preload_content=False))
    else:
        pods = _items(core.list_namespaced_pod(namespace, _preload_content=False))
    for pod in pods:
        status = pod.get("status", {})
        ips = [p["ip"] for p in status.get("podIPs") or []] + [status.get("podIP") or ""]
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        bad += [f"pod {key} IP {ip}" for ip in ips if ip and outside_loopback(ip)]
    return bad


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if os.environ.get("KUBECONFIG"):
        kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        state = os.environ.get("TFSO_CLUSTER_STATE")
        state_dir = Path(state) if state else None
        serving = state_dir is not None and "serving=1" in _read_text(state_dir / "podrunner.id")
        yield Cluster(kubeconfig, os.environ.get("STORAGE_EMULATOR_HOST"), bool(state), state_dir, serving)
        return
    started_here = _local_state() is None
    # up.sh also restarts whatever piece of an existing cluster is down (pod runner, GCS stand-in).
    # Serving pods run fake_tfserving unless TFSO_RUN_SERVING=0 says otherwise.
    serving = os.environ.get("TFSO_RUN_SERVING", "1") == "1"
    _run_script("up.sh", UP_TIMEOUT_SECONDS, {"TFSO_RUN_SERVING": "1" if serving else "0"})
    env = _local_state()
    if env is None:
        pytest.fail("hack/cluster/up.sh succeeded but the cluster's API server does not answer")
    info = Cluster(
        Path(env["KUBECONFIG"]), env["STORAGE_EMULATOR_HOST"], True, Path(env["TFSO_CLUSTER_STATE"]), serving
    )
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(info.kubeconfig)))
    bad = loopback_violations(core)
    assert not bad, f"the local cluster breaks the network rule (only 127.0.0.0/8): {bad}"
    try:
        yield info
    finally:
        if started_here and os.environ.get("TFSO_KEEP_CLUSTER") != "1":
            _run_script("down.sh", 300)


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> Path:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def k8s(cluster: Cluster) -> K8s:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    return K8s(
        api,
        client.CoreV1Api(api),
        client.AppsV1Api(api),
        client.BatchV1Api(api),
        client.CustomObjectsApi(api),
    )


@pytest.fixture(scope="session")
def gcs_endpoint(cluster: Cluster) -> str:
    if not cluster.gcs_endpoint:
        pytest.skip("no GCS stand-in: set STORAGE_EMULATOR_HOST along with KUBECONFIG")
    return cluster.gcs_endpoint


@pytest.fixture
def local_cluster(cluster: Cluster) -> Cluster:
    """For tests of the local cluster itself (KWOK node pools, pod runner, loopback network)."""
    if not cluster.local:
        pytest.skip("needs the local cluster (hack/cluster/up.sh), not the one in KUBECONFIG")
    return cluster


@pytest.fixture
def namespace(request: pytest.FixtureRequest, cluster: Cluster, k8s: K8s) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{slug}-{uuid.uuid4().hex[:5]}"
    k8s.core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"tfserving.dev/e2e": "true"}))
    )
    try:
        yield name
        if cluster.local:
            bad = loopback_violations(k8s.core, name)
            assert not bad, f"pods outside 127.0.0.0/8: {bad}"
    finally:
        try:
            k8s.core.delete_namespace(name, propagation_policy="Background")
        except ApiException as e:
            if e.status != 404:
                raise
