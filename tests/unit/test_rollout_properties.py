"""Property tests: random spec edits, random load outcomes, restarts and scale-ups; every stage the
planner emits must keep the promotion invariants (ARCHITECTURE.md).

The replicas are simulated with TF Serving's label rule (tf-serving.md): a config that moves an
existing label to a version that is not AVAILABLE is rejected whole; new labels may point at a
loading version only at start-up (--allow_version_labels_for_unavailable_models).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tfserving_operator.rollout import Phase, ReplicaView, VersionStatus, goal_for, next_stage
from tfserving_operator.stage import Stage

VERSIONS = [1, 2, 3, 4]
LABELS = ["stable", "canary"]


@dataclass
class SimServer:
    name: str
    versions: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, stage: Stage) -> SimServer:
        # Start-up: labels are assigned even to versions still loading (the flag allows it).
        return cls(name, {v: "LOADING" for v in stage.versions}, {}, dict(stage.labels))

    def apply(self, stage: Stage) -> bool:
        """HandleReloadConfig: the label check runs before any load; failure applies nothing."""
        for label, version in stage.labels.items():
            if self.labels.get(label, version) != version and self.versions.get(version) != "AVAILABLE":
                return False
        for version in stage.versions:
            if self.versions.get(version) in (None, "END"):
                self.versions[version] = "LOADING"
                self.errors.pop(version, None)
        for version in list(self.versions):
            if version not in stage.versions and not self.errors.get(version):
                self.versions[version] = "END"
        self.labels = dict(stage.labels)
        return True

    def ready(self, recorded: Stage | None) -> bool:
        """Like the pods' readiness probe: the ConfigMap stage's labelled versions are AVAILABLE here."""
        if recorded is None:
            return False
        needed = set(recorded.labels.values()) or set(recorded.versions)
        return all(self.versions.get(v) == "AVAILABLE" for v in needed)

    def view(self, recorded: Stage | None) -> ReplicaView:
        return ReplicaView(
            pod=self.name,
            ready=self.ready(recorded),
            versions={v: VersionStatus(s, self.errors.get(v, "")) for v, s in self.versions.items()},
            labels=dict(self.labels),
        )

    def resolvable(self) -> dict[str, bool]:
        return {label: self.versions.get(v) == "AVAILABLE" for label, v in self.labels.items()}


labels_strategy = st.dictionaries(st.sampled_from(LABELS), st.sampled_from(VERSIONS), max_size=2)
some_labels = st.dictionaries(st.sampled_from(LABELS), st.sampled_from(VERSIONS), min_size=1, max_size=2)
action = st.one_of(
    st.tuples(st.just("edit"), labels_strategy),
    st.tuples(st.just("export"), st.sampled_from(VERSIONS)),
    st.tuples(st.just("load"), st.integers(0, 5), st.sampled_from(VERSIONS)),
    st.tuples(st.just("fail"), st.integers(0, 5), st.sampled_from(VERSIONS)),
    st.tuples(st.just("restart"), st.integers(0, 5)),
    st.tuples(
        st.just("scale_up"),
    ),
    st.tuples(
        st.just("reconcile"),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    initial=some_labels,
    actions=st.lists(action, min_size=1, max_size=60),
    replicas=st.integers(1, 3),
)
def test_every_emitted_stage_keeps_the_invariants(
    initial: dict[str, int], actions: list[tuple], replicas: int
) -> None:
    exported = set(initial.values())
    spec_labels = dict(initial)
    stage: Stage | None = None
    servers: list[SimServer] = []
    counter = 0

    def reconcile() -> None:
        nonlocal stage
        before_ready = {s.name: (s.ready(stage), s.resolvable()) for s in servers}
        views = [s.view(stage) for s in servers]
        goal = goal_for(spec_labels, exported, stage, keep_previous_stable=False)
        decision = next_stage(goal, stage, views)
        new = decision.stage

        # Invariant 4: what the ConfigMap holds, a fresh pod can load.
        assert set(new.labels.values()) <= new.versions
        # Invariant 2: nothing is loaded that is not complete in storage.
        assert new.versions <= exported | (stage.versions if stage else set())
        assert (new.versions - (stage.versions if stage else set())) <= exported
        # Invariant 1: an existing label moves only to a version AVAILABLE on every ready replica.
        if stage is not None:
            for label, version in new.labels.items():
                if label in stage.labels and stage.labels[label] != version:
                    for view in views:
                        if view.ready:
                            assert view.available(version), (label, version, view)
        # Determinism (invariant 5): the same observation gives the same decision.
        assert next_stage(goal, stage, views) == decision

        stage = new
        for server in servers:
            server.apply(new)
        # Invariant 3: a label that was resolvable on a ready replica stays resolvable, unless the
        # user removed it from the spec.
        for server in servers:
            was_ready, old_ok = before_ready[server.name]
            if not was_ready:
                continue
            for label, ok in old_ok.items():
                if ok and label in spec_labels and label in server.labels:
                    assert server.resolvable()[label], (label, server)

    reconcile()
    for i in range(replicas):
        assert stage is not None
        servers.append(SimServer.start(f"pod-{i}", stage))
        counter += 1
    for act in actions:
        kind = act[0]
        if kind == "edit":
            spec_labels = dict(act[1])
        elif kind == "export":
            exported.add(act[1])
        elif kind in ("load", "fail") and servers:
            server = servers[act[1] % len(servers)]
            if server.versions.get(act[2]) == "LOADING":
                server.versions[act[2]] = "AVAILABLE" if kind == "load" else "END"
                if kind == "fail":
                    server.errors[act[2]] = "Failed to load"
        elif kind == "restart" and servers and stage is not None:
            idx = act[1] % len(servers)
            servers[idx] = SimServer.start(f"pod-{counter}", stage)
            counter += 1
        elif kind == "scale_up" and stage is not None and len(servers) < 4:
            servers.append(SimServer.start(f"pod-{counter}", stage))
            counter += 1
        reconcile()


@settings(max_examples=100, deadline=None)
@given(start=some_labels, target=some_labels, replicas=st.integers(1, 3))
def test_without_failures_every_rollout_reaches_its_goal(
    start: dict[str, int], target: dict[str, int], replicas: int
) -> None:
    """Liveness: with loads that succeed, the planner converges to the spec's labels everywhere."""
    exported = set(VERSIONS)
    stage = next_stage(goal_for(start, exported, None, False), None, []).stage
    servers = [SimServer.start(f"pod-{i}", stage) for i in range(replicas)]
    for step in range(20):
        # Loads finish one pass after they start, so the first pass sees servers up but not ready.
        if step > 0:
            for server in servers:
                for v, s in server.versions.items():
                    if s == "LOADING":
                        server.versions[v] = "AVAILABLE"
        goal = goal_for(target, exported, stage, False)
        decision = next_stage(goal, stage, [s.view(stage) for s in servers])
        assert decision.phase is not Phase.FAILED
        stage = decision.stage
        for server in servers:
            server.apply(stage)
        if decision.settled:
            break
    assert dict(stage.labels) == dict(target)
    assert stage.versions == frozenset(target.values())
    assert all(dict(s.labels) == dict(target) for s in servers)
