"""Carry out a Plan: server-side apply what differs, delete what is stale, push configs, write status."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import kube
from .diff import contains
from .observe import Observed
from .plan import Plan
from .replicas import ReplicaError, push_config
from .settings import OperatorSettings


def without_empty(value: Any) -> Any:
    """Drop empty maps and lists. Server-side apply turns an empty map into null, which a typed
    status schema then rejects ("must be of type object"); leaving the field out clears it as well,
    since the operator's field manager owns it."""
    if isinstance(value, dict):
        pruned = {k: without_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v != {} and v != []}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


@dataclass(frozen=True)
class Applied:
    writes: int
    push_errors: tuple[str, ...]


def apply_plan(
    api: kube.KubeApi,
    body: dict[str, Any],
    plan: Plan,
    observed: Observed,
    settings: OperatorSettings,
    pool: ThreadPoolExecutor,
) -> Applied:
    writes = 0
    for obj in plan.applies:
        live = observed.children.get((obj["kind"], obj["metadata"]["name"]))
        if live is None or not contains(live, obj):
            api.apply(obj)
            writes += 1
    for kind, name in plan.deletes:
        api.delete(kube.KINDS[kind], body["metadata"]["namespace"], name)
        writes += 1

    errors: list[str] = []
    if plan.push_to:

        def push(endpoint: Any) -> str:
            try:
                push_config(endpoint, plan.models_config, settings.replica_timeout_seconds * 3)
            except ReplicaError as err:
                return str(err)
            return ""

        errors = [e for e in pool.map(push, plan.push_to) if e]

    status = without_empty(plan.status)
    if errors:
        status = copy.deepcopy(status)
        for cond in status["conditions"]:
            if cond["type"] == "ConfigApplied":
                cond.update(status="False", reason="PushFailed", message="; ".join(errors)[:2000])
    if status != (body.get("status") or {}):
        meta = body["metadata"]
        api.apply(
            {
                "apiVersion": body["apiVersion"],
                "kind": body["kind"],
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "status": status,
            },
            subresource="status",
        )
        writes += 1
    for event in plan.events:
        api.event(body, event.type, event.reason, event.message)
        writes += 1
    return Applied(writes=writes, push_errors=tuple(errors))
