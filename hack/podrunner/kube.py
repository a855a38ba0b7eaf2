"""The few API calls the pod runner makes, on plain dicts (the JSON the apiserver sends)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

Obj = dict[str, Any]


class Kube:
    def __init__(self, kubeconfig: Path) -> None:
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))

    @staticmethod
    def _json(resp: Any) -> Obj:
        raw = resp.data if getattr(resp, "data", None) is not None else resp.read()
        return json.loads(raw)

    def list_pods(self) -> list[Obj]:
        return self._json(self.api.list_pod_for_all_namespaces(_preload_content=False))["items"]

    def list_nodes(self) -> dict[str, Obj]:
        items = self._json(self.api.list_node(_preload_content=False))["items"]
        return {n["metadata"]["name"]: n for n in items}

    def patch_pod_status(self, namespace: str, name: str, status: Obj) -> None:
        self.api.patch_namespaced_pod_status(
            name, namespace, {"status": status}, _content_type="application/strategic-merge-patch+json"
        )

    def annotate_pod(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.api.patch_namespaced_pod(
            name,
            namespace,
            {"metadata": {"annotations": annotations}},
            _content_type="application/merge-patch+json",
        )

    def config_map_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """The ConfigMap's data and binaryData as bytes, or None when it does not exist."""
        try:
            cm = self._json(self.api.read_namespaced_config_map(name, namespace, _preload_content=False))
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        out = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
        out.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
        return out

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        try:
            s = self._json(self.api.read_namespaced_secret(name, namespace, _preload_content=False))
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
