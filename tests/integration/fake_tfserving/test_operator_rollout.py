"""The operator's replica I/O and planner driving real TF-Serving-compatible server processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tfserving_operator.replicas import Endpoint, ReplicaError, push_config, read_replica
from tfserving_operator.rollout import Phase, ReplicaView, goal_for, next_stage
from tfserving_operator.spec import ServedModelSpec
from tfserving_operator.stage import Stage
from tfserving_operator.tfconfig import render_models_config

from .tfs_harness import MODEL, ServerProcess, copy_versions

pytestmark = pytest.mark.tf


@pytest.fixture
def servers(model_library: Path, tmp_path: Path) -> Iterator[tuple[ServedModelSpec, list[ServerProcess]]]:
    base = tmp_path / "models" / MODEL
    copy_versions(model_library, base, [1, 2, 3])
    spec = ServedModelSpec(storage_uri=str(base), versions=(), model_name=MODEL)
    config = tmp_path / "models.config"
    config.write_text(render_models_config(spec, Stage(frozenset({1}), {"stable": 1})))
    flags = [f"--model_config_file={config}", "--allow_version_labels_for_unavailable_models=true"]
    procs = [ServerProcess(tmp_path, [*flags, "--load_delay_seconds=0.5"]) for _ in range(2)]
    try:
        for proc in procs:
            proc.wait_ready()
        yield spec, procs
    finally:
        for proc in procs:
            proc.stop()


def endpoint(i: int, proc: ServerProcess) -> Endpoint:
    return Endpoint(f"pod-{i}", "127.0.0.1", True, rest_port=proc.rest_port, grpc_port=proc.grpc_port)


def views(procs: list[ServerProcess], labels: list[str]) -> list[ReplicaView]:
    return [read_replica(endpoint(i, p), MODEL, labels, timeout=5) for i, p in enumerate(procs)]


def test_a_canary_then_a_promotion_reach_every_server_in_safe_stages(
    servers: tuple[ServedModelSpec, list[ServerProcess]],
) -> None:
    spec, procs = servers
    labels = ["stable", "canary"]
    first = views(procs, labels)
    assert all(v.labels == {"stable": 1} and v.available(1) for v in first)

    stage = Stage(frozenset({1}), {"stable": 1})
    phases = []
    for target in ({"stable": 1, "canary": 2}, {"stable": 2, "canary": 2}):
        deadline = time.monotonic() + 60
        while True:
            observed = views(procs, labels)
            goal = goal_for(target, [1, 2, 3], stage, keep_previous_stable=False)
            decision = next_stage(goal, stage, observed)
            assert decision.phase is not Phase.FAILED, decision.failure
            phases.append(decision.phase)
            if decision.settled:
                break
            stage = decision.stage
            for i, proc in enumerate(procs):
                push_config(endpoint(i, proc), render_models_config(spec, stage), timeout=10)
            # Every existing label keeps answering on every server during the rollout.
            for proc in procs:
                for label in stage.labels:
                    response = proc.post(f"/v1/models/{MODEL}/labels/{label}:predict", {"instances": [0.0]})
                    assert response.status_code == 200, response.text
            assert time.monotonic() < deadline, f"rollout stuck at {decision}"
            time.sleep(0.2)
    assert Phase.LOADING in phases and Phase.MOVING_LABELS in phases and Phase.UNLOADING in phases
    final = views(procs, labels)
    assert all(v.labels == {"stable": 2, "canary": 2} for v in final)
    for proc in procs:
        response = proc.post(f"/v1/models/{MODEL}/labels/stable:predict", {"instances": [0.0]})
        assert response.json()["predictions"][0]["version"] == 2


def test_moving_a_label_to_an_unloaded_version_is_refused_with_tf_servings_message(
    servers: tuple[ServedModelSpec, list[ServerProcess]],
) -> None:
    spec, procs = servers
    bad = Stage(frozenset({1, 3}), {"stable": 3})
    with pytest.raises(ReplicaError, match="not currently available"):
        push_config(endpoint(0, procs[0]), render_models_config(spec, bad), timeout=10)
    # Nothing of the refused config was applied.
    assert read_replica(endpoint(0, procs[0]), MODEL, ["stable"], timeout=5).labels == {"stable": 1}
