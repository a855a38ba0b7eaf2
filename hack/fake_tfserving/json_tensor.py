"""The REST JSON tensor formats: request decoding and response encoding (util/json_tensor.cc)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import Code, ServingError
from .tensor_proto import DT, NUMPY_TYPES, dtype_name

BYTES_SUFFIX = "_bytes"  # json_tensor.cc kBytesTensorNameSuffix


def _debug(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))[:256]


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"


def _type_error(value: Any, dtype: int) -> ServingError:
    return ServingError(
        Code.INVALID_ARGUMENT,
        f"JSON Value: {_debug(value)} Type: {_json_type(value)} is not of expected type: {dtype_name(dtype)}",
    )


def is_b64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _leaf(value: Any, dtype: int) -> Any:
    """AddValueToTensor: strict JSON type per dtype."""
    if isinstance(value, dict):
        if dtype != DT.DT_STRING:
            raise _type_error(value, dtype)
        if not is_b64_object(value):
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"JSON Value: {_debug(value)} not formatted correctly for base64 data",
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise ServingError(Code.INVALID_ARGUMENT, "Unable to base64 decode") from None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if dtype in (DT.DT_FLOAT, DT.DT_DOUBLE, DT.DT_HALF):
        if not is_number:
            raise _type_error(value, dtype)
        return float(value)
    if dtype in (DT.DT_INT32, DT.DT_INT16, DT.DT_INT8, DT.DT_UINT8, DT.DT_INT64, DT.DT_UINT32, DT.DT_UINT64):
        if not is_number or isinstance(value, float):
            raise _type_error(value, dtype)
        return int(value)
    if dtype == DT.DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == DT.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode()
    raise ServingError(
        Code.UNIMPLEMENTED, f"Conversion of JSON Value: {_debug(value)} to type: {dtype_name(dtype)}"
    )


def _dense_shape(value: Any) -> list[int]:
    """GetDenseTensorShape: follows the first element of each nested list."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: int, out: list[Any]) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"JSON Value: {_debug(value)} found at incorrect level: {level + 1} in the JSON DOM. "
                f"Expected at level: {rank}",
            )
        out.append(_leaf(value, dtype))
        return
    if level >= rank:
        raise ServingError(
            Code.INVALID_ARGUMENT, f"Encountered list at unexpected level: {level} expected < {rank}"
        )
    if len(value) != shape[level]:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}",
        )
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def json_to_array(value: Any, dtype: int) -> np.ndarray:
    shape = _dense_shape(value)
    flat: list[Any] = []
    _fill(value, 0, shape, dtype, flat)
    np_type = NUMPY_TYPES.get(dtype)
    if np_type is None:
        raise ServingError(Code.UNIMPLEMENTED, f"Conversion to type: {dtype_name(dtype)}")
    array = np.empty(len(flat), dtype=np_type)
    array[:] = flat
    return array.reshape(shape)


def parse_predict_body(body: bytes) -> dict[str, Any]:
    """json_tensor.cc ParseJson: a non-empty JSON object."""
    if not body:
        raise ServingError(Code.INVALID_ARGUMENT, "JSON Parse error: The document is empty")
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServingError(Code.INVALID_ARGUMENT, f"JSON Parse error: {exc}") from None
    if not isinstance(doc, dict):
        raise ServingError(Code.INVALID_ARGUMENT, f"JSON Value: {_debug(doc)} Is not object")
    signature = doc.get("signature_name")
    if signature is not None and not isinstance(signature, str):
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"JSON Value: {_debug(doc)} not formatted correctly. "
            "'signature_name' key must be a string value.",
        )
    return doc


def inputs_from_json(
    doc: Mapping[str, Any], input_dtypes: Mapping[str, int]
) -> tuple[dict[str, np.ndarray], bool]:
    """FillPredictRequestFromJson: returns the input arrays and whether the row format was used."""
    has_instances = "instances" in doc
    has_inputs = "inputs" in doc
    if has_instances and has_inputs:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            f"JSON Value: {_debug(doc)} Not formatted correctly expecting only one of 'inputs' or "
            "'instances' keys to exist ",
        )
    if has_instances:
        return _from_instances(doc, doc["instances"], input_dtypes), True
    if has_inputs:
        return _from_inputs(doc["inputs"], input_dtypes), False
    raise ServingError(Code.INVALID_ARGUMENT, "Missing 'inputs' or 'instances' key")


def _is_named_object(value: Any) -> bool:
    return isinstance(value, dict) and not is_b64_object(value)


def _from_instances(
    doc: Mapping[str, Any], instances: Any, input_dtypes: Mapping[str, int]
) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise ServingError(
            Code.INVALID_ARGUMENT, f"JSON Value: {_debug(doc)} Expecting 'instances' to be an list/array"
        )
    if not instances:
        raise ServingError(Code.INVALID_ARGUMENT, f"JSON Value: {_debug(doc)} No values in 'instances' array")
    if not isinstance(instances[0], dict) and len(input_dtypes) > 1:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "instances is a plain list, but expecting list of objects as multiple input tensors required "
            "as per tensorinfo_map",
        )
    objects = _is_named_object(instances[0])
    names = sorted(input_dtypes)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for index, item in enumerate(instances):
        if objects:
            if not _is_named_object(item):
                raise ServingError(
                    Code.INVALID_ARGUMENT, f"Expecting object but got list at item {index} of input list"
                )
            for key, value in item.items():
                if key not in input_dtypes:
                    raise ServingError(
                        Code.INVALID_ARGUMENT,
                        f"Failed to process element: {index} key: {key} of 'instances' list. Error: "
                        f"INVALID_ARGUMENT: JSON object: does not have named input: {key}",
                    )
                columns[key].append(_instance_item(index, key, value, input_dtypes[key], columns[key]))
            if set(item) != set(names):
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Failed to process element: {index} of 'instances' list. JSON object: {_debug(item)} "
                    f"keys must be equal to: {','.join(names)}",
                )
        else:
            if _is_named_object(item):
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Expecting value/list but got object at item {index} of input list",
                )
            name = names[0]
            columns[name].append(_instance_item(index, None, item, input_dtypes[name], columns[name]))
    return {name: np.stack(rows) for name, rows in columns.items() if rows}


def _instance_item(
    index: int, key: str | None, value: Any, dtype: int, previous: list[np.ndarray]
) -> np.ndarray:
    where = f"Failed to process element: {index}" + (f" key: {key}" if key is not None else "")
    try:
        array = json_to_array(value, dtype)
    except ServingError as exc:
        raise ServingError(Code.INVALID_ARGUMENT, f"{where} of 'instances' list. Error: {exc}") from None
    if previous and previous[0].shape != array.shape:
        if previous[0].size != array.size:
            detail = f"Expecting tensor size: {previous[0].size} but got: {array.size}"
        else:
            detail = (
                f"Expecting shape [{','.join(map(str, previous[0].shape))}] but got: "
                f"[{','.join(map(str, array.shape))}]"
            )
        raise ServingError(
            Code.INVALID_ARGUMENT, f"{where} of 'instances' list. Error: INVALID_ARGUMENT: {detail}"
        )
    return array


def _from_inputs(value: Any, input_dtypes: Mapping[str, int]) -> dict[str, np.ndarray]:
    if not _is_named_object(value):
        if len(input_dtypes) > 1:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                "inputs is a plain value/list, but expecting an object as multiple input tensors required "
                "as per tensorinfo_map",
            )
        name = sorted(input_dtypes)[0]
        return {name: json_to_array(value, input_dtypes[name])}
    arrays: dict[str, np.ndarray] = {}
    for name in sorted(input_dtypes):
        if name not in value:
            raise ServingError(Code.INVALID_ARGUMENT, f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(value[name], input_dtypes[name])
    return arrays


# ---------------------------------------------------------------- numpy -> JSON response


class _Raw:
    """A number already formatted as JSON text (json_tensor.cc WriteDecimal)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _decimal(value: float, single: bool) -> _Raw:
    if math.isnan(value):
        return _Raw("NaN")
    if math.isinf(value):
        return _Raw("-Infinity" if value < 0 else "Infinity")
    text = format(value, "g")  # absl::StrCat on a float/double: six significant digits
    parsed = float(np.float32(text)) if single else float(text)
    if parsed != value:
        text = format(value, ".9g" if single else ".17g")
    if "." not in text and "e" not in text:
        text += ".0"
    return _Raw(text)


def _json_values(value: Any, dtype: int, as_bytes: bool) -> Any:
    array = np.asarray(value, dtype=object) if dtype == DT.DT_STRING else np.asarray(value)
    if array.ndim == 0:
        item = array.item()
        if dtype in (DT.DT_FLOAT, DT.DT_HALF):
            return _decimal(float(np.float32(item)), single=True)
        if dtype == DT.DT_DOUBLE:
            return _decimal(float(item), single=False)
        if dtype == DT.DT_STRING:
            raw = item if isinstance(item, bytes) else str(item).encode()
            if as_bytes:
                return {"b64": base64.b64encode(raw).decode()}
            return raw.decode("utf-8", errors="replace")
        if dtype == DT.DT_BOOL:
            return bool(item)
        return int(item)
    return [_json_values(sub, dtype, as_bytes) for sub in array]


def _dump(value: Any) -> str:
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def outputs_to_json(outputs: Mapping[str, tuple[np.ndarray, int]], row_format: bool) -> str:
    """MakeJsonFromTensors: {"predictions": [...]} for instances, {"outputs": ...} for inputs."""
    if not outputs:
        raise ServingError(Code.INVALID_ARGUMENT, "Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    many = len(names) > 1

    def values(name: str, array: np.ndarray) -> Any:
        dtype = outputs[name][1]
        return _json_values(array, dtype, dtype == DT.DT_STRING and name.endswith(BYTES_SUFFIX))

    if not row_format:
        if many:
            body = {name: values(name, outputs[name][0]) for name in names}
            return _dump({"outputs": body})
        return _dump({"outputs": values(names[0], outputs[names[0]][0])})
    batch = -1
    for name in names:
        array = outputs[name][0]
        if array.ndim == 0:
            raise ServingError(Code.INVALID_ARGUMENT, f"Tensor name: {name} has no shape information ")
        if batch >= 0 and array.shape[0] != batch:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} expecting: {batch}",
            )
        batch = array.shape[0]
    rows: list[Any] = []
    for index in range(batch):
        if many:
            rows.append({name: values(name, outputs[name][0][index]) for name in names})
        else:
            rows.append(values(names[0], outputs[names[0]][0][index]))
    return _dump({"predictions": rows})
