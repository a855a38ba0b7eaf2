"""Read the world a ServedModel owns: children, export Jobs, storage, and every serving replica."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import kube
from . import naming as n
from .children import STAGE_ANNOTATION
from .exports import EXPORT_HASH_ANNOTATION
from .replicas import Endpoint, read_replica
from .rollout import ReplicaView
from .settings import OperatorSettings
from .spec import ServedModel
from .stage import Stage

STAGE_SINCE_ANNOTATION = "tfserving.dev/stage-since"
ABORTED_ANNOTATION = "tfserving.dev/aborted-goal"


@dataclass(frozen=True)
class JobState:
    name: str
    phase: str  # Running | Succeeded | Failed
    message: str = ""
    export_hash: str = ""


@dataclass(frozen=True)
class VersionCheck:
    """Whether storage holds a complete version: its manifest is present and matches the files."""

    complete: bool
    problem: str = ""


StorageCheck = Callable[[str], VersionCheck]


@dataclass(frozen=True)
class Observed:
    children: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    current_stage: Stage | None = None
    stage_since: datetime.datetime | None = None
    aborted_goal: str = ""
    jobs: Mapping[int, JobState] = field(default_factory=dict)
    storage: Mapping[int, VersionCheck] = field(default_factory=dict)
    endpoints: tuple[Endpoint, ...] = ()
    replicas: tuple[ReplicaView, ...] = ()
    desired_replicas: int = 0
    ready_replicas: int = 0
    unschedulable: str = ""


def _job_state(job: Mapping[str, Any], pods: list[dict[str, Any]]) -> JobState:
    meta = job["metadata"]
    status = job.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    phase = "Running"
    message = ""
    if "Complete" in conditions:
        phase = "Succeeded"
    elif "Failed" in conditions:
        phase = "Failed"
        message = conditions["Failed"].get("message", "")
    # The exporter's own words are in its pod's termination message (terminationMessagePolicy).
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", "")):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode", 0) != 0 and term.get("message"):
                message = term["message"].strip()
    return JobState(
        name=meta["name"],
        phase=phase,
        message=message,
        export_hash=(meta.get("annotations") or {}).get(EXPORT_HASH_ANNOTATION, ""),
    )


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _unschedulable(pods: list[dict[str, Any]]) -> str:
    for pod in pods:
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
                return f"pod {pod['metadata']['name']}: {cond.get('message', '')}"
    return ""


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def observe(
    api: kube.KubeApi,
    sm: ServedModel,
    settings: OperatorSettings,
    storage_check: StorageCheck,
    pool: ThreadPoolExecutor,
) -> Observed:
    selector = {n.MODEL_LABEL: sm.name}
    children: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in (kube.CONFIG_MAP, kube.DEPLOYMENT, kube.SERVICE, kube.HPA):
        for obj in api.list(kind, sm.namespace, selector):
            if any(ref.get("uid") == sm.uid for ref in obj["metadata"].get("ownerReferences") or []):
                children[(kind.kind, obj["metadata"]["name"])] = obj

    config_map = children.get(("ConfigMap", n.config_map_name(sm)))
    annotations = (config_map or {}).get("metadata", {}).get("annotations") or {}
    current = Stage.from_json(annotations[STAGE_ANNOTATION]) if STAGE_ANNOTATION in annotations else None

    pods = api.list(kube.POD, sm.namespace, selector)
    server_pods = [p for p in pods if p["metadata"].get("labels", {}).get(n.ROLE_LABEL) == "server"]
    jobs: dict[int, JobState] = {}
    for job in api.list(kube.JOB, sm.namespace, {**selector, n.ROLE_LABEL: "exporter"}):
        version = int(job["metadata"]["labels"][n.VERSION_LABEL])
        job_pods = [
            p for p in pods if p["metadata"].get("labels", {}).get("job-name") == job["metadata"]["name"]
        ]
        jobs[version] = _job_state(job, job_pods)

    storage = {v.version: storage_check(sm.spec.version_uri(v.version)) for v in sm.spec.versions}

    endpoints = tuple(
        Endpoint(pod=p["metadata"]["name"], ip=p["status"]["podIP"], ready=_pod_ready(p))
        for p in server_pods
        if (p.get("status") or {}).get("podIP")
        and p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    )
    labels = set(sm.spec.labels) | set(current.labels if current else ())
    replicas = tuple(
        pool.map(
            lambda e: read_replica(e, sm.spec.model_name, sorted(labels), settings.replica_timeout_seconds),
            endpoints,
        )
    )
    deployment = children.get(("Deployment", n.serving_name(sm))) or {}
    dep_status = deployment.get("status") or {}
    return Observed(
        children=children,
        current_stage=current,
        stage_since=_parse_time(annotations.get(STAGE_SINCE_ANNOTATION)),
        aborted_goal=annotations.get(ABORTED_ANNOTATION, ""),
        jobs=jobs,
        storage=storage,
        endpoints=endpoints,
        replicas=replicas,
        desired_replicas=int((deployment.get("spec") or {}).get("replicas") or 0),
        ready_replicas=int(dep_status.get("readyReplicas") or 0),
        unschedulable=_unschedulable(server_pods),
    )
