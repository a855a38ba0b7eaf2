"""One export, start to finish: resolve, build, save, warm up, validate, check compatibility, publish."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from exporter_job import __version__
from exporter_job.compat import signature_diff
from exporter_job.errors import ExitCode, ExportError
from exporter_job.manifest import (
    Manifest,
    SourceInfo,
    VersionProblem,
    describe_files,
    verify_version,
    version_uri,
)
from exporter_job.options import ExportOptions
from exporter_job.publish import inspect_target, publish
from exporter_job.sources import resolve_source
from exporter_job.storage import MiB, StorageError, UploadPlan, fetch, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    uri: str
    outcome: Literal["published", "unchanged"]
    files: int
    bytes: int
    export_seconds: float
    upload_seconds: float

    @property
    def summary(self) -> str:
        if self.outcome == "unchanged":
            return f"{self.uri} is already published from the same inputs; nothing to do"
        return (
            f"published {self.uri}: {self.files} files, {self.bytes / MiB:.1f} MiB "
            f"(export {self.export_seconds:.1f}s, upload {self.upload_seconds:.1f}s)"
        )


@contextmanager
def _scratch(opts: ExportOptions) -> Iterator[Path]:
    if opts.work_dir:
        root = Path(opts.work_dir) / f"export-{opts.version}-{time.time_ns()}"
        root.mkdir(parents=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="savedmodel-export-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _sha256_file(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else None


def _fetch_optional(flag: str, uri: str | None, dest: Path, deadline: float) -> Path | None:
    if uri is None:
        return None
    try:
        local = fetch(uri, dest, deadline)
    except StorageError as exc:
        raise ExportError(
            flag, uri, f"cannot be read: {exc.detail}", "check the path and permissions"
        ) from exc
    if not local.is_file():
        raise ExportError(flag, uri, "is a directory", "give a file")
    return local


def run_export(opts: ExportOptions) -> ExportResult:
    started = time.monotonic()
    target_uri = version_uri(opts.output, opts.version)
    # Fail on an unreachable bucket before spending minutes on the model.
    try:
        store = open_store(target_uri, opts.gcs_retry_deadline)
        store.probe()
    except StorageError as exc:
        raise ExportError(
            "--output",
            target_uri,
            f"storage failed: {exc.detail}",
            "check that the bucket exists and that this job's service account may list, create and delete "
            "objects there; rerunning the export is safe",
            ExitCode.STORAGE,
        ) from exc
    with _scratch(opts) as scratch:
        source = resolve_source(opts, scratch)
        samples_file = _fetch_optional(
            "--samples", opts.samples, scratch / "samples", opts.gcs_retry_deadline
        )
        labels_file = _fetch_optional(
            "--labels", opts.image.labels, scratch / "labels-src", opts.gcs_retry_deadline
        )
        digest_doc = {
            "exporter_version": __version__,
            "source": source.sha256,
            "options": opts.digest_fields(),
            "samples": _sha256_file(samples_file),
            "labels": _sha256_file(labels_file),
        }
        inputs_digest = hashlib.sha256(json.dumps(digest_doc, sort_keys=True).encode()).hexdigest()
        if inspect_target(store, inputs_digest, opts.version) == "same":
            log.info("%s is already published from the same inputs; nothing to do", target_uri)
            return ExportResult(target_uri, "unchanged", 0, 0, time.monotonic() - started, 0.0)

        earlier = None
        if opts.compatible_with:
            found = verify_version(opts.compatible_with, opts.gcs_retry_deadline)
            if isinstance(found, VersionProblem):
                raise ExportError(
                    "--compatible-with",
                    opts.compatible_with,
                    f"is not a published version: {found.detail}",
                    "point at an earlier version directory that has a verified export-manifest.json",
                )
            earlier = found.manifest

        if labels_file is not None:
            opts = replace(opts, image=replace(opts.image, labels=str(labels_file)))
        saved_dir = scratch / "savedmodel"
        from exporter_job.build import build_saved_model

        built = build_saved_model(source, opts, samples_file, scratch, saved_dir)
        if earlier is not None:
            diff = signature_diff(earlier.signatures, built.signatures)
            if diff:
                raise ExportError(
                    "--compatible-with",
                    opts.compatible_with,
                    "the new signatures break clients of that version:\n  " + "\n  ".join(diff),
                    "keep the signatures compatible, or drop --compatible-with to publish a breaking "
                    "change on purpose",
                    ExitCode.REFUSED,
                )
        manifest = Manifest(
            model_version=opts.version,
            files=describe_files(saved_dir),
            signatures=built.signatures,
            source=SourceInfo(opts.source, source.kind, source.sha256),
            inputs_digest=inputs_digest,
            tensorflow_version=built.tensorflow_version,
            exporter_version=__version__,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            warmup_records=built.warmup_records,
            options=digest_doc["options"],  # type: ignore[arg-type]
        )
        export_seconds = time.monotonic() - started
        plan = UploadPlan(workers=opts.upload_workers, composite_threshold=opts.composite_threshold_mib * MiB)
        result = publish(store, saved_dir, manifest, plan)
        if result.upload is None:
            return ExportResult(target_uri, "unchanged", 0, 0, export_seconds, 0.0)
        return ExportResult(
            target_uri,
            "published",
            result.upload.files,
            result.upload.bytes,
            export_seconds,
            result.upload.seconds,
        )
