"""Builds the SavedModel on local disk: signatures, warmup records, and the reload check."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from exporter_job.errors import ExitCode, ExportError
from exporter_job.manifest import SignatureDesc
from exporter_job.options import ExportOptions
from exporter_job.presets import BuiltSignature, build_signatures
from exporter_job.samples import InputSpec, SampleRequest, read_sample_file, to_request
from exporter_job.sources import ResolvedSource, load_model
from exporter_job.validate import describe_signatures, validate_saved_model
from exporter_job.warmup import read_warmup, write_warmup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    signatures: dict[str, SignatureDesc]
    tensorflow_version: str
    warmup_records: int


def _input_specs(sig: BuiltSignature) -> list[InputSpec]:
    return [
        InputSpec(s.name, object if s.dtype == tf.string else np.dtype(s.dtype.as_numpy_dtype))
        for s in sig.function.structured_input_signature[0]
    ]


def _requests(built: list[BuiltSignature], samples_file: Path | None, shown_as: str) -> list[SampleRequest]:
    by_name = {b.name: b for b in built}
    requests = []
    if samples_file is not None:
        for raw in read_sample_file(samples_file, shown_as):
            name = str(raw.get("signature_name", "serving_default"))
            if name not in by_name:
                raise ExportError(
                    "--samples", shown_as, f"names signature {name!r}", f"use one of {sorted(by_name)}"
                )
            requests.append(to_request(raw, _input_specs(by_name[name]), shown_as))
    covered = {r.signature_name for r in requests}
    requests.extend(SampleRequest(b.name, b.synthesize()) for b in built if b.name not in covered)
    return requests


def build_saved_model(
    source: ResolvedSource, opts: ExportOptions, samples_file: Path | None, scratch: Path, saved_dir: Path
) -> BuildResult:
    log.info("loading %s source %s", source.kind, source.uri)
    model = load_model(source, opts)
    root = tf.Module()
    root.source_model = model.trackable
    built = build_signatures(model, opts, root, scratch)
    log.info("saving signatures %s", [b.name for b in built])
    tf.saved_model.save(root, str(saved_dir), signatures={b.name: b.function for b in built})

    requests = _requests(built, samples_file, opts.samples or "")
    warmup_records = 0
    if opts.warmup:
        warmup_records = write_warmup(saved_dir, requests[: opts.warmup_records], opts.model_name)
        # Validate with the records as read back: TF Serving refuses a version whose warmup fails.
        requests = read_warmup(saved_dir) + requests[opts.warmup_records :]
        log.info("wrote %d warmup record(s)", warmup_records)
    loaded, problems = validate_saved_model(saved_dir, built, requests, opts.atol, opts.rtol)
    if problems:
        raise ExportError(
            "--source",
            opts.source,
            "the reloaded SavedModel disagrees with the source model:\n  " + "\n  ".join(problems[:10]),
            "check the samples against the signatures; raise --atol/--rtol only if the difference "
            "is expected",
            ExitCode.VALIDATION,
        )
    log.info("validated %d request(s) against the reloaded SavedModel", len(requests))
    presets = {b.name: b.preset for b in built}
    return BuildResult(describe_signatures(loaded, presets), tf.__version__, warmup_records)
