"""Checks the network rule on a running cluster: every node podCIDR, pod IP and Service ClusterIP is
inside 127.0.0.0/8. Exits 1 naming each offender. Uses $KUBECONFIG.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from typing import Any

from kubernetes import client, config

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def _outside(value: str) -> bool:
    net = ipaddress.ip_network(value, strict=False)
    return not (isinstance(net, ipaddress.IPv4Network) and net.subnet_of(LOOPBACK))


def _items(resp: Any) -> list[dict[str, Any]]:
    return json.loads(resp.data)["items"]


def violations(api: client.CoreV1Api) -> list[str]:
    bad = []
    for node in _items(api.list_node(_preload_content=False)):
        name, spec = node["metadata"]["name"], node["spec"]
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        if not cidrs:
            bad.append(f"node {name}: no spec.podCIDR (KWOK would fall back to 10.0.0.0/24)")
        bad += [f"node {name}: podCIDR {c}" for c in cidrs if _outside(c)]
    for pod in _items(api.list_pod_for_all_namespaces(_preload_content=False)):
        st = pod.get("status", {})
        ips = {p["ip"] for p in st.get("podIPs") or []} | ({st["podIP"]} if st.get("podIP") else set())
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        bad += [f"pod {key}: IP {ip}" for ip in sorted(ips) if _outside(ip)]
    for svc in _items(api.list_service_for_all_namespaces(_preload_content=False)):
        key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
        cluster_ips = [ip for ip in svc["spec"].get("clusterIPs") or [] if ip != "None"]
        bad += [f"service {key}: ClusterIP {ip}" for ip in cluster_ips if _outside(ip)]
    return bad


def main() -> int:
    config.load_kube_config()
    bad = violations(client.CoreV1Api())
    for line in bad:
        print(f"outside {LOOPBACK}: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
