"""Promotion latency on the local cluster: spec change -> label live on every replica.

Each promotion flips `stable` between versions 1 and 2 of a tiny model served by 3 replicas; the
old version is unloaded after each move, so every promotion loads a version. Per promotion:
  total    = patch of spec.labels -> `stable` resolves to the new version on all 3 replicas
  load     = first replica reports the version loading -> it is AVAILABLE on all 3
  overhead = total - load (the operator's watch, planning, pushes and verification)
measured by polling every replica's TF Serving REST API directly. Run once with
rollout.configDelivery=reload (gRPC push) and once with poll (servers re-read the mounted file).

Run: .venv/bin/python -m tests.bench.bench_promotion [--promotions 20] [--poll-seconds 5]
The local cluster's pod runner syncs ConfigMap volumes within about a second; a real kubelet takes
up to a minute, so the poll figures here are a lower bound.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
MODEL = "scale"


def sh(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def cluster_env() -> dict[str, str]:
    env = {**os.environ, "TFSO_RUN_SERVING": "1"}
    subprocess.run(["bash", str(REPO / "hack/cluster/up.sh")], env=env, check=True)
    out = sh("bash", str(REPO / "hack/cluster/env.sh"))
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'\"")
    return env


@dataclass
class Sample:
    total: float
    load: float

    @property
    def overhead(self) -> float:
        return self.total - self.load


class Replicas:
    def __init__(self, kubectl: list[str], namespace: str) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.http = requests.Session()
        self.http.trust_env = False
        self.ips: list[str] = []

    def refresh(self) -> None:
        out = sh(
            *self.kubectl,
            "get",
            "pods",
            "-n",
            self.namespace,
            "-l",
            "tfserving.dev/role=server",
            "-o",
            "jsonpath={.items[*].status.podIP}",
        )
        self.ips = out.split()

    def states(self, ip: str) -> dict[int, str]:
        try:
            body = self.http.get(f"http://{ip}:8501/v1/models/{MODEL}", timeout=2).json()
        except (requests.RequestException, ValueError):
            return {}
        return {int(v["version"]): v["state"] for v in body.get("model_version_status", [])}

    def stable(self, ip: str) -> int | None:
        try:
            response = self.http.get(f"http://{ip}:8501/v1/models/{MODEL}/labels/stable/metadata", timeout=2)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        return int(response.json()["model_spec"]["version"])


def promote_once(kubectl: list[str], replicas: Replicas, namespace: str, target: int) -> Sample:
    patch = yaml.safe_dump({"spec": {"labels": {"stable": target}}})
    t0 = time.monotonic()
    sh(*kubectl, "patch", "servedmodel", MODEL, "-n", namespace, "--type=merge", "-p", patch)
    load_start = available = None
    while True:
        now = time.monotonic()
        states = [replicas.states(ip) for ip in replicas.ips]
        if load_start is None and any(s.get(target) in ("START", "LOADING", "AVAILABLE") for s in states):
            load_start = now
        if available is None and all(s.get(target) == "AVAILABLE" for s in states):
            available = now
        if available is not None and all(replicas.stable(ip) == target for ip in replicas.ips):
            return Sample(total=now - t0, load=available - (load_start or available))
        if now - t0 > 300:
            raise SystemExit(f"promotion to {target} did not finish in 300 s; states {states}")
        time.sleep(0.01)


def run_mode(
    env: dict[str, str], delivery: str, promotions: int, poll_seconds: int, load_delay: float
) -> list[Sample]:
    kubectl = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    namespace = f"bench-{delivery}-{uuid.uuid4().hex[:5]}"
    sh(*kubectl, "create", "namespace", namespace)
    body = {
        "apiVersion": "tfserving.dev/v1alpha1",
        "kind": "ServedModel",
        "metadata": {"name": MODEL, "namespace": namespace},
        "spec": {
            "storageUri": "gs://bench-models/scale",
            "versions": [{"version": 1}, {"version": 2}],
            "labels": {"stable": 1},
            # --load_delay_seconds is the stand-in's: a tiny model loads in milliseconds, a real one
            # takes seconds to minutes; a fixed delay keeps the load/overhead split readable.
            "serving": {
                "replicas": 3,
                "configPollSeconds": poll_seconds,
                "extraArgs": [f"--load_delay_seconds={load_delay}"],
            },
            "rollout": {"configDelivery": delivery},
        },
    }
    sh(*kubectl, "apply", "-f", "-", stdin=yaml.safe_dump(body))
    replicas = Replicas(kubectl, namespace)
    deadline = time.monotonic() + 300
    while True:
        replicas.refresh()
        if len(replicas.ips) == 3 and all(replicas.stable(ip) == 1 for ip in replicas.ips):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{delivery}: 3 replicas never served stable=1")
        time.sleep(0.5)
    time.sleep(2)
    samples = []
    for i in range(promotions):
        target = 2 if i % 2 == 0 else 1
        sample = promote_once(kubectl, replicas, namespace, target)
        samples.append(sample)
        print(
            f"  {delivery} #{i + 1:2d} -> {target}: total {sample.total:6.2f} s  load {sample.load:5.2f} s  "
            f"overhead {sample.overhead:6.2f} s",
            flush=True,
        )
        # Not timed: wait until the old version is unloaded everywhere, so the next flip loads it.
        old = 1 if target == 2 else 2
        deadline = time.monotonic() + 120
        while any(replicas.states(ip).get(old) in ("START", "LOADING", "AVAILABLE") for ip in replicas.ips):
            if time.monotonic() > deadline:
                raise SystemExit(f"{delivery}: version {old} was never unloaded")
            time.sleep(0.1)
    sh(*kubectl, "delete", "namespace", namespace, "--wait=false")
    return samples


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def summary(name: str, samples: list[Sample]) -> dict[str, float]:
    out = {}
    for field in ("total", "load", "overhead"):
        values = [getattr(s, field) for s in samples]
        out[f"{field}_p50"], out[f"{field}_p95"] = pct(values, 50), pct(values, 95)
    print(
        f"{name:7s} n={len(samples)}  total p50 {out['total_p50']:.2f} s p95 {out['total_p95']:.2f} s | "
        f"load p50 {out['load_p50']:.2f} s p95 {out['load_p95']:.2f} s | "
        f"overhead p50 {out['overhead_p50']:.2f} s p95 {out['overhead_p95']:.2f} s"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--promotions", type=int, default=20)
    parser.add_argument("--poll-seconds", type=int, default=5, help="configPollSeconds for the poll run")
    parser.add_argument("--load-delay", type=float, default=1.0, help="the stand-in's load time per version")
    args = parser.parse_args(argv)

    env = cluster_env()
    os.environ["STORAGE_EMULATOR_HOST"] = env["STORAGE_EMULATOR_HOST"]
    kubectl = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    sh(
        *kubectl,
        "apply",
        "--server-side",
        "--field-manager=tfso-bench",
        "-f",
        str(REPO / "crds/servedmodels.tfserving.dev.yaml"),
    )
    sh(*kubectl, "wait", "--for=condition=Established", "--timeout=60s", "crd/servedmodels.tfserving.dev")

    from exporter_job.manifest import VerifiedVersion, verify_version
    from tests.support.models import publish_source

    exporter = str(Path(sys.executable).parent / "savedmodel-export")
    for version in (1, 2):
        if not isinstance(verify_version(f"gs://bench-models/scale/{version}"), VerifiedVersion):
            src = publish_source(f"gs://bench-models/src/scale-{version}.keras", factor=version)
            sh(exporter, f"--source={src}", "--output=gs://bench-models/scale", f"--version={version}")

    log = open(Path(env["TFSO_CLUSTER_STATE"]) / "bench-operator.log", "w")  # noqa: SIM115
    operator = subprocess.Popen(
        [sys.executable, "-m", "tfserving_operator"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        print(
            f"promotion latency, {args.promotions} promotions per mode, 3 replicas, "
            f"{args.load_delay} s load per version:",
            flush=True,
        )
        reload = run_mode(env, "reload", args.promotions, args.poll_seconds, args.load_delay)
        poll = run_mode(env, "poll", args.promotions, args.poll_seconds, args.load_delay)
    finally:
        operator.terminate()
        operator.wait(timeout=30)
        log.close()
    a = summary("reload", reload)
    b = summary(f"poll{args.poll_seconds}s", poll)
    print(
        f"ratio poll/reload, total p50: {b['total_p50'] / a['total_p50']:.1f}x  "
        f"(p95: {b['total_p95'] / a['total_p95']:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
