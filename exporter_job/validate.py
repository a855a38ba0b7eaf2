"""Checks a written SavedModel before it is published: reload it and compare with the source model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from exporter_job.manifest import SignatureDesc, TensorDesc
from exporter_job.presets import BuiltSignature
from exporter_job.samples import SampleRequest


def _desc(spec: tf.TensorSpec) -> TensorDesc:
    shape = spec.shape.as_list() if spec.shape.rank is not None else None
    return TensorDesc(spec.dtype.name, shape)


def describe_signatures(loaded: Any, presets: dict[str, str]) -> dict[str, SignatureDesc]:
    out = {}
    for name, fn in sorted(loaded.signatures.items()):
        inputs = {k: _desc(v) for k, v in fn.structured_input_signature[1].items()}
        outputs = {k: _desc(v) for k, v in fn.structured_outputs.items()}
        out[name] = SignatureDesc(inputs, outputs, preset=presets.get(name, ""))
    return out


def compare_outputs(
    where: str, expected: dict[str, Any], got: dict[str, Any], atol: float, rtol: float
) -> list[str]:
    problems = []
    for key, want in expected.items():
        if key not in got:
            problems.append(f"{where}: output {key!r} missing after reload")
            continue
        a, b = np.asarray(want), np.asarray(got[key])
        if a.shape != b.shape:
            problems.append(f"{where}: output {key!r} shape {a.shape} -> {b.shape}")
        elif a.dtype.kind == "f":
            if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
                worst = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
                problems.append(
                    f"{where}: output {key!r} differs by up to {worst:.3g} (atol {atol}, rtol {rtol})"
                )
        elif not np.array_equal(a, b):
            problems.append(f"{where}: output {key!r} values differ")
    return problems


def validate_saved_model(
    saved_dir: Path, built: list[BuiltSignature], requests: list[SampleRequest], atol: float, rtol: float
) -> tuple[Any, list[str]]:
    """Runs every request through the source-side function and the reloaded signature; returns problems."""
    loaded = tf.saved_model.load(str(saved_dir))
    by_name = {b.name: b for b in built}
    problems: list[str] = []
    missing = sorted(set(by_name) - set(loaded.signatures))
    problems.extend(f"signature {n!r} missing after reload" for n in missing)
    for i, req in enumerate(requests):
        sig = by_name.get(req.signature_name)
        if sig is None or req.signature_name not in loaded.signatures:
            problems.append(f"request {i}: unknown signature {req.signature_name!r}; have {sorted(by_name)}")
            continue
        feed = {k: tf.constant(v) for k, v in req.inputs.items()}
        where = f"request {i} (signature {req.signature_name!r})"
        try:
            want = {k: v.numpy() for k, v in sig(feed).items()}
            got = {k: v.numpy() for k, v in loaded.signatures[req.signature_name](**feed).items()}
        except (tf.errors.OpError, TypeError, ValueError, KeyError) as exc:
            problems.append(f"{where}: failed to run: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            continue
        problems.extend(compare_outputs(where, want, got, atol, rtol))
    return loaded, problems
