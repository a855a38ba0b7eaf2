"""A small typed client for the few Kubernetes resources the operator touches.

Every write goes through `KubeApi`, under one field manager, and is counted, so tests can check
that a pass with nothing to do writes nothing.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes import client, config

from .settings import FIELD_MANAGER
from .spec import API_VERSION, PLURAL


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        out = f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        if name:
            out += f"/{quote(name)}"
        if subresource:
            out += f"/{subresource}"
        return out


CONFIG_MAP = Kind("v1", "ConfigMap", "configmaps")
SERVICE = Kind("v1", "Service", "services")
POD = Kind("v1", "Pod", "pods")
EVENT = Kind("v1", "Event", "events")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
JOB = Kind("batch/v1", "Job", "jobs")
HPA = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
SERVED_MODEL = Kind(API_VERSION, "ServedModel", PLURAL)
KINDS = {k.kind: k for k in (CONFIG_MAP, SERVICE, POD, EVENT, DEPLOYMENT, JOB, HPA, SERVED_MODEL)}


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG or ~/.kube)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        # The client reads KUBECONFIG when it is imported; read it now, so a later setting counts.
        path = kubeconfig or os.environ.get("KUBECONFIG")
        config.load_kube_config(config_file=path, client_configuration=configuration)
    return client.ApiClient(configuration)


class KubeApi:
    def __init__(self, api_client: client.ApiClient, field_manager: str = FIELD_MANAGER) -> None:
        self._api = api_client
        self.field_manager = field_manager
        self.writes: collections.Counter[str] = collections.Counter()  # by verb
        self.writes_by_namespace: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        if method != "GET":
            namespace = path.split("/namespaces/", 1)[1].split("/", 1)[0] if "/namespaces/" in path else ""
            with self._lock:
                self.writes[method] += 1
                self.writes_by_namespace[namespace] += 1
        url_path = path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        params = self._api.param_serialize(
            method=method,
            resource_path=url_path,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*params, _request_timeout=30)
        data = response.read()
        if response.status >= 400:
            try:
                status = json.loads(data)
                raise ApiError(response.status, status.get("reason", ""), status.get("message", ""))
            except ValueError:
                raise ApiError(response.status, "", data.decode(errors="replace")[:500]) from None
        return json.loads(data) if data else None

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._request("GET", kind.path(namespace, name))
            return result
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def list(self, kind: Kind, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}
        result = self._request("GET", kind.path(namespace), query)
        items: list[dict[str, Any]] = result.get("items", [])
        for item in items:
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items

    def apply(self, obj: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """Server-side apply under the operator's one field manager; conflicts are taken over."""
        kind = KINDS[obj["kind"]]
        meta = obj["metadata"]
        result: dict[str, Any] = self._request(
            "PATCH",
            kind.path(meta["namespace"], meta["name"], subresource),
            {"fieldManager": self.field_manager, "force": "true"},
            obj,
            content_type="application/apply-patch+yaml",
        )
        return result

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        try:
            self._request(
                "DELETE",
                kind.path(namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
        except ApiError as err:
            if err.status != 404:
                raise

    def event(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = involved["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid", ""),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.field_manager},
            "reportingComponent": self.field_manager,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self._request("POST", EVENT.path(meta["namespace"]), body=body)
