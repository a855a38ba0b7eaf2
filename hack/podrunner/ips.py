"""Pod IPs for the pods the runner owns, taken from the top of the node's podCIDR.

KWOK's pod-ready stage allocates from the bottom of the same range (.1, .2, ...), so counting down from
the top keeps the two apart without sharing state.
"""

from __future__ import annotations

from collections.abc import Iterable

from podrunner.netcheck import require_loopback_cidr


def allocate_ip(node_name: str, pod_cidr: str, in_use: Iterable[str]) -> str:
    net = require_loopback_cidr(pod_cidr, f"node {node_name} spec.podCIDR")
    taken = set(in_use)
    hosts = list(net.hosts())
    for ip in reversed(hosts):
        if str(ip) not in taken:
            return str(ip)
    raise RuntimeError(f"node {node_name}: no free address left in podCIDR {pod_cidr}")
