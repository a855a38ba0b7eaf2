"""Sample requests: read from a JSON file in TF Serving's REST predict format, or synthesised."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from exporter_job.errors import ExportError


@dataclass(frozen=True)
class SampleRequest:
    signature_name: str
    inputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class InputSpec:
    name: str
    numpy_dtype: Any  # np.dtype, or object for tf.string


def read_sample_file(path: Path, shown_as: str) -> list[dict[str, Any]]:
    fix = 'write {"signature_name": "serving_default", "instances": [...]} or a list of such objects'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError("--samples", shown_as, f"is not readable JSON ({exc})", fix) from exc
    requests = data if isinstance(data, list) else [data]
    for req in requests:
        if not isinstance(req, dict) or not ("instances" in req or "inputs" in req):
            raise ExportError("--samples", shown_as, "has a request without 'instances' or 'inputs'", fix)
    return requests


def _decode(value: Any, is_string: bool) -> Any:
    if isinstance(value, list):
        return [_decode(v, is_string) for v in value]
    if isinstance(value, dict) and set(value) == {"b64"}:
        # The same binary convention as TF Serving's REST API (util/json_tensor.cc).
        return base64.b64decode(value["b64"], validate=True)
    if is_string and isinstance(value, str):
        return value.encode("utf-8")
    return value


def to_request(raw: dict[str, Any], specs: list[InputSpec], shown_as: str) -> SampleRequest:
    name = str(raw.get("signature_name", "serving_default"))
    by_name = {s.name: s for s in specs}
    try:
        if "instances" in raw:
            instances = raw["instances"]
            if not isinstance(instances, list) or not instances:
                raise ValueError("'instances' must be a non-empty list")
            if all(isinstance(i, dict) and set(i) != {"b64"} for i in instances):
                columns = {k: [i[k] for i in instances] for k in by_name}
            elif len(specs) == 1:
                columns = {specs[0].name: instances}
            else:
                raise ValueError(
                    f"the signature has inputs {sorted(by_name)}: give each instance as an object"
                )
        else:
            inputs = raw["inputs"]
            columns = inputs if isinstance(inputs, dict) else {specs[0].name: inputs}
        unknown = sorted(set(columns) - set(by_name))
        if unknown:
            raise ValueError(f"unknown input(s) {unknown}; the signature has {sorted(by_name)}")
        arrays = {}
        for key, spec in by_name.items():
            is_string = spec.numpy_dtype is object
            values = _decode(columns[key], is_string)
            arrays[key] = np.array(values, dtype=object if is_string else spec.numpy_dtype)
    except (KeyError, ValueError, TypeError, binascii.Error) as exc:
        raise ExportError(
            "--samples",
            shown_as,
            f"request for signature {name!r} does not fit its inputs ({exc})",
            'give one value per input per instance, binary strings as {"b64": ...}',
        ) from exc
    return SampleRequest(name, arrays)
