"""The readinessProbe, run like the kubelet runs it (httpGet only), against the pod's own IP."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from podrunner.kube import Obj
from podrunner.netcheck import require_loopback_ip


@dataclass
class ReadinessProbe:
    url: str
    timeout: float
    period: float
    success_threshold: int
    failure_threshold: int
    initial_delay: float
    not_before: float = 0.0  # monotonic time: process start + initialDelaySeconds
    next_at: float = 0.0
    successes: int = 0
    failures: int = 0
    ready: bool = False
    last_error: str = field(default="")

    def reset(self, started: float) -> None:
        """A (re)started container is not ready until the probe passes again."""
        self.not_before, self.next_at = started + self.initial_delay, 0.0
        self.successes = self.failures = 0
        self.ready = False

    def due(self, now: float) -> bool:
        return now >= max(self.not_before, self.next_at)

    def run(self, now: float) -> bool:
        """Probes once; returns whether Ready changed."""
        self.next_at = now + self.period
        ok = _http_ok(self.url, self.timeout, self)
        before = self.ready
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.success_threshold:
                self.ready = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.failure_threshold:
                self.ready = False
        return self.ready != before


def _http_ok(url: str, timeout: float, probe: ReadinessProbe) -> bool:
    # The kubelet counts any status in [200, 400) as success.
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            probe.last_error = ""
            return 200 <= resp.status < 400
    except urllib.error.HTTPError as e:
        probe.last_error = f"HTTP probe failed with statuscode: {e.code}"
    except (OSError, urllib.error.URLError) as e:
        probe.last_error = str(e)
    return False


def _port(container: Obj, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"container {container['name']!r}: readinessProbe port {port!r} names no containerPort")


def readiness_probe(container: Obj, pod_ip: str) -> ReadinessProbe | None:
    """None when the container has no readinessProbe (then it is Ready once running, like the kubelet)."""
    spec = container.get("readinessProbe")
    if not spec:
        return None
    get = spec.get("httpGet")
    if get is None:
        raise ValueError(f"container {container['name']!r}: only httpGet readiness probes run locally")
    host = require_loopback_ip(get.get("host") or pod_ip, "readinessProbe host")
    path = get.get("path", "/")
    url = f"{get.get('scheme', 'HTTP').lower()}://{host}:{_port(container, get['port'])}{path}"
    return ReadinessProbe(
        url=url,
        timeout=float(spec.get("timeoutSeconds", 1)),
        period=float(spec.get("periodSeconds", 10)),
        success_threshold=int(spec.get("successThreshold", 1)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
        initial_delay=float(spec.get("initialDelaySeconds", 0)),
    )
