"""The operator frames HandleReloadConfig messages itself; they must match TF Serving's protos."""

from __future__ import annotations

from google.protobuf import text_format
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from tfserving_operator.replicas import decode_reload_response, encode_reload_request
from tfserving_operator.stage import Stage
from tfserving_operator.tfconfig import render_models_config

from .helpers import servedmodel


def test_request_bytes_parse_as_reload_config_request() -> None:
    text = render_models_config(servedmodel().spec, Stage(frozenset({1, 2}), {"stable": 1, "canary": 2}))
    request = model_management_pb2.ReloadConfigRequest.FromString(encode_reload_request(text))
    expected = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    assert request.config == expected
    assert dict(request.config.model_config_list.config[0].version_labels) == {"stable": 1, "canary": 2}


def test_response_status_is_decoded() -> None:
    failed = model_management_pb2.ReloadConfigResponse()
    failed.status.error_code = 9  # FAILED_PRECONDITION
    failed.status.error_message = (
        "Request to assign label to version 4 of model vit, which is not currently available"
    )
    assert decode_reload_response(failed.SerializeToString()) == (9, failed.status.error_message)
    assert decode_reload_response(model_management_pb2.ReloadConfigResponse().SerializeToString()) == (0, "")


def test_the_method_path_is_the_one_model_service_defines() -> None:
    from tensorflow_serving.apis import model_service_pb2

    from tfserving_operator.replicas import RELOAD_METHOD

    service = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"]
    method = next(m for m in service.methods if m.input_type.name == "ReloadConfigRequest")
    assert f"/{service.full_name}/{method.name}" == RELOAD_METHOD
