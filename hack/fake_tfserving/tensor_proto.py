"""TensorProto <-> numpy, with the dtype names TensorFlow uses in error texts."""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from .errors import Code, ServingError

DT = types_pb2

NUMPY_TYPES: dict[int, Any] = {
    DT.DT_FLOAT: np.float32,
    DT.DT_DOUBLE: np.float64,
    DT.DT_INT32: np.int32,
    DT.DT_INT16: np.int16,
    DT.DT_INT8: np.int8,
    DT.DT_UINT8: np.uint8,
    DT.DT_INT64: np.int64,
    DT.DT_BOOL: np.bool_,
    DT.DT_UINT32: np.uint32,
    DT.DT_UINT64: np.uint64,
    DT.DT_HALF: np.float16,
    DT.DT_STRING: object,
}
# DataTypeString() names used in error texts.
_DTYPE_NAME = {
    DT.DT_FLOAT: "float",
    DT.DT_DOUBLE: "double",
    DT.DT_INT32: "int32",
    DT.DT_INT16: "int16",
    DT.DT_INT8: "int8",
    DT.DT_UINT8: "uint8",
    DT.DT_INT64: "int64",
    DT.DT_BOOL: "bool",
    DT.DT_UINT32: "uint32",
    DT.DT_UINT64: "uint64",
    DT.DT_HALF: "half",
    DT.DT_STRING: "string",
}
_FIELD = {
    DT.DT_FLOAT: "float_val",
    DT.DT_DOUBLE: "double_val",
    DT.DT_INT32: "int_val",
    DT.DT_INT16: "int_val",
    DT.DT_INT8: "int_val",
    DT.DT_UINT8: "int_val",
    DT.DT_INT64: "int64_val",
    DT.DT_BOOL: "bool_val",
    DT.DT_UINT32: "uint32_val",
    DT.DT_UINT64: "uint64_val",
    DT.DT_STRING: "string_val",
}


def dtype_name(dtype: int) -> str:
    return _DTYPE_NAME.get(dtype, DT.DataType.Name(dtype))


def proto_to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    import tensorflow as tf  # imported late: heavy, and only needed once a model serves

    try:
        return np.asarray(tf.make_ndarray(proto))
    except Exception as exc:
        raise ServingError(Code.INVALID_ARGUMENT, f"Could not parse tensor proto: {exc}") from None


def numpy_to_proto(array: np.ndarray, dtype: int) -> tensor_pb2.TensorProto:
    """Tensor::AsProtoField: values in the typed repeated field, as the real server replies."""
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape]
        )
    )
    flat = array.reshape(-1)
    if dtype == DT.DT_HALF:
        proto.half_val.extend(int(v) for v in flat.astype(np.float16).view(np.uint16))
        return proto
    field = _FIELD.get(dtype)
    if field is None:
        import tensorflow as tf

        return tf.make_tensor_proto(array)
    if dtype == DT.DT_STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    else:
        getattr(proto, field).extend(flat.tolist())
    return proto
