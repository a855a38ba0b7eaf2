"""A whole reconcile decision from spec + observation: status, Jobs, pushes, events."""

from __future__ import annotations

import datetime

from tfserving_operator.children import STAGE_ANNOTATION
from tfserving_operator.observe import JobState, Observed, VersionCheck
from tfserving_operator.plan import plan
from tfserving_operator.replicas import Endpoint
from tfserving_operator.rollout import ReplicaView, VersionStatus
from tfserving_operator.settings import OperatorSettings
from tfserving_operator.stage import Stage

from .helpers import servedmodel

NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.UTC)
SETTINGS = OperatorSettings()
AV = VersionStatus("AVAILABLE")
COMPLETE = {1: VersionCheck(True), 2: VersionCheck(True)}


def conditions(status: dict) -> dict[str, tuple[str, str]]:  # type: ignore[type-arg]
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def serving(stage: Stage, labels: dict[str, int], pods: int = 2, **kw: object) -> Observed:
    views = tuple(
        ReplicaView(pod=f"p{i}", ready=True, versions={v: AV for v in stage.versions}, labels=labels)
        for i in range(pods)
    )
    endpoints = tuple(Endpoint(pod=f"p{i}", ip=f"127.0.0.{10 + i}", ready=True) for i in range(pods))
    defaults: dict[str, object] = {
        "current_stage": stage,
        "stage_since": NOW - datetime.timedelta(seconds=5),
        "storage": COMPLETE,
        "endpoints": endpoints,
        "replicas": views,
        "desired_replicas": pods,
        "ready_replicas": pods,
    }
    defaults.update(kw)
    return Observed(**defaults)  # type: ignore[arg-type]


def test_first_pass_creates_everything_and_the_export_job() -> None:
    sm = servedmodel()
    storage = {1: VersionCheck(True), 2: VersionCheck(False, "no files")}
    p = plan(sm, Observed(storage=storage), SETTINGS, NOW)
    kinds = [o["kind"] for o in p.applies]
    assert kinds == ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "Job"]
    # Version 2 is not exported yet: canary waits, stable serves.
    assert p.stage == Stage(frozenset({1}), {"stable": 1})
    assert conditions(p.status)["Exported"] == ("False", "Exporting")
    assert conditions(p.status)["Ready"] == ("False", "NoReadyReplicas")
    assert p.requeue_after == SETTINGS.rollout_poll_seconds


def test_a_failed_export_surfaces_the_exporters_message() -> None:
    sm = servedmodel()
    storage = {1: VersionCheck(True), 2: VersionCheck(False, "no files")}
    job = JobState(
        "vit-export-2", "Failed", "--source: gs://acme-models/src/vit-2.keras: no such object", "x"
    )
    from tfserving_operator.exports import export_hash

    entry = sm.spec.versions[1]
    assert entry.export is not None
    job = JobState(job.name, job.phase, job.message, export_hash(sm, 2, entry.export, SETTINGS))
    p = plan(sm, Observed(storage=storage, jobs={2: job}), SETTINGS, NOW)
    assert conditions(p.status)["Degraded"] == ("True", "ExportFailed")
    assert "no such object" in next(c for c in p.status["conditions"] if c["type"] == "Exported")["message"]
    assert not [o for o in p.applies if o["kind"] == "Job"], (
        "a failed Job is not recreated behind the user's back"
    )
    version2 = next(v for v in p.status["versions"] if v["version"] == 2)
    assert version2["state"] == "ExportFailed"


def test_a_changed_export_replaces_the_unfinished_job() -> None:
    sm = servedmodel()
    storage = {1: VersionCheck(True), 2: VersionCheck(False, "no files")}
    job = JobState("vit-export-2", "Failed", "boom", export_hash="stale")
    p = plan(sm, Observed(storage=storage, jobs={2: job}), SETTINGS, NOW)
    assert ("Job", "vit-export-2") in p.deletes


def test_steady_state_needs_no_push_and_is_ready() -> None:
    sm = servedmodel()
    stage = Stage(frozenset({1, 2}), {"stable": 1, "canary": 2})
    p = plan(sm, serving(stage, {"stable": 1, "canary": 2}), SETTINGS, NOW)
    assert p.push_to == ()
    assert p.stage == stage
    got = conditions(p.status)
    assert got["Ready"] == ("True", "Serving")
    assert got["Promoting"] == ("False", "Idle")
    assert got["ConfigApplied"] == ("True", "Applied")
    assert got["Exported"] == ("True", "AllVersionsExported")
    assert p.status["liveLabels"] == {"stable": 1, "canary": 2}
    assert p.requeue_after == SETTINGS.resync_seconds
    assert p.status["endpoints"]["rest"] == "http://vit.ml.svc:8501/v1/models/vit"


def test_status_is_stable_across_passes_so_nothing_is_rewritten() -> None:
    sm = servedmodel()
    stage = Stage(frozenset({1, 2}), {"stable": 1, "canary": 2})
    first = plan(sm, serving(stage, {"stable": 1, "canary": 2}), SETTINGS, NOW)
    later = NOW + datetime.timedelta(minutes=5)
    second = plan(sm, serving(stage, {"stable": 1, "canary": 2}), SETTINGS, later, first.status)
    assert second.status == first.status
    assert second.events == ()
    assert second.applies == first.applies


def test_a_promotion_pushes_the_next_stage_to_every_replica() -> None:
    sm = servedmodel(labels={"stable": 2, "canary": 2})
    stage = Stage(frozenset({1, 2}), {"stable": 1, "canary": 2})
    p = plan(sm, serving(stage, {"stable": 1, "canary": 2}), SETTINGS, NOW)
    assert p.stage == Stage(frozenset({1, 2}), {"stable": 2, "canary": 2})
    assert [e.pod for e in p.push_to] == ["p0", "p1"]
    assert 'key: "stable"\n      value: 2' in p.models_config
    assert conditions(p.status)["Promoting"] == ("True", "MovingLabels")
    cm = p.applies[0]
    assert Stage.from_json(cm["metadata"]["annotations"][STAGE_ANNOTATION]) == p.stage
    assert any(e.reason == "PromotingMovingLabels" for e in p.events)


def test_a_stage_that_takes_too_long_aborts_and_keeps_old_labels() -> None:
    sm = servedmodel(labels={"stable": 1, "canary": 2}, rollout={"stageTimeoutSeconds": 60})
    stage = Stage(frozenset({1, 2}), {"stable": 1})
    loading = VersionStatus("LOADING")
    views = (ReplicaView("p0", True, {1: AV, 2: loading}, {"stable": 1}),)
    observed = serving(
        stage, {"stable": 1}, pods=1, replicas=views, stage_since=NOW - datetime.timedelta(minutes=5)
    )
    p = plan(sm, observed, SETTINGS, NOW)
    assert p.stage == stage
    got = conditions(p.status)
    assert got["Degraded"] == ("True", "StageTimeout")
    assert got["Promoting"] == ("False", "Aborted")
    assert any(e.type == "Warning" and e.reason == "DegradedStageTimeout" for e in p.events)
    # Sticky: once aborted, the mark in the ConfigMap keeps it aborted for the same goal.
    mark = p.applies[0]["metadata"]["annotations"]["tfserving.dev/aborted-goal"]
    views = (ReplicaView("p0", True, {1: AV, 2: AV}, {"stable": 1}),)
    again = plan(sm, serving(stage, {"stable": 1}, pods=1, replicas=views, aborted_goal=mark), SETTINGS, NOW)
    assert again.stage == stage
    assert conditions(again.status)["Degraded"][0] == "True"


def test_unschedulable_pods_surface_the_schedulers_reason() -> None:
    sm = servedmodel()
    msg = "pod vit-serving-x: 0/5 nodes are available: 5 Insufficient nvidia.com/gpu."
    p = plan(sm, Observed(storage=COMPLETE, desired_replicas=1, unschedulable=msg), SETTINGS, NOW)
    ready = next(c for c in p.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Unschedulable")
    assert "Insufficient nvidia.com/gpu" in ready["message"]


def test_cpu_image_with_a_gpu_request_raises_a_warning_condition() -> None:
    sm = servedmodel(serving={"image": "tensorflow/serving:2.18.0", "accelerator": {"type": "nvidia-l4"}})
    p = plan(sm, Observed(storage=COMPLETE), SETTINGS, NOW)
    cond = next(c for c in p.status["conditions"] if c["type"] == "ImageMatchesAccelerator")
    assert (cond["status"], cond["reason"]) == ("False", "NotAGPUImage")
    assert "spec.serving.image" in cond["message"] and "-gpu" in cond["message"]
    assert any(e.type == "Warning" and e.reason == "ImageMatchesAcceleratorNotAGPUImage" for e in p.events)


def test_a_missing_version_without_export_says_how_to_fix_it() -> None:
    sm = servedmodel()
    storage = {1: VersionCheck(False, "gs://acme-models/vit/1: no files"), 2: VersionCheck(True)}
    p = plan(sm, Observed(storage=storage), SETTINGS, NOW)
    cond = next(c for c in p.status["conditions"] if c["type"] == "Exported")
    assert cond["reason"] == "VersionMissing"
    assert "savedmodel-export" in cond["message"]


def test_nothing_complete_yet_means_no_pods_hold_gpus() -> None:
    sm = servedmodel()
    storage = {1: VersionCheck(False, "no files"), 2: VersionCheck(False, "no files")}
    p = plan(sm, Observed(storage=storage), SETTINGS, NOW)
    assert [o["kind"] for o in p.applies] == ["ConfigMap", "Job"]
    assert conditions(p.status)["Ready"] == ("False", "NoCompleteVersion")
