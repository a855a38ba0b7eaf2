"""Talk to each TF Serving replica: read its model status and labels; push a models.config.

REST status: GET /v1/models/<m> lists every version with its state; GET
/v1/models/<m>/labels/<l>/metadata names the version a label resolves to (tf-serving.md, Status). Push: gRPC
ModelService/HandleReloadConfigRequest applies a whole ModelServerConfig at once; for a new version it
returns before the version loads, so the planner confirms every step through the status API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
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
    rest_port: int = REST_PORT
    grpc_port: int = GRPC_PORT


class ReplicaError(Exception):
    pass


# Replicas are reached at their pod IPs directly: never through a proxy named in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_json(url: str, timeout: float) -> tuple[int, dict[str, Any]]:
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
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
    base = f"http://{endpoint.ip}:{endpoint.rest_port}/v1/models/{quote(model)}"
    try:
        code, payload = _get_json(base, timeout)
        versions = _statuses(payload) if code == 200 else {}
        live: dict[str, int] = {}
        for label in labels:
            # The status API ignores labels (get_model_status_impl.cc reads only name and version);
            # metadata resolves them, and an unknown label is a 400 "Unrecognized servable version label".
            code, payload = _get_json(f"{base}/labels/{quote(label)}/metadata", timeout)
            version = (payload.get("model_spec") or {}).get("version") if code == 200 else None
            if version is not None:
                live[label] = int(version)
    except (OSError, ValueError):
        return ReplicaView(pod=endpoint.pod, ready=endpoint.ready, reachable=False)
    return ReplicaView(pod=endpoint.pod, ready=endpoint.ready, versions=versions, labels=live)


# ModelService/HandleReloadConfigRequest messages (tensorflow_serving/apis/model_management.proto):
#   ReloadConfigRequest  { ModelServerConfig config = 1; ... }
#   ReloadConfigResponse { StatusProto status = 1; ... }
#   StatusProto { error.Code error_code = 1; string error_message = 2; }
# Their generated modules import the whole of TensorFlow (status.proto depends on TensorFlow's
# error codes), so the operator frames these two small wrappers itself; ModelServerConfig itself
# comes from tensorflow_serving.config, which needs only protobuf. Tests check the framing against
# the generated classes.
RELOAD_METHOD = "/tensorflow.serving.ModelService/HandleReloadConfigRequest"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, varint()
        elif wire == 2:
            size = varint()
            yield number, data[pos : pos + size]
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def encode_reload_request(models_config: str) -> bytes:
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(models_config, model_server_config_pb2.ModelServerConfig())
    payload = config.SerializeToString()
    return b"\x0a" + _varint(len(payload)) + payload


def decode_reload_response(data: bytes) -> tuple[int, str]:
    """(error_code, error_message) of a ReloadConfigResponse; (0, "") is success."""
    code, message = 0, ""
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            for inner, item in _fields(value):
                if inner == 1 and isinstance(item, int):
                    code = item
                elif inner == 2 and isinstance(item, bytes):
                    message = item.decode(errors="replace")
    return code, message


def push_config(endpoint: Endpoint, models_config: str, timeout: float) -> None:
    """HandleReloadConfig on one replica; raises ReplicaError with TF Serving's message on failure."""
    import grpc

    request = encode_reload_request(models_config)
    # Pod IPs are reached directly, never through a proxy from the environment.
    options = [("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(f"{endpoint.ip}:{endpoint.grpc_port}", options=options) as channel:
        call = channel.unary_unary(RELOAD_METHOD)
        try:
            response = call(request, timeout=timeout)
        except grpc.RpcError as err:
            raise ReplicaError(f"{endpoint.pod}: {err.code().name}: {err.details()}") from err
    code, message = decode_reload_response(response)
    if code != 0:
        raise ReplicaError(f"{endpoint.pod}: {message}")
