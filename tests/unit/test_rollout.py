"""The rollout planner, step by step, on the sequences the design calls safe."""

from __future__ import annotations

from tfserving_operator.rollout import Phase, ReplicaView, VersionStatus, goal_for, next_stage
from tfserving_operator.stage import Stage

AV = VersionStatus("AVAILABLE")
LOADING = VersionStatus("LOADING")


def replica(
    pod: str, versions: dict[int, VersionStatus], labels: dict[str, int], ready: bool = True
) -> ReplicaView:
    return ReplicaView(pod=pod, ready=ready, versions=versions, labels=labels)


def test_new_model_goes_straight_to_its_goal() -> None:
    goal = goal_for({"stable": 1}, [1], None, keep_previous_stable=False)
    decision = next_stage(goal, None, [])
    assert decision.stage == Stage(frozenset({1}), {"stable": 1})
    assert decision.phase is Phase.IDLE


def test_canary_3_to_4_loads_first_then_waits_then_moves() -> None:
    current = Stage(frozenset({3}), {"stable": 3, "canary": 3})
    goal = goal_for({"stable": 3, "canary": 4}, [3, 4], current, False)
    serving = [replica(p, {3: AV}, {"stable": 3, "canary": 3}) for p in ("a", "b")]

    step1 = next_stage(goal, current, serving)
    assert step1.phase is Phase.LOADING
    assert step1.stage == Stage(frozenset({3, 4}), {"stable": 3, "canary": 3}), "labels must not move yet"

    half = [
        replica("a", {3: AV, 4: AV}, {"stable": 3, "canary": 3}),
        replica("b", {3: AV, 4: LOADING}, {"stable": 3, "canary": 3}),
    ]
    step2 = next_stage(goal, step1.stage, half)
    assert step2.stage == step1.stage and step2.phase is Phase.LOADING
    assert step2.waiting_on == ("b",)

    loaded = [replica(p, {3: AV, 4: AV}, {"stable": 3, "canary": 3}) for p in ("a", "b")]
    step3 = next_stage(goal, step2.stage, loaded)
    assert step3.phase is Phase.MOVING_LABELS
    assert step3.stage == Stage(frozenset({3, 4}), {"stable": 3, "canary": 4})

    moved = [replica(p, {3: AV, 4: AV}, {"stable": 3, "canary": 4}) for p in ("a", "b")]
    step4 = next_stage(goal, step3.stage, moved)
    assert step4.settled and step4.stage == step3.stage, "both versions stay: both are labelled"


def test_promote_stable_moves_then_unloads_the_old_version() -> None:
    current = Stage(frozenset({3, 4}), {"stable": 3, "canary": 4})
    goal = goal_for({"stable": 4, "canary": 4}, [3, 4], current, False)
    both = [replica("a", {3: AV, 4: AV}, {"stable": 3, "canary": 4})]
    move = next_stage(goal, current, both)
    assert move.phase is Phase.MOVING_LABELS
    assert move.stage == Stage(frozenset({3, 4}), {"stable": 4, "canary": 4})

    moved = [replica("a", {3: AV, 4: AV}, {"stable": 4, "canary": 4})]
    unload = next_stage(goal, move.stage, moved)
    assert unload.phase is Phase.UNLOADING
    assert unload.stage == Stage(frozenset({4}), {"stable": 4, "canary": 4})


def test_keep_previous_stable_keeps_it_loaded_for_instant_rollback() -> None:
    current = Stage(frozenset({3, 4}), {"stable": 4, "canary": 4})
    goal = goal_for({"stable": 4, "canary": 4}, [3, 4], current, keep_previous_stable=True)
    assert goal.versions == frozenset({3, 4})


def test_rollback_to_a_dropped_version_loads_it_again_first() -> None:
    current = Stage(frozenset({4}), {"stable": 4})
    goal = goal_for({"stable": 3}, [3, 4], current, False)
    serving = [replica("a", {4: AV}, {"stable": 4})]
    decision = next_stage(goal, current, serving)
    assert decision.phase is Phase.LOADING
    assert decision.stage == Stage(frozenset({3, 4}), {"stable": 4})


def test_a_failed_load_aborts_and_keeps_the_old_labels() -> None:
    current = Stage(frozenset({3, 4}), {"stable": 3})
    goal = goal_for({"stable": 3, "canary": 4}, [3, 4], current, False)
    failed = VersionStatus("END", "Failed to load: NOT_FOUND: no SavedModel bundle")
    serving = [replica("a", {3: AV, 4: failed}, {"stable": 3})]
    decision = next_stage(goal, current, serving)
    assert decision.phase is Phase.FAILED
    assert decision.stage == current
    assert "no SavedModel bundle" in decision.failure


def test_labels_wait_for_versions_that_are_not_exported_yet() -> None:
    current = Stage(frozenset({1}), {"stable": 1})
    goal = goal_for({"stable": 1, "canary": 2}, [1], current, False)
    assert dict(goal.labels) == {"stable": 1}
    assert dict(goal.waiting_for_export) == {"canary": 2}


def test_unready_replicas_do_not_hold_back_a_move_but_are_pushed_to() -> None:
    current = Stage(frozenset({3, 4}), {"stable": 3})
    goal = goal_for({"stable": 4}, [3, 4], current, False)
    pods = [
        replica("a", {3: AV, 4: AV}, {"stable": 3}),
        replica("new", {3: LOADING, 4: LOADING}, {"stable": 3}, ready=False),
    ]
    assert next_stage(goal, current, pods).phase is Phase.MOVING_LABELS


def test_no_labels_serves_the_newest_complete_version() -> None:
    goal = goal_for({}, [1, 5, 3], None, False)
    assert goal.versions == frozenset({5})


def test_running_but_unready_servers_are_sequenced_too_not_jumped_over() -> None:
    """A server that answers but is not ready yet still holds labels and refuses to move one."""
    current = Stage(frozenset({1}), {"stable": 1})
    goal = goal_for({"stable": 2}, [1, 2], current, False)
    starting = [replica(p, {1: AV}, {"stable": 1}, ready=False) for p in ("a", "b")]
    decision = next_stage(goal, current, starting)
    assert decision.phase is Phase.LOADING
    assert decision.stage == Stage(frozenset({1, 2}), {"stable": 1})


def test_a_stage_the_servers_refused_is_replanned_from_what_they_serve() -> None:
    """The ConfigMap says stable=2 on {2}, but every server refused the move and serves stable=1."""
    recorded = Stage(frozenset({2}), {"stable": 2})
    goal = goal_for({"stable": 2}, [1, 2], recorded, False)
    refused = [replica(p, {1: AV}, {"stable": 1}, ready=False) for p in ("a", "b")]
    decision = next_stage(goal, recorded, refused)
    assert decision.stage == Stage(frozenset({1, 2}), {"stable": 1}), "load 2 first, keep stable on 1"
    loaded = [replica(p, {1: AV, 2: AV}, {"stable": 1}) for p in ("a", "b")]
    assert next_stage(goal, decision.stage, loaded).stage == Stage(frozenset({1, 2}), {"stable": 2})


def test_a_server_still_holding_a_dropped_version_gets_the_unload_pushed() -> None:
    stage = Stage(frozenset({2}), {"stable": 2})
    assert not replica("a", {1: AV, 2: AV}, {"stable": 2}).holds(stage)
    assert replica("a", {1: VersionStatus("UNLOADING"), 2: AV}, {"stable": 2}).holds(stage)
    assert replica("a", {1: VersionStatus("END"), 2: AV}, {"stable": 2}).holds(stage)
    assert replica("a", {2: LOADING}, {"stable": 2}).holds(stage)
    failed = Stage(frozenset({1, 2}), {"stable": 1})
    assert replica("a", {1: AV, 2: VersionStatus("END", "boom")}, {"stable": 1}).holds(failed)
    assert not replica("a", {1: AV}, {"stable": 1}).holds(failed)
