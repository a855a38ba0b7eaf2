"""Pure builders: a ServedModel (+ the stage to serve) -> the Kubernetes objects it owns.

No I/O here. Each builder returns the full object the operator server-side applies, so `render`
(offline) and the operator always produce the very same objects.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import naming as n
from .settings import OperatorSettings
from .spec import API_VERSION, KIND, ServedModel
from .stage import Stage
from .tfconfig import (
    READY_SCRIPT,
    ready_probe_command,
    render_batching_config,
    render_models_config,
    render_monitoring_config,
    render_ready_versions,
)

STAGE_ANNOTATION = "tfserving.dev/stage"
TEMPLATE_HASH_ANNOTATION = "tfserving.dev/startup-files-hash"
Manifest = dict[str, Any]


def owner_reference(sm: ServedModel) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": sm.name,
        "uid": sm.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(sm: ServedModel, name: str, role: str | None = None) -> dict[str, Any]:
    labels = n.common_labels(sm)
    if role:
        labels[n.ROLE_LABEL] = role
    return {
        "name": name,
        "namespace": sm.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(sm)],
    }


def _startup_files(sm: ServedModel) -> dict[str, str]:
    """ConfigMap files read only at server start (a change must roll pods)."""
    files = {n.MONITORING_KEY: render_monitoring_config()}
    if sm.spec.serving.batching:
        files[n.BATCHING_KEY] = render_batching_config(sm.spec.serving.batching)
    return files


def config_map(sm: ServedModel, stage: Stage) -> Manifest:
    """models.config for `stage`, the readiness files, and the start-up-only config files."""
    data = {
        n.MODELS_CONFIG_KEY: render_models_config(sm.spec, stage),
        n.READY_VERSIONS_KEY: render_ready_versions(sm.spec, stage),
        n.READY_SCRIPT_KEY: READY_SCRIPT,
        **_startup_files(sm),
    }
    meta = _metadata(sm, n.config_map_name(sm), role="server-config")
    meta["annotations"] = {STAGE_ANNOTATION: stage.to_json()}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def server_args(sm: ServedModel) -> list[str]:
    serving = sm.spec.serving
    poll = serving.config_poll_seconds if sm.spec.rollout.config_delivery == "poll" else 0
    args = [
        f"--port={n.GRPC_PORT}",
        f"--rest_api_port={n.REST_PORT}",
        f"--model_config_file={n.CONFIG_DIR}/{n.MODELS_CONFIG_KEY}",
        # 0 = read once at start; with `reload` delivery the operator pushes configs over gRPC, and a
        # polled file that lags behind a push would undo it (the kubelet syncs ConfigMaps late).
        f"--model_config_file_poll_wait_seconds={poll}",
        # Without it a server whose config carries labels fails to start (tf-serving.md, label rule).
        "--allow_version_labels_for_unavailable_models=true",
        f"--monitoring_config_file={n.CONFIG_DIR}/{n.MONITORING_KEY}",
        f"--enable_model_warmup={str(serving.warmup).lower()}",
    ]
    if serving.batching:
        args += ["--enable_batching=true", f"--batching_parameters_file={n.CONFIG_DIR}/{n.BATCHING_KEY}"]
    if serving.gpu_memory_fraction is not None:
        args.append(f"--per_process_gpu_memory_fraction={serving.gpu_memory_fraction}")
    return args + list(serving.extra_args)


def _container_resources(sm: ServedModel, settings: OperatorSettings) -> dict[str, Any]:
    res = sm.spec.serving.resources
    out: dict[str, Any] = {}
    if res.requests:
        out["requests"] = dict(res.requests)
    limits = dict(res.limits)
    acc = sm.spec.serving.accelerator
    if acc:
        # Extended resources such as nvidia.com/gpu are set as limits; requests default to them.
        limits[settings.gpu_resource] = str(acc.count)
    if limits:
        out["limits"] = limits
    return out


def deployment(sm: ServedModel, settings: OperatorSettings) -> Manifest:
    serving = sm.spec.serving
    labels = {**n.common_labels(sm), **n.server_selector(sm)}
    startup_hash = hashlib.sha256(
        "\n".join(f"{k}\n{v}" for k, v in sorted(_startup_files(sm).items())).encode()
    ).hexdigest()[:16]
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [
            {
                "name": "tfserving",
                "image": serving.effective_image,
                "command": ["tensorflow_model_server"],
                "args": server_args(sm),
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "REST_PORT", "value": str(n.REST_PORT)},
                ],
                "ports": [
                    {"name": "grpc", "containerPort": n.GRPC_PORT, "protocol": "TCP"},
                    {"name": "http", "containerPort": n.REST_PORT, "protocol": "TCP"},
                ],
                "readinessProbe": {
                    "exec": {"command": ready_probe_command(n.CONFIG_DIR)},
                    "periodSeconds": 5,
                    "timeoutSeconds": 5,
                    "failureThreshold": 2,
                },
                # The ports open only after the first loads finish: give big models time to load.
                "startupProbe": {
                    "tcpSocket": {"port": n.GRPC_PORT},
                    "periodSeconds": 10,
                    "failureThreshold": 90,
                },
                "livenessProbe": {
                    "tcpSocket": {"port": n.GRPC_PORT},
                    "periodSeconds": 20,
                    "failureThreshold": 3,
                },
                "resources": _container_resources(sm, settings),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "config", "mountPath": n.CONFIG_DIR, "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": n.config_map_name(sm)}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    acc = serving.accelerator
    if acc:
        pod_spec["nodeSelector"] = {acc.node_label_key or settings.accelerator_label_key: acc.type}
        pod_spec["tolerations"] = [
            {"key": settings.gpu_taint_key, "operator": "Exists", "effect": "NoSchedule"},
        ]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": n.server_selector(sm)},
        # Never lose serving capacity while pods roll; a surge pod needs a free GPU to start.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": labels,
                "annotations": {
                    TEMPLATE_HASH_ANNOTATION: startup_hash,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(n.REST_PORT),
                    "prometheus.io/path": n.METRICS_PATH,
                },
            },
            "spec": pod_spec,
        },
    }
    if sm.spec.autoscaling is None:
        # With an HPA the replica count is the HPA's; applying it here would fight the HPA.
        spec["replicas"] = serving.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(sm, n.serving_name(sm), role="server"),
        "spec": spec,
    }


def service(sm: ServedModel) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(sm, n.service_name(sm), role="server"),
        "spec": {
            "type": "ClusterIP",
            "selector": n.server_selector(sm),
            "ports": [
                {"name": "grpc", "port": n.GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
                {"name": "http", "port": n.REST_PORT, "targetPort": "http", "appProtocol": "http"},
            ],
        },
    }


DEFAULT_METRICS = (
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
    },
)


def autoscaler(sm: ServedModel) -> Manifest | None:
    auto = sm.spec.autoscaling
    if auto is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(sm, n.serving_name(sm), role="server"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": n.serving_name(sm)},
            "minReplicas": auto.min_replicas,
            "maxReplicas": auto.max_replicas,
            "metrics": [dict(m) for m in (auto.metrics or DEFAULT_METRICS)],
        },
    }


def is_gpu_image(image: str) -> bool:
    """TF Serving's GPU builds are tagged `*-gpu` (tensorflow/serving:2.18.0-gpu, latest-gpu)."""
    tag = image.rsplit("/", 1)[-1].partition("@")[0]
    return "gpu" in tag.partition(":")[2]


def serving_children(sm: ServedModel, stage: Stage, settings: OperatorSettings) -> list[Manifest]:
    """Every serving object, in apply order (the ConfigMap before the pods that mount it).

    Until some version is complete in storage there is nothing to serve: no pods hold GPUs, and no
    server waits forever on a model without versions (TF Serving blocks a start or reload on it).
    """
    if not stage.versions:
        return [config_map(sm, stage)]
    objects = [config_map(sm, stage), deployment(sm, settings), service(sm)]
    hpa = autoscaler(sm)
    if hpa:
        objects.append(hpa)
    return objects
