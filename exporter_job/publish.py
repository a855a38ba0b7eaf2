"""The publishing protocol: a version directory is complete only once its manifest is written, last.

1. Look at `<output>/<version>/`. A verified manifest from the same inputs: nothing to do. A manifest
   from other inputs, or one that does not match the files: refuse, never overwrite. Files without a
   manifest: an export that died half-way, so they are deleted and the upload is redone.
2. Upload every file in parallel.
3. Write `export-manifest.json` create-only (GCS `ifGenerationMatch=0`, a hard link locally), so two
   racing exporters cannot both publish, then check the listing against it.
TF Serving may see (and try to load) a partial directory, but the operator only loads versions whose
manifest verifies, so a reader that honours the manifest never sees half a version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exporter_job.errors import ExitCode, ExportError
from exporter_job.manifest import MANIFEST_NAME, Manifest, compare_files
from exporter_job.storage import AlreadyExists, StorageError, Store, UploadPlan, UploadReport, upload_tree

log = logging.getLogger(__name__)

GRAPH_FILE = "saved_model.pb"
NEVER_OVERWRITTEN = (
    "published versions are never overwritten: choose a new --version, or delete that directory by hand"
)
TargetState = Literal["absent", "partial", "same"]


@dataclass(frozen=True)
class PublishResult:
    outcome: Literal["published", "unchanged"]
    upload: UploadReport | None


def _storage_error(store: Store, exc: StorageError) -> ExportError:
    return ExportError(
        "--output",
        store.uri,
        f"storage failed: {exc.detail}",
        "check that the bucket exists and that this job's service account may list, create and delete "
        "objects there; rerunning the export is safe",
        ExitCode.STORAGE,
    )


def inspect_target(store: Store, inputs_digest: str, version: int) -> TargetState:
    try:
        objects = store.list()
        if MANIFEST_NAME not in objects:
            return "partial" if objects else "absent"
        manifest = Manifest.from_json(store.read(MANIFEST_NAME) or b"")
    except StorageError as exc:
        raise _storage_error(store, exc) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportError(
            "--version",
            version,
            f"already exists at {store.uri} with an unreadable {MANIFEST_NAME} ({exc})",
            NEVER_OVERWRITTEN,
            ExitCode.REFUSED,
        ) from exc
    problems = compare_files(manifest.files, {k: v for k, v in objects.items() if k != MANIFEST_NAME})
    if problems:
        listed = "; ".join(problems[:5])
        raise ExportError(
            "--version",
            version,
            f"already exists at {store.uri} but its files do not match its manifest: {listed}",
            NEVER_OVERWRITTEN,
            ExitCode.REFUSED,
        )
    if manifest.inputs_digest != inputs_digest:
        raise ExportError(
            "--version",
            version,
            f"is already published at {store.uri} from other inputs (source {manifest.source.uri}, exported "
            f"{manifest.created_at}); published versions are immutable",
            "choose a new --version, or rerun with exactly the same source and options",
            ExitCode.REFUSED,
        )
    return "same"


def publish(store: Store, local_dir: Path, manifest: Manifest, plan: UploadPlan) -> PublishResult:
    state = inspect_target(store, manifest.inputs_digest, manifest.model_version)
    if state == "same":
        return PublishResult("unchanged", None)
    try:
        if state == "partial":
            stale = sorted(store.list())
            log.warning("removing %d file(s) of an unfinished export at %s", len(stale), store.uri)
            store.delete(stale)
        paths = [f.path for f in manifest.files]
        log.info("uploading %d file(s) to %s with %d worker(s)", len(paths), store.uri, plan.workers)
        # saved_model.pb goes after the variables and assets: a server that polls the base path and
        # loads whatever version directory appears (a `latest` policy) then fails to find the graph
        # rather than loading it beside half-written variables. The manifest still comes last.
        rest = [p for p in paths if p != GRAPH_FILE]
        report = upload_tree(store, local_dir, rest, plan)
        if GRAPH_FILE in paths:
            graph = upload_tree(store, local_dir, [GRAPH_FILE], plan)
            report = UploadReport(
                report.files + 1, report.bytes + graph.bytes, report.seconds + graph.seconds
            )
        store.write_new(MANIFEST_NAME, manifest.to_json().encode())
        objects = store.list()
    except AlreadyExists as exc:
        raise ExportError(
            "--version",
            manifest.model_version,
            f"was published at {store.uri} by another export while this one was uploading",
            "check that only one export Job writes this version; rerun to confirm it",
            ExitCode.REFUSED,
        ) from exc
    except StorageError as exc:
        raise _storage_error(store, exc) from exc
    problems = compare_files(manifest.files, {k: v for k, v in objects.items() if k != MANIFEST_NAME})
    if problems:
        raise ExportError(
            "--output",
            store.uri,
            f"the published files do not match the manifest ({'; '.join(problems[:5])})",
            "something else writes to this directory; stop it, delete the version and rerun",
            ExitCode.STORAGE,
        )
    log.info(
        "published %s: %d file(s), %.1f MiB in %.2fs, manifest written last",
        store.uri,
        report.files,
        report.bytes / 1024 / 1024,
        report.seconds,
    )
    return PublishResult("published", report)
