"""The readinessProbe, run like the kubelet runs it: httpGet against the pod's own IP, or exec.

An exec probe runs its command as a local process with the container's environment (POD_IP and the
rest, paths under volume mounts localized), as the kubelet runs it inside the container.
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from podrunner.kube import Obj
from podrunner.netcheck import require_loopback_ip


@dataclass
class ReadinessProbe:
    url: str  # httpGet target; empty for an exec probe
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
    command: list[str] = field(default_factory=list)  # exec probe, localized
    env: dict[str, str] = field(default_factory=dict)

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
        ok = _exec_ok(self) if self.command else _http_ok(self.url, self.timeout, self)
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


def _exec_ok(probe: ReadinessProbe) -> bool:
    # The kubelet counts exit status 0 as success, anything else (or a timeout) as failure.
    try:
        done = subprocess.run(
            probe.command, env=probe.env, capture_output=True, text=True, timeout=probe.timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        probe.last_error = f"exec probe: {e}"
        return False
    probe.last_error = "" if done.returncode == 0 else (done.stdout + done.stderr).strip()[-300:]
    return done.returncode == 0


def _port(container: Obj, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"container {container['name']!r}: readinessProbe port {port!r} names no containerPort")


def readiness_probe(
    container: Obj, pod_ip: str, env: dict[str, str], localize: Callable[[str], str]
) -> ReadinessProbe | None:
    """None when the container has no readinessProbe (then it is Ready once running, like the kubelet)."""
    spec = container.get("readinessProbe")
    if not spec:
        return None
    url, command = "", []
    if "exec" in spec:
        command = [localize(a) for a in spec["exec"].get("command") or []]
        if not command:
            raise ValueError(f"container {container['name']!r}: readinessProbe.exec has no command")
    elif "httpGet" in spec:
        get = spec["httpGet"]
        host = require_loopback_ip(get.get("host") or pod_ip, "readinessProbe host")
        path = get.get("path", "/")
        url = f"{get.get('scheme', 'HTTP').lower()}://{host}:{_port(container, get['port'])}{path}"
    else:
        raise ValueError(
            f"container {container['name']!r}: only httpGet and exec readiness probes run locally"
        )
    return ReadinessProbe(
        url=url,
        command=command,
        env=dict(env),
        timeout=float(spec.get("timeoutSeconds", 1)),
        period=float(spec.get("periodSeconds", 10)),
        success_threshold=int(spec.get("successThreshold", 1)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
        initial_delay=float(spec.get("initialDelaySeconds", 0)),
    )
