"""Names and labels of the objects a ServedModel owns (all derived, so observe can find them)."""

from __future__ import annotations

from .spec import ServedModel

ROLE_LABEL = "tfserving.dev/role"
MODEL_LABEL = "tfserving.dev/servedmodel"
VERSION_LABEL = "tfserving.dev/version"
CONFIG_DIR = "/etc/tfserving"
MODELS_CONFIG_KEY = "models.config"
BATCHING_KEY = "batching.config"
MONITORING_KEY = "monitoring.config"
READY_VERSIONS_KEY = "ready-versions"
READY_SCRIPT_KEY = "ready.sh"
GRPC_PORT = 8500
REST_PORT = 8501
METRICS_PATH = "/monitoring/prometheus/metrics"


def serving_name(sm: ServedModel) -> str:
    return f"{sm.name}-serving"


def config_map_name(sm: ServedModel) -> str:
    return f"{sm.name}-serving-config"


def service_name(sm: ServedModel) -> str:
    return sm.name


def export_job_name(sm: ServedModel, version: int) -> str:
    return f"{sm.name}-export-{version}"


def common_labels(sm: ServedModel) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "tfserving",
        "app.kubernetes.io/instance": sm.name,
        "app.kubernetes.io/managed-by": "tfserving-operator",
        MODEL_LABEL: sm.name,
    }


def server_selector(sm: ServedModel) -> dict[str, str]:
    return {MODEL_LABEL: sm.name, ROLE_LABEL: "server"}
