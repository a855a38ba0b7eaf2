"""Message types for the two TF Serving text protos that the tensorflow-serving-api wheel lacks.

The wheel ships ModelServerConfig but not BatchingParameters (session_bundle_config.proto) nor
MonitoringConfig (monitoring_config.proto). These descriptors carry the field names and types the
reference documents (tf-serving.md, "Performance and operation flags"); text format is keyed by
field name, so parsing with them checks what TF Serving's parser would accept by name and type.
Field numbers are local to this file.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _build() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="tfso_test_textprotos.proto",
        package="tfso_test",
        dependency=["google/protobuf/wrappers.proto"],
    )
    batching = proto.message_type.add(name="BatchingParameters")
    for number, name in enumerate(
        ["max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads"], start=1
    ):
        batching.field.add(
            name=name,
            number=number,
            type=_F.TYPE_MESSAGE,
            type_name=".google.protobuf.Int64Value",
            label=_F.LABEL_OPTIONAL,
        )
    batching.field.add(name="allowed_batch_sizes", number=10, type=_F.TYPE_INT64, label=_F.LABEL_REPEATED)
    batching.field.add(
        name="pad_variable_length_inputs", number=11, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL
    )
    prometheus = proto.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    monitoring = proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=_F.TYPE_MESSAGE,
        type_name=".tfso_test.PrometheusConfig",
        label=_F.LABEL_OPTIONAL,
    )
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tfso_test.{name}"))
        for name in ("BatchingParameters", "MonitoringConfig")
    }


_CLASSES = _build()
BatchingParameters = _CLASSES["BatchingParameters"]
MonitoringConfig = _CLASSES["MonitoringConfig"]
