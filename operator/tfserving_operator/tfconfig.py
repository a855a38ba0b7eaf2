"""Text-proto files TF Serving reads: models.config, batching parameters, monitoring config.

Formats: ModelServerConfig / BatchingParameters / MonitoringConfig text protos (tensorflow_serving
config/model_server_config.proto, servables/tensorflow/session_bundle_config.proto,
config/monitoring_config.proto). The unit tests parse every rendering with TF Serving's own protos.
"""

from __future__ import annotations

import json

from .naming import METRICS_PATH
from .spec import Batching, ServedModelSpec
from .stage import Stage


def _quote(text: str) -> str:
    # Text-proto strings use C-style escapes; JSON's escaping of quotes and backslashes is compatible.
    return json.dumps(text)


def render_models_config(spec: ServedModelSpec, stage: Stage) -> str:
    """One model, a `specific` version policy (only the stage's versions load) and the stage's labels."""
    lines = [
        "model_config_list {",
        "  config {",
        f"    name: {_quote(spec.model_name)}",
        f"    base_path: {_quote(spec.storage_uri)}",
        '    model_platform: "tensorflow"',
        "    model_version_policy {",
        "      specific {",
    ]
    lines += [f"        versions: {v}" for v in sorted(stage.versions)]
    lines += ["      }", "    }"]
    for label, version in sorted(stage.labels.items()):
        lines += [
            "    version_labels {",
            f"      key: {_quote(label)}",
            f"      value: {version}",
            "    }",
        ]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def render_batching_config(batching: Batching) -> str:
    lines = [f"max_batch_size {{ value: {batching.max_batch_size} }}"]
    if batching.batch_timeout_micros is not None:
        lines.append(f"batch_timeout_micros {{ value: {batching.batch_timeout_micros} }}")
    if batching.num_batch_threads is not None:
        lines.append(f"num_batch_threads {{ value: {batching.num_batch_threads} }}")
    if batching.max_enqueued_batches is not None:
        lines.append(f"max_enqueued_batches {{ value: {batching.max_enqueued_batches} }}")
    # TF Serving requires allowed_batch_sizes increasing with the last equal to max_batch_size.
    lines += [f"allowed_batch_sizes: {size}" for size in sorted(batching.allowed_batch_sizes)]
    if batching.pad_variable_length_inputs is not None:
        lines.append(f"pad_variable_length_inputs: {str(batching.pad_variable_length_inputs).lower()}")
    return "\n".join(lines) + "\n"


def render_monitoring_config() -> str:
    return f'prometheus_config {{\n  enable: true\n  path: "{METRICS_PATH}"\n}}\n'


def render_ready_versions(spec: ServedModelSpec, stage: Stage) -> str:
    """What the readiness probe requires: every labelled version (else every loaded one) AVAILABLE."""
    required = stage.labelled_versions() or stage.versions
    return "".join(f"{spec.model_name} {v}\n" for v in sorted(required))


# The readiness probe. TF Serving answers /v1/models/<m> with 200 while a version is still LOADING,
# so readiness must look for state AVAILABLE per version (tf-serving.md, Status). The serving image
# ships bash but no HTTP client, hence bash's /dev/tcp. It lives in the ConfigMap, not the pod
# template, so changing which versions it requires never restarts pods.
READY_SCRIPT = r"""#!/bin/bash
# Ready when every version listed in ready-versions is AVAILABLE on this server.
set -u
dir=$(dirname "$0")
host=${POD_IP:-127.0.0.1}
port=${REST_PORT:-8501}
while read -r model version; do
  [ -n "$model" ] || continue
  if ! exec 3<>"/dev/tcp/$host/$port"; then
    echo "REST port $port not open yet"; exit 1
  fi
  printf 'GET /v1/models/%s/versions/%s HTTP/1.0\r\nHost: %s\r\n\r\n' "$model" "$version" "$host" >&3
  body=$(timeout 2 cat <&3)
  exec 3>&-
  if ! grep -Eq '"state" *: *"AVAILABLE"' <<<"$body"; then
    echo "model $model version $version is not AVAILABLE"; exit 1
  fi
done < "$dir/ready-versions"
"""


def ready_probe_command(config_dir: str) -> list[str]:
    return ["/bin/bash", f"{config_dir}/ready.sh"]
