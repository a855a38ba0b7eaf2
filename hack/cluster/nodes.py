"""Prints the local cluster's Node manifests: node pools shaped like a GKE cluster's.

Run as `python hack/cluster/nodes.py | kubectl apply -f -`. Nodes are created with their status
(addresses, capacity, allocatable) because the apiserver keeps a Node's status on create (that is how
a kubelet registers); KWOK then only reports them Ready.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass

import yaml

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@dataclass(frozen=True)
class NodePool:
    name: str
    machine_type: str
    nodes: int
    cpu: int
    memory_gi: int
    accelerator: str | None = None
    gpus_per_node: int = 0


POOLS = (
    NodePool("cpu-pool", "e2-standard-8", nodes=2, cpu=8, memory_gi=32),
    NodePool(
        "l4-pool", "g2-standard-8", nodes=2, cpu=8, memory_gi=32, accelerator="nvidia-l4", gpus_per_node=1
    ),
    NodePool(
        "t4-pool",
        "n1-standard-16",
        nodes=2,
        cpu=16,
        memory_gi=60,
        accelerator="nvidia-tesla-t4",
        gpus_per_node=2,
    ),
)


def node_manifest(pool: NodePool, index: int, ordinal: int, cluster: str) -> dict[str, object]:
    """`ordinal` numbers nodes across pools; node N gets pod CIDR 127.10.N.0/24 and address 127.11.0.N."""
    name = f"gke-{cluster}-{pool.name}-{index}"
    pod_cidr = ipaddress.ip_network(f"127.10.{ordinal}.0/24")
    node_ip = ipaddress.ip_address(f"127.11.0.{ordinal}")
    if not (pod_cidr.subnet_of(LOOPBACK) and node_ip in LOOPBACK):  # type: ignore[arg-type]
        raise ValueError(f"node {name}: podCIDR {pod_cidr} / address {node_ip} must be inside {LOOPBACK}")
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": pool.machine_type,
        "topology.kubernetes.io/region": "us-central1",
        "topology.kubernetes.io/zone": "us-central1-a",
        "cloud.google.com/gke-nodepool": pool.name,
        "type": "kwok",
    }
    capacity = {"cpu": str(pool.cpu), "memory": f"{pool.memory_gi}Gi", "pods": "110"}
    # GKE reserves part of each node for system daemons; allocatable is what the scheduler may use.
    allocatable = {"cpu": f"{pool.cpu * 1000 - 100}m", "memory": f"{pool.memory_gi - 2}Gi", "pods": "110"}
    taints: list[dict[str, str]] = []
    if pool.accelerator:
        labels["cloud.google.com/gke-accelerator"] = pool.accelerator
        labels["cloud.google.com/gke-gpu"] = "true"
        capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(pool.gpus_per_node)
        taints.append(dict(GPU_TAINT))
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            # kwok-controller manages only nodes carrying this annotation.
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": str(pod_cidr), "podCIDRs": [str(pod_cidr)], "taints": taints},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": str(node_ip)},
                {"type": "Hostname", "address": name},
            ],
            "capacity": capacity,
            "allocatable": allocatable,
        },
    }


def manifests(cluster: str) -> list[dict[str, object]]:
    out = []
    ordinal = 0
    for pool in POOLS:
        for index in range(pool.nodes):
            ordinal += 1
            out.append(node_manifest(pool, index, ordinal, cluster))
    return out


def main() -> None:
    cluster = sys.argv[1] if len(sys.argv) > 1 else "tfso"
    yaml.safe_dump_all(manifests(cluster), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
