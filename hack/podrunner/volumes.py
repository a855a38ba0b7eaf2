"""ConfigMap, Secret and emptyDir volumes as local directories, kept in sync like the kubelet does."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from podrunner.kube import Kube
from podrunner.podspec import SpecError, VolumeMount

log = logging.getLogger(__name__)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    # A reader sees the old or the new file, never a partial one (the kubelet swaps a symlink for this).
    os.replace(tmp, path)


def _items(source: dict[str, object], data: dict[str, bytes]) -> dict[str, bytes]:
    """Files to write: every key, or only the `items` (key -> path) when the volume lists them."""
    items = source.get("items")
    if not isinstance(items, list):
        return data
    return {str(i["path"]): data[str(i["key"])] for i in items if str(i["key"]) in data}


def sync_volume(kube: Kube, namespace: str, mount: VolumeMount) -> bool:
    """Brings one volume's directory up to date; True when a file changed."""
    src = mount.source
    base = mount.local_path
    if "configMap" in src or "secret" in src:
        kind = "configMap" if "configMap" in src else "secret"
        ref = src[kind]
        name = ref.get("name") if kind == "configMap" else ref.get("secretName")
        data = (
            kube.config_map_data(namespace, name)
            if kind == "configMap"
            else kube.secret_data(namespace, name)
        )
        if data is None:
            if ref.get("optional"):
                base.mkdir(parents=True, exist_ok=True)
                return False
            raise SpecError(f'volume "{mount.name}": {kind} "{name}" not found')
        changed = False
        wanted = _items(ref, data)
        for rel, content in wanted.items():
            path = base / rel
            if not path.exists() or path.read_bytes() != content:
                _write_atomic(path, content)
                changed = True
        for old in base.rglob("*") if base.exists() else []:
            if old.is_file() and str(old.relative_to(base)) not in wanted:
                old.unlink()
                changed = True
        return changed
    if "emptyDir" not in src and "projected" not in src and not base.exists():
        # projected (the service account token) is left empty: local processes do not call the API server.
        log.warning(
            "volume %r: only configMap, secret and emptyDir volumes are materialised; using an empty dir",
            mount.name,
        )
    base.mkdir(parents=True, exist_ok=True)
    return False
