"""The rollout planner: from the spec and what every replica reports, the next safe stage.

Pure and level-based (invariant 5): it looks only at the stage the ConfigMap holds and at the
observed replicas, so an operator restarted at any point resumes where the world is.

The safe sequence (tf-serving.md, "The label rule"; TF Serving's serving_config.md):
  1. load the new versions with the labels unchanged (one config that both adds version N and
     moves a label to N is rejected whole by server_core.cc UpdateModelVersionLabelMap);
  2. wait until each new target is AVAILABLE on every ready replica (a label may only point at an
     AVAILABLE version);
  3. move the labels; wait until every ready replica reports them;
  4. unload what no label needs any more (the version-switch policy loads before it unloads, and
     in-flight requests on an unloaded version finish).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .stage import Stage

AVAILABLE = "AVAILABLE"
UNLOADING = "UNLOADING"
END = "END"


class Phase(enum.StrEnum):
    IDLE = "Idle"
    LOADING = "Loading"
    MOVING_LABELS = "MovingLabels"
    UNLOADING = "Unloading"
    FAILED = "Failed"


@dataclass(frozen=True)
class VersionStatus:
    state: str
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.state == END and bool(self.error)


@dataclass(frozen=True)
class ReplicaView:
    """One serving pod as observed through TF Serving's status API."""

    pod: str
    ready: bool
    versions: Mapping[int, VersionStatus] = field(default_factory=dict)
    labels: Mapping[str, int] = field(default_factory=dict)
    reachable: bool = True

    def available(self, version: int) -> bool:
        status = self.versions.get(version)
        return status is not None and status.state == AVAILABLE

    def holds(self, stage: Stage) -> bool:
        """Whether this server has taken `stage`: it loads (or has loaded) exactly the stage's
        versions, a failed one counting as taken, and resolves exactly its labels."""
        live = {v for v, s in self.versions.items() if s.state not in (END, UNLOADING)}
        failed = {v for v, s in self.versions.items() if s.failed}
        return (
            stage.versions <= live | failed
            and live <= stage.versions
            and dict(self.labels) == dict(stage.labels)
        )


@dataclass(frozen=True)
class Goal:
    """Where the spec wants the servers to end up, given what storage has complete."""

    labels: Mapping[str, int]
    versions: frozenset[int]
    waiting_for_export: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    stage: Stage
    phase: Phase
    step: str
    # Stage changes the ConfigMap must record; pushes go to every replica that does not hold `stage`.
    waiting_on: tuple[str, ...] = ()
    failure: str = ""

    @property
    def settled(self) -> bool:
        return self.phase is Phase.IDLE and not self.waiting_on


def goal_for(
    spec_labels: Mapping[str, int],
    verified: Iterable[int],
    current: Stage | None,
    keep_previous_stable: bool,
) -> Goal:
    """The labels the spec asks for, holding back moves to versions not yet exported (invariant 2)."""
    ok = frozenset(verified)
    labels: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for label, version in spec_labels.items():
        if version in ok:
            labels[label] = version
        else:
            waiting[label] = version
            if current and label in current.labels:
                labels[label] = current.labels[label]
    versions = frozenset(labels.values())
    if not versions and ok and not spec_labels:
        versions = frozenset({max(ok)})  # no labels at all: serve the newest version, like TF Serving
    if keep_previous_stable and current:
        retired = current.versions - versions
        if retired:
            versions |= {max(retired)}
    return Goal(labels=labels, versions=versions, waiting_for_export=waiting)


def _describe_versions(versions: Iterable[int]) -> str:
    return ", ".join(str(v) for v in sorted(versions))


def _agreed_labels(replicas: Sequence[ReplicaView]) -> dict[str, int] | None:
    first = dict(replicas[0].labels)
    return first if all(dict(r.labels) == first for r in replicas[1:]) else None


def next_stage(goal: Goal, current: Stage | None, replicas: Iterable[ReplicaView]) -> Decision:
    replicas = [r for r in replicas if r.reachable]
    # Labels must stay resolvable on the replicas that serve traffic. Servers that answer but are
    # not ready still hold labels and refuse to move one to a version they have not loaded, so with
    # no ready replica the running ones are sequenced the same way.
    ready = [r for r in replicas if r.ready] or [r for r in replicas if r.versions]
    final = Stage(goal.versions, goal.labels)
    if current is None or not ready:
        # No server holds a label yet: go straight to the goal. Servers start from it with
        # --allow_version_labels_for_unavailable_models (invariant 4).
        return Decision(final, Phase.IDLE, "serving " + final.describe())
    served = _agreed_labels(ready)
    if served is not None and served != dict(current.labels):
        # The servers do not hold the recorded stage's labels (TF Serving refused a label move, or
        # a polled file is not re-read yet): plan from the labels they actually serve.
        current = Stage(current.versions | frozenset(served.values()), served)

    # 1. Load every target with the labels unchanged.
    loading = Stage(current.versions | goal.versions, current.labels)
    if loading != current:
        new = loading.versions - current.versions
        return Decision(loading, Phase.LOADING, f"loading version(s) {_describe_versions(new)}")

    # 2. Every version a label moves to must be AVAILABLE on every ready replica (invariant 1).
    moved_to = {v for label, v in goal.labels.items() if current.labels.get(label) != v}
    for version in sorted(moved_to):
        for replica in ready:
            status = replica.versions.get(version)
            if status is not None and status.failed:
                return Decision(
                    current,
                    Phase.FAILED,
                    f"version {version} failed to load",
                    failure=f"version {version} failed to load on {replica.pod}: {status.error}",
                )
        waiting = tuple(r.pod for r in ready if not r.available(version))
        if waiting:
            return Decision(
                current,
                Phase.LOADING,
                f"waiting for version {version} to become AVAILABLE on {len(waiting)} replica(s)",
                waiting_on=waiting,
            )

    # 3. Move the labels, then see them live everywhere.
    if dict(current.labels) != dict(goal.labels):
        moving = Stage(current.versions, goal.labels)
        changes = ", ".join(
            f"{label} {current.labels.get(label, 'none')}->{goal.labels.get(label, 'none')}"
            for label in sorted(set(current.labels) | set(goal.labels))
            if current.labels.get(label) != goal.labels.get(label)
        )
        return Decision(moving, Phase.MOVING_LABELS, f"moving labels: {changes}")
    lagging = tuple(r.pod for r in ready if dict(r.labels) != dict(goal.labels))
    if lagging:
        return Decision(
            current, Phase.MOVING_LABELS, f"waiting for labels on {len(lagging)} replica(s)", lagging
        )

    # 4. Unload what no label needs.
    if current.versions != final.versions:
        dropped = current.versions - final.versions
        return Decision(final, Phase.UNLOADING, f"unloading version(s) {_describe_versions(dropped)}")
    stragglers = tuple(r.pod for r in ready if not r.holds(final))
    if stragglers:
        return Decision(final, Phase.IDLE, "serving " + final.describe(), stragglers)
    return Decision(final, Phase.IDLE, "serving " + final.describe())
