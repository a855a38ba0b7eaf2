"""`servedmodel status`: what is live, per replica, as a table for a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _labels(labels: Mapping[str, Any] | None) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "-"


def format_status(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    rollout = status.get("rollout") or {}
    lines = [
        f"ServedModel {meta.get('namespace')}/{meta.get('name')}  generation {meta.get('generation')} "
        f"(observed {status.get('observedGeneration', '-')})",
        f"Labels in spec:      {_labels(spec.get('labels'))}",
        f"Labels live on all:  {_labels(status.get('liveLabels'))}",
        f"Rollout:             {rollout.get('phase', '-')}: {rollout.get('step', '-')} "
        f"(since {rollout.get('since', '-')})",
        f"Replicas ready:      {status.get('replicaSummary', '-')}",
    ]
    endpoints = status.get("endpoints") or {}
    if endpoints:
        lines.append(f"Endpoints:           REST {endpoints.get('rest')}  gRPC {endpoints.get('grpc')}")
    servers = status.get("servers") or []
    if servers:
        rows: list[tuple[str, str, str, str]] = [("POD", "READY", "LABELS", "VERSIONS")]
        for s in servers:
            loaded = " ".join(f"{v}:{state}" for v, state in sorted((s.get("versions") or {}).items()))
            ready = "yes" if s.get("ready") else "no"
            if not s.get("reachable", True):
                ready += " (unreachable)"
            rows.append((s.get("pod", ""), ready, _labels(s.get("labels")), loaded or "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines.append("")
        lines += ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    version_reports = status.get("versions") or []
    if version_reports:
        lines.append("")
        lines.append("Versions:")
        for v in version_reports:
            message = f"  {v['message']}" if v.get("message") else ""
            lines.append(f"  {v.get('version'):>6}  {v.get('state')}{message}")
    conditions = status.get("conditions") or []
    if conditions:
        lines.append("")
        lines.append("Conditions:")
        width = max(len(c.get("type", "")) for c in conditions)
        for c in conditions:
            head = f"  {c.get('type', '').ljust(width)}  {c.get('status', ''):5}"
            lines.append(f"{head}  {c.get('reason', '')}: {c.get('message', '')}")
    return "\n".join(lines) + "\n"
