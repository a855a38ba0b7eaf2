"""Pod status patches. Strategic merge merges conditions by type but replaces the containerStatuses
list whole (it has no patch merge key), so each patch carries the complete container status."""

from __future__ import annotations

from pathlib import Path

from podrunner.kube import Obj
from podrunner.process import ProcessRecord, now_rfc3339

# The kubelet's limits: a termination message file is read up to 4096 bytes; the log fallback
# (terminationMessagePolicy: FallbackToLogsOnError) takes the last 80 lines, at most 2048 bytes.
MESSAGE_FILE_LIMIT = 4096
LOG_TAIL_LINES = 80
LOG_TAIL_BYTES = 2048


def _conditions(ready: bool, reason: str | None = None) -> list[Obj]:
    now = now_rfc3339()
    out: list[Obj] = [{"type": "Initialized", "status": "True", "lastTransitionTime": now}]
    for kind in ("ContainersReady", "Ready"):
        # reason None removes a stale one (strategic merge deletes null keys).
        out.append(
            {
                "type": kind,
                "status": "True" if ready else "False",
                "lastTransitionTime": now,
                "reason": reason,
            }
        )
    return out


def _addresses(record: ProcessRecord) -> Obj:
    return {
        "podIP": record.pod_ip,
        "podIPs": [{"ip": record.pod_ip}],
        "hostIP": record.host_ip,
        "hostIPs": [{"ip": record.host_ip}],
    }


def _container(
    container: Obj, record: ProcessRecord, state: Obj, ready: bool, last: Obj | None = None
) -> Obj:
    status: Obj = {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "containerID": f"podrunner://{record.pid}",
        "ready": ready,
        "started": "running" in state,
        "restartCount": record.restart_count,
        "state": state,
    }
    if last is not None:
        status["lastState"] = {"terminated": last}
    return status


def waiting(container: Obj, record: ProcessRecord, reason: str, message: str) -> Obj:
    return {
        "phase": "Pending",
        "conditions": _conditions(False, "ContainersNotReady"),
        "containerStatuses": [
            _container(container, record, {"waiting": {"reason": reason, "message": message}}, False)
        ],
        **_addresses(record),
    }


def running(container: Obj, record: ProcessRecord, ready: bool, last: Obj | None = None) -> Obj:
    state = {"running": {"startedAt": record.started_at}}
    return {
        "phase": "Running",
        "startTime": record.started_at,
        "conditions": _conditions(ready, None if ready else "ContainersNotReady"),
        "containerStatuses": [_container(container, record, state, ready, last)],
        **_addresses(record),
    }


def crash_loop(container: Obj, record: ProcessRecord, last: Obj, delay_seconds: float) -> Obj:
    """Between an exit and the restart (restartPolicy Always, or OnFailure after a failure)."""
    out = running(container, record, False, last)
    out["containerStatuses"][0]["started"] = False
    out["containerStatuses"][0]["state"] = {
        "waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {delay_seconds:.0f}s restarting"}
    }
    return out


def terminated_state(record: ProcessRecord, exit_code: int, message: str) -> Obj:
    state: Obj = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "startedAt": record.started_at,
        "finishedAt": now_rfc3339(),
        "containerID": f"podrunner://{record.pid}",
    }
    if message:
        state["message"] = message
    return state


def finished(container: Obj, record: ProcessRecord, terminated: Obj, last: Obj | None = None) -> Obj:
    """The pod's final status: Succeeded on exit code 0, Failed otherwise."""
    return {
        "phase": "Succeeded" if terminated["exitCode"] == 0 else "Failed",
        "conditions": _conditions(False, "PodCompleted"),
        "containerStatuses": [_container(container, record, {"terminated": terminated}, False, last)],
        **_addresses(record),
    }


def termination_message(container: Obj, pod_dir: Path, exit_code: int) -> str:
    try:
        with (pod_dir / "termination-log").open("rb") as f:
            message = f.read(MESSAGE_FILE_LIMIT).decode(errors="replace")
    except OSError:
        message = ""
    if message or exit_code == 0 or container.get("terminationMessagePolicy") != "FallbackToLogsOnError":
        return message
    try:
        lines = (pod_dir / "log").read_bytes().splitlines(keepends=True)
    except OSError:
        return ""
    # Our own "--- podrunner:" marker lines are not the container's output.
    lines = [ln for ln in lines if not ln.startswith(b"--- podrunner:")]
    return b"".join(lines[-LOG_TAIL_LINES:])[-LOG_TAIL_BYTES:].decode(errors="replace")
