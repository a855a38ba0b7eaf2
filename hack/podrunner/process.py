"""Pod processes: start one per pod (through podrunner.wrap), find it again after a restart, stop it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

WRAP = Path(__file__).resolve().parent / "wrap.py"


@dataclass(frozen=True)
class ProcessSpec:
    """A local command standing in for a pod's container."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the pod's env (wins over it)
    cwd: Path | None = None  # default: <pod dir>/work


@dataclass
class ProcessRecord:
    """What pod.json in a pod's dir remembers, so a restarted runner can re-adopt the process."""

    uid: str
    namespace: str
    name: str
    kind: str  # "job" or "serving"
    pod_ip: str
    host_ip: str
    pid: int = 0
    proc_start: str = ""  # /proc/<pid>/stat start time: tells our process from a reused pid
    started_at: str = ""
    restart_count: int = 0
    finished: bool = False
    # The ProcessSpec, so a re-adopted pod keeps its command even if the serving hook changed since.
    argv: list[str] = field(default_factory=list)
    spec_env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""

    def remember(self, spec: ProcessSpec) -> None:
        self.argv, self.spec_env, self.cwd = list(spec.argv), dict(spec.env), str(spec.cwd or "")

    def spec(self) -> ProcessSpec | None:
        return (
            ProcessSpec(self.argv, self.spec_env, Path(self.cwd) if self.cwd else None) if self.argv else None
        )

    def save(self, pod_dir: Path) -> None:
        tmp = pod_dir / "pod.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, pod_dir / "pod.json")

    @classmethod
    def load(cls, pod_dir: Path) -> ProcessRecord | None:
        try:
            return cls(**json.loads((pod_dir / "pod.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None


def _proc_start(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Fields after the parenthesised command name; field 22 of stat is the start time.
    fields = stat.rsplit(")", 1)[1].split()
    return "" if fields[0] == "Z" else fields[19]


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ProcessTable:
    """Handles on the processes this runner started (to reap them); adopted ones are checked via /proc."""

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, spec: ProcessSpec, env: dict[str, str], pod_dir: Path, record: ProcessRecord) -> None:
        cwd = spec.cwd or pod_dir / "work"
        cwd.mkdir(parents=True, exist_ok=True)
        exit_file = pod_dir / "exit-code"
        exit_file.unlink(missing_ok=True)
        with (pod_dir / "log").open("ab") as log:
            log.write(f"--- podrunner: starting {spec.argv!r} at {now_rfc3339()}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                # wrap.py is run by path (it needs only the standard library) so the pod's env stays its own.
                [sys.executable, str(WRAP), str(exit_file), "--", *spec.argv],
                env={**env, **spec.env},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping the pod signals all of it
            )
        self._children[proc.pid] = proc
        record.pid = proc.pid
        record.proc_start = _proc_start(proc.pid)
        record.started_at = now_rfc3339()
        record.finished = False
        record.save(pod_dir)

    def alive(self, record: ProcessRecord) -> bool:
        child = self._children.get(record.pid)
        if child is not None:
            if child.poll() is None:
                return True
            del self._children[record.pid]
            return False
        return bool(record.pid) and _proc_start(record.pid) == record.proc_start

    def stop(self, record: ProcessRecord, grace_seconds: float) -> None:
        """SIGTERM the pod's process group, then SIGKILL what is left after the grace period."""
        if not self.alive(record):
            return
        try:
            os.killpg(record.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and self.alive(record):
            time.sleep(0.1)
        if self.alive(record):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(record.pid, signal.SIGKILL)
        self.alive(record)  # reap


def exit_code(pod_dir: Path) -> int | None:
    try:
        return int((pod_dir / "exit-code").read_text())
    except (OSError, ValueError):
        return None
