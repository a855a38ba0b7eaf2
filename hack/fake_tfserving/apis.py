"""The API operations shared by REST and gRPC: status, metadata, predict."""

from __future__ import annotations

from google.protobuf import json_format, wrappers_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
)
from tensorflow_serving.apis import status_pb2 as serving_status_pb2

from .core import ModelSpec, ServerCore
from .errors import Code, ServingError
from .tensor_proto import numpy_to_proto, proto_to_numpy

SIGNATURE_DEF_FIELD = "signature_def"  # GetModelMetadataImpl::kSignatureDef


def spec_from_proto(proto: model_pb2.ModelSpec) -> ModelSpec:
    choice = proto.WhichOneof("version_choice")
    return ModelSpec(
        name=proto.name,
        version=proto.version.value if choice == "version" else None,
        label=proto.version_label if choice == "version_label" else None,
        signature_name=proto.signature_name,
    )


def model_status(core: ServerCore, spec: ModelSpec) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for state in core.model_status(spec.name, spec.version):
        entry = response.model_version_status.add()
        entry.version = state.version
        entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state.value)
        error = state.error
        entry.status.CopyFrom(
            serving_status_pb2.StatusProto(
                error_code=int(error.code) if error else 0, error_message=error.message if error else ""
            )
        )
    return response


def model_metadata(
    core: ServerCore, spec: ModelSpec, fields: list[str]
) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """get_model_metadata_impl.cc: only the signature_def field is supported."""
    if not fields:
        raise ServingError(
            Code.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one metadata_field"
        )
    for field in fields:
        if field != SIGNATURE_DEF_FIELD:
            raise ServingError(Code.INVALID_ARGUMENT, f"Metadata field {field} is not supported")
    with core.handle(spec) as handle:
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for key, value in handle.servable.signature_defs.items():
            signatures.signature_def[key].CopyFrom(value)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.CopyFrom(wrappers_pb2.Int64Value(value=handle.version))
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signatures)
    return response


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> str:
    """http_rest_api_util.cc ToJsonString(GetModelMetadataResponse): proto field names kept."""
    spec = json_format.MessageToJson(
        response.model_spec,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        indent=1,
    )
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signatures)
    signature_json = json_format.MessageToJson(
        signatures, preserving_proto_field_name=True, always_print_fields_with_no_presence=True, indent=1
    )
    return f'{{\n"model_spec":{spec},\n"metadata": {{"signature_def": {signature_json}}}\n}}\n'


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> str:
    return json_format.MessageToJson(response, always_print_fields_with_no_presence=True, indent=1)


def predict(core: ServerCore, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
    spec = spec_from_proto(request.model_spec)
    with core.handle(spec) as handle:
        inputs = {key: proto_to_numpy(value) for key, value in request.inputs.items()}
        signature_name, outputs = handle.servable.predict(
            spec.signature_name, inputs, list(request.output_filter)
        )
        response = predict_pb2.PredictResponse()
        # predict_util.cc MakeModelSpec: name, resolved version, signature used.
        response.model_spec.name = spec.name
        response.model_spec.version.value = handle.version
        response.model_spec.signature_name = signature_name
        for alias, (array, dtype) in outputs.items():
            response.outputs[alias].CopyFrom(numpy_to_proto(array, dtype))
    return response
