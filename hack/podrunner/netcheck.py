"""The network rule: every address the pod runner hands out or connects to is loopback (127.0.0.0/8)."""

from __future__ import annotations

import ipaddress

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


class NotLoopbackError(ValueError):
    pass


def require_loopback_ip(ip: str, what: str) -> str:
    if ipaddress.ip_address(ip) not in LOOPBACK:
        raise NotLoopbackError(
            f"{what} is {ip}, outside {LOOPBACK}: the local cluster only uses loopback addresses"
        )
    return ip


def require_loopback_cidr(cidr: str, what: str) -> ipaddress.IPv4Network:
    net = ipaddress.ip_network(cidr, strict=False)
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(LOOPBACK):
        raise NotLoopbackError(
            f"{what} is {cidr}, outside {LOOPBACK}: give the node a spec.podCIDR like 127.10.N.0/24"
        )
    return net
