"""The pod runner's loop: every tick, list pods, start/stop/finish the processes of the pods it owns.

Level-triggered on purpose (a list per tick, no watch): after a restart it rebuilds its view from the
apiserver and the pod dirs alone, and re-adopts processes still running.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes.client.rest import ApiException

from podrunner import serving, status
from podrunner.config import RunnerConfig
from podrunner.ips import allocate_ip
from podrunner.kube import Kube, Obj
from podrunner.netcheck import NotLoopbackError, require_loopback_ip
from podrunner.podspec import (
    STATUS_OWNER_ANNOTATION,
    SpecError,
    VolumeMount,
    command_line,
    container_env,
    handed_to_kwok,
    is_job_pod,
    is_serving_pod,
    localize,
    main_container,
    meta,
    pod_key,
    volume_mounts,
)
from podrunner.probes import ReadinessProbe, readiness_probe
from podrunner.process import ProcessRecord, ProcessSpec, ProcessTable, exit_code
from podrunner.volumes import sync_volume

log = logging.getLogger("podrunner")

MAX_BACKOFF_SECONDS = 30.0
BACKOFF_RESET_SECONDS = 60.0
MAX_STOP_GRACE_SECONDS = 10.0


@dataclass
class Tracked:
    record: ProcessRecord
    pod_dir: Path
    container: Obj
    spec: ProcessSpec
    env: dict[str, str]
    mounts: list[VolumeMount]
    restart_policy: str
    probe: ReadinessProbe | None = None
    ready: bool = False
    restart_at: float | None = None
    backoff: float = 1.0
    started: float = 0.0  # monotonic time of the last start
    last: Obj | None = field(default=None)  # the previous run's terminated state


class Runner:
    def __init__(self, cfg: RunnerConfig, kube: Kube) -> None:
        self.cfg = cfg
        self.kube = kube
        self.procs = ProcessTable()
        self.tracked: dict[str, Tracked] = {}
        self.nodes: dict[str, Obj] = {}
        self.retry_at: dict[str, float] = {}  # uid -> when to retry a pod that could not start
        self.next_sync = 0.0
        self.stopping = False
        cfg.pods_dir.mkdir(parents=True, exist_ok=True)

    # --- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        log.info("pod runner up: state %s, repo %s", self.cfg.state_dir, self.cfg.repo_root)
        while not self.stopping:
            try:
                self.tick()
            except Exception:
                log.exception("tick failed; retrying")
                time.sleep(2)
            time.sleep(self.cfg.poll_seconds)
        log.info("pod runner stopping; pod processes keep running and are re-adopted on the next start")

    def tick(self) -> None:
        pods = self.kube.list_pods()
        by_uid = {meta(p)["uid"]: p for p in pods}
        for uid in list(self.tracked):
            pod = by_uid.get(uid)
            if pod is None or meta(pod).get("deletionTimestamp"):
                self._stop(uid, pod)
        for pod in pods:
            uid = meta(pod)["uid"]
            try:
                if uid in self.tracked:
                    self._watch_process(pod, self.tracked[uid])
                elif self._wants(pod) and time.monotonic() >= self.retry_at.get(uid, 0):
                    self._take(pod, pods)
            except ApiException as e:
                if e.status != 404:
                    log.warning("%s: API error %s %s", pod_key(pod), e.status, e.reason)
            except (SpecError, NotLoopbackError, ValueError) as e:
                log.warning("%s: %s", pod_key(pod), e)
                self.retry_at[uid] = time.monotonic() + 2
        self.retry_at = {uid: t for uid, t in self.retry_at.items() if uid in by_uid}
        if time.monotonic() >= self.next_sync:
            self.next_sync = time.monotonic() + self.cfg.configmap_sync_seconds
            self._sync_volumes()

    def _wants(self, pod: Obj) -> bool:
        if not pod["spec"].get("nodeName") or meta(pod).get("deletionTimestamp"):
            return False
        if pod.get("status", {}).get("phase") not in (None, "Pending", "Running"):
            return False
        if pod["spec"].get("hostNetwork"):
            return False
        return is_job_pod(pod) or (is_serving_pod(pod) and not handed_to_kwok(pod))

    # --- starting -------------------------------------------------------------------------------
    def _pod_dir(self, pod: Obj) -> Path:
        m = meta(pod)
        return self.cfg.pods_dir / f"{m['namespace']}_{m['name']}_{m['uid']}"

    def _node(self, name: str) -> Obj:
        if name not in self.nodes:
            self.nodes = self.kube.list_nodes()
        if name not in self.nodes:
            raise SpecError(f"node {name!r} not found")
        return self.nodes[name]

    def _host_ip(self, node: Obj) -> str:
        for addr in node.get("status", {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                return require_loopback_ip(addr["address"], f"node {node['metadata']['name']} InternalIP")
        return "127.0.0.1"

    def _take(self, pod: Obj, pods: list[Obj]) -> None:
        pod_dir = self._pod_dir(pod)
        record = ProcessRecord.load(pod_dir)
        phase = pod.get("status", {}).get("phase", "Pending")
        if record is None and phase == "Running" and is_job_pod(pod):
            # We started it once but its pod dir is gone: the kubelet would report the container lost.
            log.warning("%s: running but no local record; marking it failed", pod_key(pod))
            record = ProcessRecord(meta(pod)["uid"], meta(pod)["namespace"], meta(pod)["name"], "job", "", "")
            pod_dir.mkdir(parents=True, exist_ok=True)
            record.pod_ip = pod["status"].get("podIP", "")
            record.host_ip = pod["status"].get("hostIP", "")
            term = status.terminated_state(record, 137, "the local pod runner lost this pod's process")
            self.kube.patch_pod_status(
                record.namespace, record.name, status.finished(main_container(pod), record, term)
            )
            record.finished = True
            record.save(pod_dir)
            return
        if record is not None and record.finished:
            return
        t = self._prepare(pod, pod_dir, pods, record)
        if t is None:
            return
        uid = meta(pod)["uid"]
        self.tracked[uid] = t
        if record is not None and record.pid and self.procs.alive(record):
            log.info("%s: re-adopted pid %d", pod_key(pod), record.pid)
            t.ready = _is_ready(pod)
            if t.probe:
                t.probe.ready = t.ready
            return
        if record is not None and record.pid:
            log.info("%s: its process ended while the runner was away", pod_key(pod))
            return  # _watch_process reads the exit code and finishes the pod on this tick's next pass
        self._start(t)

    def _prepare(
        self, pod: Obj, pod_dir: Path, pods: list[Obj], record: ProcessRecord | None
    ) -> Tracked | None:
        node = self._node(pod["spec"]["nodeName"])
        kind = "job" if is_job_pod(pod) else "serving"
        if record is None:
            in_use = [
                ip["ip"]
                for p in pods
                if p["spec"].get("nodeName") == node["metadata"]["name"]
                for ip in p.get("status", {}).get("podIPs") or []
            ] + [t.record.pod_ip for t in self.tracked.values()]
            pod_ip = allocate_ip(node["metadata"]["name"], node["spec"].get("podCIDR", ""), in_use)
            m = meta(pod)
            record = ProcessRecord(m["uid"], m["namespace"], m["name"], kind, pod_ip, self._host_ip(node))
        require_loopback_ip(record.pod_ip, f"pod {pod_key(pod)} IP")
        pod_dir.mkdir(parents=True, exist_ok=True)
        container = main_container(pod)
        mounts = volume_mounts(pod, container, pod_dir)
        try:
            for mount in mounts:
                sync_volume(self.kube, record.namespace, mount)
            env = self._env(pod, container, record, pod_dir, mounts)
            argv = [localize(a, mounts) for a in command_line(container, env)]
        except SpecError as e:
            self.kube.patch_pod_status(
                record.namespace,
                record.name,
                status.waiting(container, record, "CreateContainerConfigError", str(e)),
            )
            raise
        remembered = record.spec()
        if remembered is not None:
            spec = remembered
        elif kind == "job":
            cwd = Path(localize(container["workingDir"], mounts)) if container.get("workingDir") else None
            spec = ProcessSpec(argv=argv, cwd=cwd if cwd and cwd.is_absolute() else None)
        else:
            hooked = serving.serving_process(
                serving.ServingPod(pod, record.pod_ip, pod_dir, argv, self.cfg.repo_root)
            )
            if hooked is None:
                log.info(
                    "%s: no local process for this serving pod; KWOK's pod-ready stage owns it", pod_key(pod)
                )
                self.kube.annotate_pod(record.namespace, record.name, {STATUS_OWNER_ANNOTATION: "kwok"})
                shutil.rmtree(pod_dir, ignore_errors=True)
                return None
            spec = hooked
        record.remember(spec)
        record.save(pod_dir)
        policy = pod["spec"].get("restartPolicy", "Always")
        probe = (
            readiness_probe(container, record.pod_ip, env, lambda value: localize(value, mounts))
            if kind == "serving"
            else None
        )
        return Tracked(record, pod_dir, container, spec, env, mounts, policy, probe)

    def _env(
        self, pod: Obj, container: Obj, record: ProcessRecord, pod_dir: Path, mounts: list[VolumeMount]
    ) -> dict[str, str]:
        (pod_dir / "tmp").mkdir(exist_ok=True)
        base = {
            "PATH": f"{self.cfg.venv_bin}:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", str(pod_dir)),
            "LANG": "C.UTF-8",
            "TMPDIR": str(pod_dir / "tmp"),
            "HOSTNAME": record.name,
        }
        own = container_env(self.kube, pod, container, record.pod_ip, record.host_ip)
        env = {**base, **{k: localize(v, mounts) for k, v in own.items()}}
        # /dev/termination-log cannot be written locally: programs write their message here instead.
        env["TERMINATION_MESSAGE_PATH"] = str(pod_dir / "termination-log")
        if self.cfg.storage_emulator_host:
            env["STORAGE_EMULATOR_HOST"] = self.cfg.storage_emulator_host
        return env

    def _start(self, t: Tracked) -> None:
        (t.pod_dir / "termination-log").unlink(missing_ok=True)
        self.procs.start(t.spec, t.env, t.pod_dir, t.record)
        t.started = time.monotonic()
        t.ready = t.probe is None
        if t.probe:
            t.probe.reset(time.monotonic())
        log.info(
            "%s: started pid %d on %s: %s",
            t.record.namespace + "/" + t.record.name,
            t.record.pid,
            t.record.pod_ip,
            " ".join(t.spec.argv),
        )
        self.kube.patch_pod_status(
            t.record.namespace, t.record.name, status.running(t.container, t.record, t.ready, t.last)
        )

    # --- running --------------------------------------------------------------------------------
    def _watch_process(self, pod: Obj, t: Tracked) -> None:
        now = time.monotonic()
        if t.restart_at is not None:
            if now >= t.restart_at:
                t.restart_at = None
                t.record.restart_count += 1
                self._start(t)
            return
        if self.procs.alive(t.record):
            if t.probe and t.probe.due(now) and t.probe.run(now):
                t.ready = t.probe.ready
                log.info("%s: ready=%s %s", pod_key(pod), t.ready, t.probe.last_error)
                self.kube.patch_pod_status(
                    t.record.namespace, t.record.name, status.running(t.container, t.record, t.ready, t.last)
                )
            return
        self._exited(pod, t)

    def _exited(self, pod: Obj, t: Tracked) -> None:
        code = exit_code(t.pod_dir)
        message = status.termination_message(t.container, t.pod_dir, code if code is not None else 137)
        if code is None:
            code, message = 137, message or "the process disappeared without an exit code (killed?)"
        term = status.terminated_state(t.record, code, message)
        log.info("%s: pid %d exited %d", pod_key(pod), t.record.pid, code)
        restart = t.restart_policy == "Always" or (t.restart_policy == "OnFailure" and code != 0)
        if restart:
            # Like the kubelet's CrashLoopBackOff (doubling, reset after a long clean run), with a
            # shorter ceiling than its 5 minutes.
            if time.monotonic() - t.started > BACKOFF_RESET_SECONDS:
                t.backoff = 1.0
            t.last, t.ready = term, False
            t.restart_at = time.monotonic() + t.backoff
            self.kube.patch_pod_status(
                t.record.namespace, t.record.name, status.crash_loop(t.container, t.record, term, t.backoff)
            )
            t.backoff = min(t.backoff * 2, MAX_BACKOFF_SECONDS)
            return
        self.kube.patch_pod_status(
            t.record.namespace, t.record.name, status.finished(t.container, t.record, term, t.last)
        )
        t.record.finished = True
        t.record.save(t.pod_dir)
        del self.tracked[t.record.uid]

    def _stop(self, uid: str, pod: Obj | None) -> None:
        t = self.tracked.pop(uid)
        grace = float((pod or {}).get("metadata", {}).get("deletionGracePeriodSeconds") or 30)
        log.info("%s/%s: pod deleted; stopping pid %d", t.record.namespace, t.record.name, t.record.pid)
        self.procs.stop(t.record, min(grace, MAX_STOP_GRACE_SECONDS))
        t.record.finished = True
        t.record.save(t.pod_dir)

    def _sync_volumes(self) -> None:
        for t in list(self.tracked.values()):
            if t.record.kind != "serving":
                continue
            for mount in t.mounts:
                try:
                    if sync_volume(self.kube, t.record.namespace, mount):
                        log.info("%s/%s: volume %s updated", t.record.namespace, t.record.name, mount.name)
                except (SpecError, ApiException) as e:
                    log.warning("%s/%s: volume %s: %s", t.record.namespace, t.record.name, mount.name, e)


def _is_ready(pod: Obj) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
