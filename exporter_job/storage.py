"""Reading and writing a `gs://bucket/path` prefix or a local directory through one interface.

Bytes move with google-cloud-storage, never with TensorFlow's gs:// file system: TensorFlow ignores
STORAGE_EMULATOR_HOST, so a job using it could not run against a GCS stand-in.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import google_crc32c

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# GCS compose takes at most 32 source objects per request.
_MAX_COMPOSE_PARTS = 32


class StorageError(Exception):
    """The store could not be reached, or refused an operation; `uri` names what failed."""

    def __init__(self, uri: str, detail: str) -> None:
        self.uri = uri
        self.detail = detail
        super().__init__(f"{uri}: {detail}")


class AlreadyExists(StorageError):
    """A create-only write found the object already there."""


@dataclass(frozen=True)
class ObjectInfo:
    path: str  # relative to the store's root, '/'-separated
    size: int
    crc32c: str | None  # base64 of the big-endian CRC32C, GCS's own encoding


@dataclass(frozen=True)
class UploadPlan:
    workers: int = 8
    # Files above this size are split, uploaded in parallel and composed into one object (0: never).
    composite_threshold: int = 64 * MiB
    composite_part_size: int = 16 * MiB


def crc32c_of_file(path: Path) -> str:
    checksum = google_crc32c.Checksum()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * MiB):
            checksum.update(chunk)
    return base64.b64encode(checksum.digest()).decode()


def crc32c_of_bytes(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def is_gcs(uri: str) -> bool:
    return uri.startswith("gs://")


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def split_gcs(uri: str) -> tuple[str, str]:
    rest = uri[len("gs://") :]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


class Store(Protocol):
    """A directory-like prefix. Paths are relative to `uri`."""

    uri: str

    def probe(self) -> None: ...
    def list(self) -> dict[str, ObjectInfo]: ...
    def read(self, path: str) -> bytes | None: ...
    def write_new(self, path: str, data: bytes) -> None: ...
    def delete(self, paths: Iterable[str]) -> None: ...
    def upload_file(self, local: Path, path: str) -> None: ...
    def upload_parts_and_compose(
        self, local: Path, path: str, plan: UploadPlan, pool: ThreadPoolExecutor
    ) -> None: ...
    def download_file(self, path: str, local: Path) -> None: ...


class LocalStore:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.root = Path(uri)

    def probe(self) -> None:
        parent = self.root
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise StorageError(self.uri, f"directory {parent} is not writable")

    def list(self) -> dict[str, ObjectInfo]:
        if not self.root.is_dir():
            return {}
        out = {}
        for file in sorted(self.root.rglob("*")):
            if file.is_file():
                rel = file.relative_to(self.root).as_posix()
                out[rel] = ObjectInfo(rel, file.stat().st_size, crc32c_of_file(file))
        return out

    def read(self, path: str) -> bytes | None:
        file = self.root / path
        return file.read_bytes() if file.is_file() else None

    def write_new(self, path: str, data: bytes) -> None:
        file = self.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        try:
            # link() fails if the target exists: a create-only, atomic publish on POSIX.
            os.link(tmp, file)
        except FileExistsError as exc:
            raise AlreadyExists(join(self.uri, path), "already exists") from exc
        except OSError:
            # File systems without hard links (some FUSE mounts): exclusive create instead.
            try:
                with file.open("xb") as fh:
                    fh.write(data)
            except FileExistsError as exc:
                raise AlreadyExists(join(self.uri, path), "already exists") from exc
        finally:
            tmp.unlink()

    def delete(self, paths: Iterable[str]) -> None:
        for path in paths:
            (self.root / path).unlink(missing_ok=True)
        if self.root.is_dir():
            for sub in sorted(self.root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()

    def upload_file(self, local: Path, path: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def upload_parts_and_compose(
        self, local: Path, path: str, plan: UploadPlan, pool: ThreadPoolExecutor
    ) -> None:
        self.upload_file(local, path)

    def download_file(self, path: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / path, local)


class GcsStore:
    def __init__(self, uri: str, retry_deadline: float) -> None:
        from google.api_core.retry import Retry
        from google.cloud import storage
        from google.cloud.storage.retry import DEFAULT_RETRY

        self.uri = uri.rstrip("/")
        self.bucket_name, self.prefix = split_gcs(self.uri)
        if not self.bucket_name:
            raise StorageError(uri, "no bucket name")
        self._retry: Retry = DEFAULT_RETRY.with_deadline(retry_deadline)
        self._timeout = max(5.0, min(retry_deadline, 60.0))
        self._client = (
            storage.Client() if os.environ.get("STORAGE_EMULATOR_HOST") is None else _emulator_client()
        )
        self._bucket = self._client.bucket(self.bucket_name)

    def _name(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return fn()
        except gexc.PreconditionFailed as exc:
            raise AlreadyExists(self.uri, f"{what}: already exists") from exc
        except gexc.NotFound as exc:
            raise StorageError(self.uri, f"{what}: bucket or object not found ({exc.message})") from exc
        except gexc.GoogleAPIError as exc:
            raise StorageError(self.uri, f"{what}: {exc}") from exc
        except (OSError, ValueError) as exc:
            # requests' ConnectionError is an OSError; a broken resumable upload raises ValueError.
            raise StorageError(self.uri, f"{what}: {exc}") from exc

    def probe(self) -> None:
        from google.api_core import exceptions as gexc

        # Listing needs only storage.objects.list, which publishing needs anyway (buckets.get may be denied).
        try:
            list(self._list_iter(max_results=1))
        except gexc.NotFound as exc:
            raise StorageError(self.uri, f"bucket {self.bucket_name!r} does not exist") from exc
        except (gexc.GoogleAPIError, OSError, ValueError) as exc:
            raise StorageError(self.uri, f"cannot list objects: {exc}") from exc

    def _list_iter(self, max_results: int | None = None) -> Iterable[Any]:
        prefix = f"{self.prefix}/" if self.prefix else None
        return self._client.list_blobs(
            self.bucket_name,
            prefix=prefix,
            max_results=max_results,
            retry=self._retry,
            timeout=self._timeout,
        )

    def list(self) -> dict[str, ObjectInfo]:
        blobs = self._call("list", lambda: list(self._list_iter()))
        cut = len(self.prefix) + 1 if self.prefix else 0
        return {b.name[cut:]: ObjectInfo(b.name[cut:], int(b.size or 0), b.crc32c) for b in blobs}

    def read(self, path: str) -> bytes | None:
        from google.api_core import exceptions as gexc

        blob = self._bucket.blob(self._name(path))
        try:
            data: bytes = blob.download_as_bytes(retry=self._retry, timeout=self._timeout)
        except gexc.NotFound:
            return None
        except (gexc.GoogleAPIError, OSError) as exc:
            raise StorageError(join(self.uri, path), f"read: {exc}") from exc
        return data

    def write_new(self, path: str, data: bytes) -> None:
        blob = self._bucket.blob(self._name(path))
        # if_generation_match=0: the write succeeds only if no live object has that name.
        self._call(
            f"write {path}",
            lambda: blob.upload_from_string(
                data,
                content_type="application/json",
                if_generation_match=0,
                retry=self._retry,
                timeout=self._timeout,
            ),
        )

    def delete(self, paths: Iterable[str]) -> None:
        from google.api_core import exceptions as gexc

        for path in paths:
            blob = self._bucket.blob(self._name(path))
            try:
                blob.delete(retry=self._retry, timeout=self._timeout)
            except gexc.NotFound:
                pass
            except (gexc.GoogleAPIError, OSError) as exc:
                raise StorageError(join(self.uri, path), f"delete: {exc}") from exc

    def upload_file(self, local: Path, path: str) -> None:
        blob = self._bucket.blob(self._name(path))
        self._call(
            f"upload {path}",
            lambda: blob.upload_from_filename(str(local), retry=self._retry, timeout=self._timeout),
        )

    def upload_parts_and_compose(
        self, local: Path, path: str, plan: UploadPlan, pool: ThreadPoolExecutor
    ) -> None:
        """A parallel composite upload: parts in parallel, then one compose, then the parts deleted."""
        size = local.stat().st_size
        part_size = max(plan.composite_part_size, -(-size // _MAX_COMPOSE_PARTS))
        offsets = list(range(0, size, part_size))
        token = uuid.uuid4().hex[:12]
        part_names = [f"{path}.part-{token}-{i:02d}" for i in range(len(offsets))]

        def put(i: int) -> None:
            with local.open("rb") as fh:
                fh.seek(offsets[i])
                data = fh.read(part_size)
            blob = self._bucket.blob(self._name(part_names[i]))
            self._call(
                f"upload part {i} of {path}",
                lambda: blob.upload_from_string(data, retry=self._retry, timeout=self._timeout),
            )

        try:
            _run_all(pool, [lambda i=i: put(i) for i in range(len(offsets))])  # type: ignore[misc]
            target = self._bucket.blob(self._name(path))
            sources = [self._bucket.blob(self._name(n)) for n in part_names]
            self._call(
                f"compose {path}", lambda: target.compose(sources, retry=self._retry, timeout=self._timeout)
            )
        finally:
            self.delete(part_names)

    def download_file(self, path: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        blob = self._bucket.blob(self._name(path))
        self._call(
            f"download {path}",
            lambda: blob.download_to_filename(str(local), retry=self._retry, timeout=self._timeout),
        )


def _emulator_client() -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="local", credentials=AnonymousCredentials())


def open_store(uri: str, retry_deadline: float = 120.0) -> Store:
    if is_gcs(uri):
        return GcsStore(uri, retry_deadline)
    return LocalStore(uri.removeprefix("file://"))


def _run_all(pool: ThreadPoolExecutor, tasks: list[Callable[[], None]]) -> None:
    futures = [pool.submit(task) for task in tasks]
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for fut in pending:
        fut.cancel()
    for fut in done:
        fut.result()
    for fut in pending:
        if not fut.cancelled():
            fut.result()


@dataclass(frozen=True)
class UploadReport:
    files: int
    bytes: int
    seconds: float


def upload_tree(store: Store, local_root: Path, paths: list[str], plan: UploadPlan) -> UploadReport:
    """Uploads `paths` (relative to `local_root`) in parallel and logs progress as files finish."""
    sizes = {p: (local_root / p).stat().st_size for p in paths}
    total = sum(sizes.values())
    done_bytes = 0
    done_files = 0
    lock = threading.Lock()
    start = time.monotonic()

    def progress(path: str) -> None:
        nonlocal done_bytes, done_files
        with lock:
            done_files += 1
            done_bytes += sizes[path]
            elapsed = max(time.monotonic() - start, 1e-6)
            log.info(
                "upload progress: %d/%d files, %.1f/%.1f MiB (%d%%), %.1f MiB/s, last %s",
                done_files,
                len(paths),
                done_bytes / MiB,
                total / MiB,
                100 * done_bytes // max(total, 1),
                done_bytes / MiB / elapsed,
                path,
            )

    # Large files first so the pool stays busy to the end. Composite uploads get their own pool,
    # because their parts would deadlock waiting on slots held by their parent tasks.
    ordered = sorted(paths, key=lambda p: -sizes[p])
    with (
        ThreadPoolExecutor(max_workers=plan.workers, thread_name_prefix="upload") as pool,
        ThreadPoolExecutor(max_workers=plan.workers, thread_name_prefix="part") as part_pool,
    ):

        def one(path: str) -> None:
            composite = plan.composite_threshold > 0 and sizes[path] > plan.composite_threshold
            if isinstance(store, GcsStore) and composite and plan.workers > 1:
                store.upload_parts_and_compose(local_root / path, path, plan, part_pool)
            else:
                store.upload_file(local_root / path, path)
            progress(path)

        futures: list[Future[None]] = [pool.submit(one, p) for p in ordered]
        _done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for fut in pending:
            fut.cancel()
        for fut in futures:
            if fut.done() and not fut.cancelled() and fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]
    return UploadReport(len(paths), total, time.monotonic() - start)


def fetch(uri: str, dest: Path, retry_deadline: float) -> Path:
    """Makes `uri` (one file or a directory/prefix) available locally and returns its local path.

    Local paths are returned as they are; gs:// objects are downloaded under `dest`.
    """
    if not is_gcs(uri):
        local = Path(uri.removeprefix("file://"))
        if not local.exists():
            raise StorageError(uri, "no such file or directory")
        return local
    bucket, name = split_gcs(uri)
    if not name:
        raise StorageError(uri, "names a whole bucket; give the object or directory inside it")
    store = open_store(uri, retry_deadline)
    objects = store.list()
    leaf = name.rpartition("/")[2]
    if objects:
        root = dest / leaf
        for rel in objects:
            if not rel.endswith("/"):
                store.download_file(rel, root / rel)
        return root
    parent, _, _ = name.rpartition("/")
    parent_store = open_store(f"gs://{bucket}/{parent}", retry_deadline)
    target = dest / leaf
    parent_store.download_file(leaf, target)
    return target
