"""Text protos the tensorflow-serving-api wheel does not ship: MonitoringConfig, BatchingParameters.

The message layouts (field names and numbers) follow tensorflow_serving/config/monitoring_config.proto
and tensorflow_serving/servables/tensorflow/session_bundle_config.proto, so files written for the
real server parse here and unknown fields are rejected the same way.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2

from .errors import Code, ServingError

_F = descriptor_pb2.FieldDescriptorProto


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="fake_tfserving/extra_protos.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    prom = file.message_type.add(name="PrometheusConfig")
    prom.field.add(name="enable", number=1, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL)
    prom.field.add(name="path", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    mon = file.message_type.add(name="MonitoringConfig")
    mon.field.add(
        name="prometheus_config",
        number=1,
        type=_F.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
        label=_F.LABEL_OPTIONAL,
    )
    batching = file.message_type.add(name="BatchingParameters")
    for name, number, wrapper in (
        ("max_batch_size", 1, "Int64Value"),
        ("batch_timeout_micros", 2, "Int64Value"),
        ("max_enqueued_batches", 3, "Int64Value"),
        ("num_batch_threads", 4, "Int64Value"),
        ("thread_pool_name", 5, "StringValue"),
        ("enable_large_batch_splitting", 8, "BoolValue"),
        ("max_execution_batch_size", 9, "Int64Value"),
    ):
        batching.field.add(
            name=name,
            number=number,
            type=_F.TYPE_MESSAGE,
            type_name=f".google.protobuf.{wrapper}",
            label=_F.LABEL_OPTIONAL,
        )
    batching.field.add(name="allowed_batch_sizes", number=6, type=_F.TYPE_INT64, label=_F.LABEL_REPEATED)
    batching.field.add(
        name="pad_variable_length_inputs", number=7, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL
    )
    return file


_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
_pool.AddSerializedFile(_build_file().SerializeToString())
_MonitoringConfig: Any = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
)
_BatchingParameters: Any = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
)

# prometheus_exporter.cc kPrometheusPath, used when prometheus_config.path is empty.
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
# BatchScheduler QueueOptions input_batch_size_limit default, used when max_batch_size is unset.
DEFAULT_MAX_BATCH_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    prometheus_enabled: bool
    prometheus_path: str


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    max_batch_size: int
    batch_timeout_micros: int
    allowed_batch_sizes: tuple[int, ...]
    pad_variable_length_inputs: bool


def _parse_file(path: str, message: Any, what: str) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ServingError(Code.NOT_FOUND, f"{path}; {exc.strerror}") from None
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise ServingError(Code.INVALID_ARGUMENT, f"Could not parse {what} from {path}: {exc}") from None
    return message


def read_monitoring_config(path: str) -> MonitoringConfig:
    if not path:
        return MonitoringConfig(prometheus_enabled=False, prometheus_path=DEFAULT_PROMETHEUS_PATH)
    proto = _parse_file(path, _MonitoringConfig(), "MonitoringConfig")
    prometheus = proto.prometheus_config
    return MonitoringConfig(
        prometheus_enabled=bool(prometheus.enable),
        prometheus_path=str(prometheus.path) or DEFAULT_PROMETHEUS_PATH,
    )


def read_batching_parameters(path: str) -> BatchingParameters:
    proto = _parse_file(path, _BatchingParameters(), "BatchingParameters") if path else _BatchingParameters()
    return BatchingParameters(
        max_batch_size=int(proto.max_batch_size.value)
        if proto.HasField("max_batch_size")
        else DEFAULT_MAX_BATCH_SIZE,
        batch_timeout_micros=int(proto.batch_timeout_micros.value),
        allowed_batch_sizes=tuple(int(size) for size in proto.allowed_batch_sizes),
        pad_variable_length_inputs=bool(proto.pad_variable_length_inputs),
    )


def check_batching_for_load(params: BatchingParameters) -> None:
    """bundle_factory_util.cc WrapSessionForBatching: checked when each version loads."""
    if params.allowed_batch_sizes and params.allowed_batch_sizes[-1] != params.max_batch_size:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
            f"{params.allowed_batch_sizes[-1]}; expected {params.max_batch_size}",
        )
