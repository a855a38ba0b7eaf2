"""The whole reconcile decision for one ServedModel, as a pure function of spec + observation."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import naming as n
from .children import Manifest, config_map, is_gpu_image, serving_children
from .exports import export_hash, export_job
from .observe import ABORTED_ANNOTATION, STAGE_SINCE_ANNOTATION, Observed
from .replicas import Endpoint
from .rollout import Decision, Goal, Phase, ReplicaView, goal_for, next_stage
from .settings import OperatorSettings
from .spec import ServedModel
from .stage import Stage


@dataclass(frozen=True)
class EventSpec:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    applies: tuple[Manifest, ...]
    deletes: tuple[tuple[str, str], ...]  # (kind, name)
    stage: Stage
    models_config: str
    push_to: tuple[Endpoint, ...]
    status: dict[str, Any]
    events: tuple[EventSpec, ...] = ()
    requeue_after: float = 60.0
    decision: Decision | None = field(default=None, compare=False)


def _timestamp(now: datetime.datetime) -> str:
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _goal_key(goal: Goal) -> str:
    return json.dumps({"labels": dict(sorted(goal.labels.items())), "versions": sorted(goal.versions)})


# --- export Jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionReport:
    version: int
    state: str
    message: str = ""

    def as_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "state": self.state}
        if self.message:
            out["message"] = self.message
        return out


def plan_exports(
    sm: ServedModel, observed: Observed, settings: OperatorSettings
) -> tuple[list[Manifest], list[tuple[str, str]], dict[int, VersionReport]]:
    """Jobs to create or replace, and what each version's storage/export state is."""
    jobs: list[Manifest] = []
    deletes: list[tuple[str, str]] = []
    reports: dict[int, VersionReport] = {}
    for entry in sm.spec.versions:
        check = observed.storage.get(entry.version)
        if check and check.complete:
            reports[entry.version] = VersionReport(entry.version, "Exported")
            continue
        if entry.export is None:
            problem = check.problem if check else "not checked yet"
            reports[entry.version] = VersionReport(
                entry.version,
                "Missing",
                f"{problem}; publish it with savedmodel-export or add versions[].export to the spec",
            )
            continue
        job = observed.jobs.get(entry.version)
        wanted = export_hash(sm, entry.version, entry.export, settings)
        if job is not None and job.export_hash != wanted and job.phase != "Succeeded":
            # A Job's pod template is immutable: replace a Job whose export settings changed.
            deletes.append(("Job", job.name))
            reports[entry.version] = VersionReport(entry.version, "Exporting", "export settings changed")
            continue
        if job is None:
            jobs.append(export_job(sm, entry.version, entry.export, settings))
            reports[entry.version] = VersionReport(entry.version, "Exporting", "export Job created")
        elif job.phase == "Failed":
            reports[entry.version] = VersionReport(
                entry.version, "ExportFailed", job.message or "export Job failed"
            )
        elif job.phase == "Succeeded":
            problem = check.problem if check else ""
            reports[entry.version] = VersionReport(
                entry.version,
                "ExportFailed",
                f"export Job succeeded but the version is incomplete: {problem}",
            )
        else:
            reports[entry.version] = VersionReport(entry.version, "Exporting", f"Job {job.name} running")
    return jobs, deletes, reports


# --- rollout ----------------------------------------------------------------------------------


def decide_rollout(
    sm: ServedModel, observed: Observed, complete: frozenset[int], now: datetime.datetime
) -> tuple[Decision, Goal, str]:
    """The planner's decision, with stage time-outs and sticky aborts applied. Also the abort mark."""
    current = observed.current_stage
    goal = goal_for(sm.spec.labels, complete, current, sm.spec.rollout.keep_previous_stable)
    key = _goal_key(goal)
    if observed.aborted_goal:
        aborted = json.loads(observed.aborted_goal)
        if aborted.get("goal") == key and current is not None:
            decision = Decision(current, Phase.FAILED, "rollout aborted", failure=aborted.get("reason", ""))
            return decision, goal, observed.aborted_goal
    decision = next_stage(goal, current, observed.replicas)
    timeout = sm.spec.rollout.stage_timeout_seconds
    if (
        decision.phase in (Phase.LOADING, Phase.MOVING_LABELS)
        and decision.stage == current
        and observed.stage_since is not None
        and (now - observed.stage_since).total_seconds() > timeout
    ):
        decision = Decision(
            decision.stage,
            Phase.FAILED,
            decision.step,
            failure=f"stage timed out after {timeout}s: {decision.step} ({', '.join(decision.waiting_on)})",
        )
    mark = ""
    if decision.phase is Phase.FAILED:
        mark = json.dumps({"goal": key, "reason": decision.failure}, sort_keys=True)
    return decision, goal, mark


# --- status -----------------------------------------------------------------------------------


def _condition(
    previous: Mapping[str, Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    now: datetime.datetime,
) -> dict[str, Any]:
    text = "True" if status else "False"
    before = previous.get(type_) or {}
    since = before.get("lastTransitionTime") if before.get("status") == text else None
    return {
        "type": type_,
        "status": text,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": since or _timestamp(now),
    }


def _live_labels(ready: Sequence[ReplicaView]) -> dict[str, int]:
    if not ready:
        return {}
    first = dict(ready[0].labels)
    return {label: v for label, v in first.items() if all(r.labels.get(label) == v for r in ready[1:])}


def _version_states(
    reports: dict[int, VersionReport], stage: Stage, ready: Sequence[ReplicaView]
) -> list[dict[str, Any]]:
    out = []
    for version in sorted(reports):
        report = reports[version]
        if report.state == "Exported" and version in stage.versions and ready:
            statuses = [r.versions.get(version) for r in ready]
            failed = next((s for s in statuses if s is not None and s.failed), None)
            if failed:
                report = VersionReport(version, "LoadFailed", failed.error)
            elif all(s is not None and s.state == "AVAILABLE" for s in statuses):
                report = VersionReport(version, "Available")
            else:
                report = VersionReport(version, "Loading")
        out.append(report.as_status())
    return out


def build_status(
    sm: ServedModel,
    observed: Observed,
    settings: OperatorSettings,
    reports: dict[int, VersionReport],
    decision: Decision,
    stage_since: str,
    previous: Mapping[str, Any],
    now: datetime.datetime,
) -> dict[str, Any]:
    gen = sm.generation
    prev_conditions = {c.get("type", ""): c for c in previous.get("conditions") or []}
    ready = [r for r in observed.replicas if r.ready]

    def cond(type_: str, status: bool, reason: str, message: str) -> dict[str, Any]:
        return _condition(prev_conditions, type_, status, reason, message, gen, now)

    conditions = []
    failed_exports = {v: r for v, r in reports.items() if r.state == "ExportFailed"}
    missing = {v: r for v, r in reports.items() if r.state == "Missing"}
    exporting = {v: r for v, r in reports.items() if r.state == "Exporting"}
    if failed_exports:
        v, r = min(failed_exports.items())
        conditions.append(cond("Exported", False, "ExportFailed", f"version {v}: {r.message}"))
    elif missing:
        v, r = min(missing.items())
        conditions.append(cond("Exported", False, "VersionMissing", f"version {v}: {r.message}"))
    elif exporting:
        listed = ", ".join(str(v) for v in sorted(exporting))
        conditions.append(cond("Exported", False, "Exporting", f"exporting version(s) {listed}"))
    else:
        conditions.append(
            cond("Exported", True, "AllVersionsExported", "every listed version is complete in storage")
        )

    lagging = [e.pod for e in observed.endpoints if not _holds(observed.replicas, e.pod, decision.stage)]
    if lagging:
        conditions.append(
            cond(
                "ConfigApplied",
                False,
                "Applying",
                f"{decision.stage.describe()} not yet on {', '.join(lagging)}",
            )
        )
    else:
        conditions.append(cond("ConfigApplied", True, "Applied", decision.stage.describe()))

    rolling = decision.phase in (Phase.LOADING, Phase.MOVING_LABELS, Phase.UNLOADING)
    if rolling:
        conditions.append(cond("Promoting", True, decision.phase.value, decision.step))
    elif decision.phase is Phase.FAILED:
        conditions.append(cond("Promoting", False, "Aborted", decision.failure))
    else:
        conditions.append(cond("Promoting", False, "Idle", decision.step))

    if decision.phase is Phase.FAILED:
        reason = "StageTimeout" if "timed out" in decision.failure else "LoadFailed"
        conditions.append(
            cond("Degraded", True, reason, decision.failure + "; the previous labels keep serving")
        )
    elif failed_exports:
        v, r = min(failed_exports.items())
        conditions.append(cond("Degraded", True, "ExportFailed", f"version {v}: {r.message}"))
    else:
        conditions.append(cond("Degraded", False, "AsExpected", "nothing is failing"))

    desired = observed.desired_replicas
    if not decision.stage.versions:
        conditions.append(
            cond("Ready", False, "NoCompleteVersion", "no version is complete in storage yet (see Exported)")
        )
    elif observed.unschedulable:
        conditions.append(cond("Ready", False, "Unschedulable", observed.unschedulable))
    elif observed.ready_replicas == 0:
        conditions.append(cond("Ready", False, "NoReadyReplicas", "no serving replica is ready yet"))
    elif observed.ready_replicas < desired:
        conditions.append(
            cond("Ready", False, "ReplicasNotReady", f"{observed.ready_replicas}/{desired} replicas ready")
        )
    else:
        conditions.append(cond("Ready", True, "Serving", f"{observed.ready_replicas} replica(s) serving"))

    acc = sm.spec.serving.accelerator
    image = sm.spec.serving.effective_image
    if acc:
        if is_gpu_image(image):
            conditions.append(cond("ImageMatchesAccelerator", True, "GPUImage", f"{image} is a GPU build"))
        else:
            conditions.append(
                cond(
                    "ImageMatchesAccelerator",
                    False,
                    "NotAGPUImage",
                    f"spec.serving.image {image} is not a GPU build but {acc.count} {acc.type} GPU(s) are "
                    "requested: TF Serving would run on CPU. Use a *-gpu tag such as "
                    "tensorflow/serving:2.18.0-gpu.",
                )
            )

    svc = f"{n.service_name(sm)}.{sm.namespace}.svc"
    return {
        "observedGeneration": gen,
        "conditions": conditions,
        "versions": _version_states(reports, decision.stage, ready),
        "liveLabels": _live_labels(ready),
        "replicas": desired,
        "readyReplicas": observed.ready_replicas,
        "replicaSummary": f"{observed.ready_replicas}/{desired}",
        "endpoints": {
            "rest": f"http://{svc}:{n.REST_PORT}/v1/models/{sm.spec.model_name}",
            "grpc": f"{svc}:{n.GRPC_PORT}",
        },
        "rollout": {
            "phase": decision.phase.value,
            "step": decision.step,
            "stage": {"versions": sorted(decision.stage.versions), "labels": dict(decision.stage.labels)},
            "since": stage_since,
        },
        "servers": [
            {
                "pod": r.pod,
                "ready": r.ready,
                "reachable": r.reachable,
                "labels": dict(r.labels),
                "versions": {str(v): s.state for v, s in sorted(r.versions.items())},
            }
            for r in sorted(observed.replicas, key=lambda r: r.pod)
        ],
    }


def _holds(replicas: Sequence[ReplicaView], pod: str, stage: Stage) -> bool:
    view = next((r for r in replicas if r.pod == pod), None)
    return view is not None and view.reachable and view.holds(stage)


_WARNING_STATES = {
    ("Degraded", "True"),
    ("Ready", "False"),
    ("Exported", "False"),
    ("ImageMatchesAccelerator", "False"),
}


def status_events(previous: Mapping[str, Any], status: Mapping[str, Any]) -> tuple[EventSpec, ...]:
    """An Event for every condition that changed status, reason or message."""
    before = {c.get("type"): c for c in previous.get("conditions") or []}
    events = []
    for cond in status.get("conditions", []):
        old = before.get(cond["type"]) or {}
        if (old.get("status"), old.get("reason"), old.get("message")) == (
            cond["status"],
            cond["reason"],
            cond["message"],
        ):
            continue
        if cond["type"] == "Exported" and cond["reason"] == "Exporting":
            warn = False
        else:
            warn = (cond["type"], cond["status"]) in _WARNING_STATES and cond["reason"] not in (
                "NoReadyReplicas",
                "NoCompleteVersion",
                "ReplicasNotReady",
            )
        events.append(
            EventSpec(
                "Warning" if warn else "Normal", f"{cond['type']}{cond['reason']}", cond["message"] or "-"
            )
        )
    return tuple(events)


# --- the whole pass ---------------------------------------------------------------------------


def plan(
    sm: ServedModel,
    observed: Observed,
    settings: OperatorSettings,
    now: datetime.datetime,
    previous_status: Mapping[str, Any] | None = None,
) -> Plan:
    previous_status = previous_status or {}
    jobs, job_deletes, reports = plan_exports(sm, observed, settings)
    complete = frozenset(v for v, r in reports.items() if r.state == "Exported")
    decision, _goal, abort_mark = decide_rollout(sm, observed, complete, now)
    stage = decision.stage

    since = observed.stage_since if stage == observed.current_stage and observed.stage_since else now
    stage_since = _timestamp(since)
    objects = serving_children(sm, stage, settings)
    cm = objects[0]
    cm["metadata"]["annotations"][STAGE_SINCE_ANNOTATION] = stage_since
    if abort_mark:
        cm["metadata"]["annotations"][ABORTED_ANNOTATION] = abort_mark
    objects += jobs

    desired_keys = {(o["kind"], o["metadata"]["name"]) for o in objects}
    deletes = list(job_deletes) + [key for key in observed.children if key not in desired_keys]

    push_to: tuple[Endpoint, ...] = ()
    if sm.spec.rollout.config_delivery == "reload":
        push_to = tuple(e for e in observed.endpoints if not _holds(observed.replicas, e.pod, stage))

    status = build_status(sm, observed, settings, reports, decision, stage_since, previous_status, now)
    busy = (not decision.settled and decision.phase is not Phase.FAILED) or any(
        r.state in ("Exporting", "Loading") for r in reports.values()
    )
    busy = busy or observed.ready_replicas < observed.desired_replicas or bool(push_to)
    return Plan(
        applies=tuple(objects),
        deletes=tuple(deletes),
        stage=stage,
        models_config=config_map(sm, stage)["data"][n.MODELS_CONFIG_KEY],
        push_to=push_to,
        status=status,
        events=status_events(previous_status, status),
        requeue_after=settings.rollout_poll_seconds if busy else settings.resync_seconds,
        decision=decision,
    )
