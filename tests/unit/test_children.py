"""The objects a ServedModel owns, as a user of the cluster would see them."""

from __future__ import annotations

from tfserving_operator import children
from tfserving_operator.exports import export_job
from tfserving_operator.settings import OperatorSettings
from tfserving_operator.stage import Stage

from .helpers import servedmodel

SETTINGS = OperatorSettings()
STAGE = Stage(frozenset({1, 2}), {"stable": 1, "canary": 2})


def _container(dep: dict) -> dict:  # type: ignore[type-arg]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def test_gpu_model_lands_on_its_accelerator_pool_with_gpu_limit_and_toleration() -> None:
    dep = children.deployment(servedmodel(), SETTINGS)
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert _container(dep)["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert _container(dep)["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}


def test_accelerator_label_key_is_configurable_per_model_and_per_operator() -> None:
    sm = servedmodel(
        serving={"accelerator": {"type": "a100", "count": 2, "nodeLabelKey": "gpu.example/type"}}
    )
    dep = children.deployment(sm, SETTINGS)
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"gpu.example/type": "a100"}
    other = OperatorSettings(accelerator_label_key="k8s.amazonaws.com/accelerator")
    dep = children.deployment(servedmodel(), other)
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"k8s.amazonaws.com/accelerator": "nvidia-l4"}


def test_cpu_model_has_no_gpu_scheduling_and_a_cpu_image() -> None:
    sm = servedmodel(serving={"replicas": 2})
    dep = children.deployment(sm, SETTINGS)
    pod = dep["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert _container(dep)["image"] == "tensorflow/serving:2.18.0"
    assert "nvidia.com/gpu" not in _container(dep)["resources"].get("limits", {})


def test_server_flags_follow_the_reference() -> None:
    args = _container(children.deployment(servedmodel(), SETTINGS))["args"]
    assert "--model_config_file=/etc/tfserving/models.config" in args
    assert "--allow_version_labels_for_unavailable_models=true" in args
    assert "--enable_batching=true" in args
    assert "--batching_parameters_file=/etc/tfserving/batching.config" in args
    assert "--monitoring_config_file=/etc/tfserving/monitoring.config" in args
    # reload delivery: the file is read at start only; pushes go over gRPC.
    assert "--model_config_file_poll_wait_seconds=0" in args
    poll = servedmodel(rollout={"configDelivery": "poll"}, serving={"configPollSeconds": 7})
    assert (
        "--model_config_file_poll_wait_seconds=7" in _container(children.deployment(poll, SETTINGS))["args"]
    )


def test_replicas_are_left_to_the_hpa_when_autoscaling() -> None:
    assert "replicas" not in children.deployment(servedmodel(), SETTINGS)["spec"]
    fixed = servedmodel(autoscaling=None, serving={"replicas": 3})
    assert children.deployment(fixed, SETTINGS)["spec"]["replicas"] == 3
    assert children.autoscaler(fixed) is None


def test_hpa_defaults_to_cpu_70_percent_and_targets_the_deployment() -> None:
    hpa = children.autoscaler(servedmodel())
    assert hpa is not None
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "vit-serving",
    }
    assert hpa["spec"]["minReplicas"] == 1 and hpa["spec"]["maxReplicas"] == 4
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == 70


def test_pods_run_with_a_restricted_security_context() -> None:
    dep = children.deployment(servedmodel(), SETTINGS)
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = _container(dep)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_readiness_waits_for_available_versions_via_a_script_in_the_config_map() -> None:
    sm = servedmodel()
    probe = _container(children.deployment(sm, SETTINGS))["readinessProbe"]
    assert probe["exec"]["command"] == ["/bin/bash", "/etc/tfserving/ready.sh"]
    cm = children.config_map(sm, STAGE)
    assert cm["data"]["ready-versions"] == "vit 1\nvit 2\n"
    assert '"AVAILABLE"' in cm["data"]["ready.sh"]


def test_label_and_version_changes_never_touch_the_pod_template() -> None:
    """Invariant 6: only the ConfigMap changes with a promotion; pods do not roll."""
    before = children.deployment(servedmodel(labels={"stable": 1}), SETTINGS)
    after = children.deployment(servedmodel(labels={"stable": 2, "canary": 2}), SETTINGS)
    assert before == after
    batched = servedmodel(serving={"batching": {"maxBatchSize": 64}})
    assert children.deployment(batched, SETTINGS)["spec"]["template"] != before["spec"]["template"]


def test_every_child_is_owned_by_the_servedmodel() -> None:
    sm = servedmodel()
    objs = children.serving_children(sm, STAGE, SETTINGS)
    assert [o["kind"] for o in objs] == ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"]
    for obj in objs:
        (ref,) = obj["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "tfserving.dev/v1alpha1",
            "kind": "ServedModel",
            "name": "vit",
            "uid": "0000-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }


def test_service_exposes_grpc_and_rest() -> None:
    svc = children.service(servedmodel())
    assert {(p["name"], p["port"]) for p in svc["spec"]["ports"]} == {("grpc", 8500), ("http", 8501)}
    assert svc["spec"]["selector"] == {"tfserving.dev/servedmodel": "vit", "tfserving.dev/role": "server"}


def test_gpu_image_detection() -> None:
    assert children.is_gpu_image("tensorflow/serving:2.18.0-gpu")
    assert children.is_gpu_image("registry.local:5000/tf/serving:latest-gpu")
    assert not children.is_gpu_image("tensorflow/serving:2.18.0")
    assert not children.is_gpu_image("registry.local:5000/gpu/serving:2.18.0")


def test_export_job_runs_the_exporter_for_its_version() -> None:
    sm = servedmodel()
    entry = sm.spec.versions[1]
    assert entry.export is not None
    job = export_job(sm, 2, entry.export, SETTINGS)
    assert job["metadata"]["name"] == "vit-export-2"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["savedmodel-export"]
    assert container["args"] == [
        "--source=gs://acme-models/src/vit-2.keras",
        "--output=gs://acme-models/vit",
        "--version=2",
        "--preset=image-classifier",
    ]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
