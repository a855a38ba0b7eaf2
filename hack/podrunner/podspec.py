"""Reading a pod spec the way a kubelet does: which pods are ours, env, volumes, command line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from podrunner.kube import Kube, Obj

SERVING_LABEL = ("tfserving.dev/role", "server")
# The pod runner hands a serving pod back to KWOK's pod-ready stage with this annotation.
STATUS_OWNER_ANNOTATION = "podrunner.tfserving.dev/status-owner"


class SpecError(Exception):
    """The pod cannot start yet or at all (e.g. a referenced Secret is missing); the message says why."""


def meta(pod: Obj) -> Obj:
    return pod["metadata"]


def pod_key(pod: Obj) -> str:
    return f"{meta(pod)['namespace']}/{meta(pod)['name']}"


def is_job_pod(pod: Obj) -> bool:
    return any(ref.get("kind") == "Job" for ref in meta(pod).get("ownerReferences") or [])


def is_serving_pod(pod: Obj) -> bool:
    key, value = SERVING_LABEL
    return (meta(pod).get("labels") or {}).get(key) == value


def handed_to_kwok(pod: Obj) -> bool:
    return (meta(pod).get("annotations") or {}).get(STATUS_OWNER_ANNOTATION) == "kwok"


def main_container(pod: Obj) -> Obj:
    """The pod's first container; the pod runner runs one process per pod."""
    return pod["spec"]["containers"][0]


_FIELD_LABEL = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def field_ref(pod: Obj, path: str, pod_ip: str, host_ip: str) -> str:
    simple = {
        "metadata.name": meta(pod)["name"],
        "metadata.namespace": meta(pod)["namespace"],
        "metadata.uid": meta(pod)["uid"],
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path])
    m = _FIELD_LABEL.fullmatch(path)
    if m:
        return str((meta(pod).get(m.group(1)) or {}).get(m.group(2), ""))
    raise SpecError(f"env valueFrom.fieldRef.fieldPath {path!r} is not supported by the local pod runner")


def _key_ref(kube: Kube, namespace: str, ref: Obj, kind: str) -> str | None:
    data = (
        kube.secret_data(namespace, ref["name"])
        if kind == "Secret"
        else kube.config_map_data(namespace, ref["name"])
    )
    optional = bool(ref.get("optional"))
    if data is None:
        if optional:
            return None
        raise SpecError(f'{kind} "{ref["name"]}" not found (CreateContainerConfigError)')
    if ref["key"] not in data:
        if optional:
            return None
        raise SpecError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}")
    return data[ref["key"]].decode()


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, unknown ones kept, `$$` escapes `$`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, value)


def container_env(kube: Kube, pod: Obj, container: Obj, pod_ip: str, host_ip: str) -> dict[str, str]:
    namespace = meta(pod)["namespace"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key not in source:
                continue
            ref = source[key]
            fetch = kube.config_map_data if kind == "ConfigMap" else kube.secret_data
            data = fetch(namespace, ref["name"])
            if data is None and not ref.get("optional"):
                raise SpecError(f'{kind} "{ref["name"]}" not found (CreateContainerConfigError)')
            env.update({prefix + k: v.decode() for k, v in (data or {}).items()})
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(item.get("value", ""), env)
            continue
        source = item["valueFrom"]
        value: str | None
        if "fieldRef" in source:
            value = field_ref(pod, source["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "secretKeyRef" in source:
            value = _key_ref(kube, namespace, source["secretKeyRef"], "Secret")
        elif "configMapKeyRef" in source:
            value = _key_ref(kube, namespace, source["configMapKeyRef"], "ConfigMap")
        else:
            raise SpecError(
                f"env {name}: valueFrom {sorted(source)} is not supported by the local pod runner"
            )
        if value is not None:
            env[name] = value
    return env


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str  # path inside the container
    local_path: Path  # where it lives on this machine
    source: Obj  # the pod's volume entry


def volume_mounts(pod: Obj, container: Obj, pod_dir: Path) -> list[VolumeMount]:
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    out = []
    for m in container.get("volumeMounts") or []:
        local = pod_dir / "volumes" / m["name"]
        if m.get("subPath"):
            local = local / m["subPath"]
        out.append(
            VolumeMount(m["name"], m["mountPath"].rstrip("/") or "/", local, volumes.get(m["name"], {}))
        )
    # Longest mount path first so nested mounts win when rewriting paths.
    return sorted(out, key=lambda v: len(v.mount_path), reverse=True)


def localize(value: str, mounts: list[VolumeMount]) -> str:
    """Rewrites container paths under a volume's mountPath (also inside `--flag=/path`) to local paths."""
    for m in mounts:
        pattern = re.compile(r"(^|=)" + re.escape(m.mount_path) + r"(?=/|$)")
        if pattern.search(value):
            return pattern.sub(lambda g, m=m: g.group(1) + str(m.local_path), value, count=1)  # type: ignore[misc]
    return value


def command_line(container: Obj, env: dict[str, str]) -> list[str]:
    argv = [expand(a, env) for a in (container.get("command") or []) + (container.get("args") or [])]
    if not argv:
        raise SpecError(
            f"container {container['name']!r} has no command/args: the local pod runner ignores images, "
            "so the pod spec must name the command to run"
        )
    return argv
