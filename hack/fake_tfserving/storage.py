"""Version directories under a model's base_path, on local disk or in GCS.

The real server reads both through TensorFlow's file systems. TensorFlow's gs:// file system does
not honour STORAGE_EMULATOR_HOST, so GCS is read with google-cloud-storage (which does) and a
version is downloaded to a local cache directory before it is loaded.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import shutil
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from .errors import Code, ServingError


@dataclasses.dataclass(frozen=True)
class VersionDir:
    version: int
    child: str  # the directory name as found, e.g. "3" or "0003"


def _parse_version(child: str) -> int | None:
    # file_system_storage_path_source.cc ParseVersionNumber: absl::SimpleAtoi, so "003" is 3.
    text = child.strip()
    if text.startswith("+"):
        text = text[1:]
    return int(text) if text.isdigit() else None


def index_children(children: list[str]) -> dict[int, str]:
    """IndexChildrenByVersion: numeric children only; a later duplicate wins."""
    by_version: dict[int, str] = {}
    for child in sorted(children):
        version = _parse_version(child)
        if version is not None:
            by_version[version] = child
    return by_version


def _split_gs(uri: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(uri)
    return parsed.netloc, parsed.path.strip("/")


def _gcs_client() -> Any:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    host = urllib.parse.urlparse(emulator if "://" in emulator else f"http://{emulator}").hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        # This stand-in talks to a local GCS emulator only, never to a remote storage service.
        raise ServingError(
            Code.FAILED_PRECONDITION,
            f"gs:// base paths need STORAGE_EMULATOR_HOST set to a loopback GCS emulator "
            f"(e.g. http://127.0.0.1:4443); it is {emulator!r}",
        )
    from google.cloud import storage  # imported late: only gs:// base paths need it

    return storage.Client()


class Storage:
    """Lists and fetches version directories; one instance per server."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._client: Any = None

    def _gcs(self) -> Any:
        if self._client is None:
            self._client = _gcs_client()
        return self._client

    def list_versions(self, model_name: str, base_path: str) -> dict[int, str]:
        """PollFileSystemForServable: the base path must exist; then its numeric children."""
        if base_path.startswith("gs://"):
            children = self._list_gcs(model_name, base_path)
        else:
            root = Path(base_path)
            if not root.exists():
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Could not find base path {base_path} for servable {model_name} with error "
                    f"NOT_FOUND: {base_path} not found",
                )
            try:
                children = [p.name for p in root.iterdir()]
            except OSError as exc:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Could not list base path {base_path} for servable {model_name}: {exc}",
                ) from None
        return index_children(children)

    def _list_gcs(self, model_name: str, base_path: str) -> list[str]:
        bucket_name, prefix = _split_gs(base_path)
        try:
            blobs = self._gcs().list_blobs(bucket_name, prefix=f"{prefix}/" if prefix else "", delimiter="/")
            names = [blob.name for blob in blobs]
            prefixes = list(blobs.prefixes)
        except ServingError:
            raise
        except Exception as exc:  # google.api_core errors, connection errors
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Could not find base path {base_path} for servable {model_name} with error {exc}",
            ) from None
        if not names and not prefixes:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Could not find base path {base_path} for servable {model_name} with error "
                f"NOT_FOUND: {base_path} not found",
            )
        offset = len(prefix) + 1 if prefix else 0
        children = {p[offset:].strip("/") for p in prefixes}
        children.update(n[offset:] for n in names)
        return [c for c in children if c]

    def version_path(self, base_path: str, child: str) -> str:
        return f"{base_path.rstrip('/')}/{child}"

    def fetch(self, model_name: str, base_path: str, child: str) -> Path:
        """A local directory holding the version: the directory itself, or a fresh GCS download."""
        if not base_path.startswith("gs://"):
            return Path(base_path) / child
        bucket_name, prefix = _split_gs(base_path)
        version_prefix = f"{prefix}/{child}/" if prefix else f"{child}/"
        # A fresh directory per load: an older copy of the same version may still be unloading.
        target = self._cache_dir / model_name / f"{child}-{uuid.uuid4().hex[:8]}"
        target.mkdir(parents=True)
        for blob in self._gcs().list_blobs(bucket_name, prefix=version_prefix):
            relative = blob.name[len(version_prefix) :]
            if not relative or relative.endswith("/"):
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            blob.download_to_filename(str(destination))
        return target

    def release(self, base_path: str, local: Path) -> None:
        if base_path.startswith("gs://"):
            shutil.rmtree(local, ignore_errors=True)
