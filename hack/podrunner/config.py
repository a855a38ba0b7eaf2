"""The pod runner's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunnerConfig:
    kubeconfig: Path
    state_dir: Path  # pod dirs live under state_dir / "pods"
    repo_root: Path  # its .venv/bin goes first on every process's PATH
    storage_emulator_host: str | None  # passed to every process as STORAGE_EMULATOR_HOST
    poll_seconds: float = 0.5
    configmap_sync_seconds: float = 2.0

    @property
    def pods_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def venv_bin(self) -> Path:
        return self.repo_root / ".venv" / "bin"
