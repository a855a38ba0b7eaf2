"""Talk to each TF Serving replica: read its model status and labels; push a models.config.

REST status: GET /v1/models/<m> lists every version with its state; GET /v1/models/<m>/labels/<l>
answers with the version the label resolves to (tf-serving.md, Status). Push: gRPC
ModelService/HandleReloadConfig applies a whole ModelServerConfig at once; for a new version it
returns before the version loads, so the planner confirms every step through the status API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .naming import GRPC_PORT, REST_PORT
from .rollout import ReplicaView, VersionStatus


@dataclass(frozen=True)
class Endpoint:
    pod: str
    ip: str
    ready: bool


class ReplicaError(Exception):
    pass


def _get_json(url: str, timeout: float) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}


def _statuses(payload: dict[str, Any]) -> dict[int, VersionStatus]:
    out: dict[int, VersionStatus] = {}
    for entry in payload.get("model_version_status") or []:
        status = entry.get("status") or {}
        out[int(entry["version"])] = VersionStatus(
            state=str(entry.get("state", "")), error=str(status.get("error_message", "") or "")
        )
    return out


def read_replica(endpoint: Endpoint, model: str, labels: Iterable[str], timeout: float) -> ReplicaView:
    base = f"http://{endpoint.ip}:{REST_PORT}/v1/models/{quote(model)}"
    try:
        code, payload = _get_json(base, timeout)
        versions = _statuses(payload) if code == 200 else {}
        live: dict[str, int] = {}
        for label in labels:
            code, payload = _get_json(f"{base}/labels/{quote(label)}", timeout)
            if code == 200:
                resolved = _statuses(payload)
                if resolved:
                    live[label] = next(iter(resolved))
    except (OSError, ValueError):
        return ReplicaView(pod=endpoint.pod, ready=endpoint.ready, reachable=False)
    return ReplicaView(pod=endpoint.pod, ready=endpoint.ready, versions=versions, labels=live)


def push_config(endpoint: Endpoint, models_config: str, timeout: float) -> None:
    """HandleReloadConfig on one replica; raises ReplicaError with TF Serving's message on failure."""
    import grpc
    from google.protobuf import text_format
    from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(models_config, model_server_config_pb2.ModelServerConfig())
    request = model_management_pb2.ReloadConfigRequest(config=config)
    with grpc.insecure_channel(f"{endpoint.ip}:{GRPC_PORT}") as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        try:
            response = stub.HandleReloadConfig(request, timeout=timeout)
        except grpc.RpcError as err:
            raise ReplicaError(f"{endpoint.pod}: {err.code().name}: {err.details()}") from err
    if response.status.error_code != 0:
        raise ReplicaError(f"{endpoint.pod}: {response.status.error_message}")
