"""gRPC ModelService and PredictionService on --port, with TF Serving's generated stubs."""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.apis import status_pb2 as serving_status_pb2

from .apis import model_metadata, model_status, predict, spec_from_proto
from .core import ServerCore
from .errors import Code, ServingError
from .metrics import RequestCounter

log = logging.getLogger(__name__)

_MESSAGE_LIMIT = 1024  # grpc_status_util.cc ToGRPCStatus truncates longer messages


def _truncate(message: str) -> str:
    return message[:_MESSAGE_LIMIT] + "...TRUNCATED" if len(message) > _MESSAGE_LIMIT else message


def _abort(context: grpc.ServicerContext, error: ServingError) -> Any:
    context.abort(grpc.StatusCode[error.code.name], _truncate(error.message))


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServerCore) -> None:
        self._core = core

    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        try:
            if not request.HasField("model_spec"):
                raise ServingError(Code.INVALID_ARGUMENT, "Missing ModelSpec")
            return model_status(self._core, spec_from_proto(request.model_spec))
        except ServingError as exc:
            return _abort(context, exc)

    def HandleReloadConfigRequest(
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        """model_service_impl.cc: applies the config at once; the status is in the reply and the RPC."""
        response = model_management_pb2.ReloadConfigResponse()
        try:
            if request.config.WhichOneof("config") != "model_config_list":
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                    "ModelConfigList is currently supported",
                )
            for index, model in enumerate(request.config.model_config_list.config):
                log.info(
                    "Config entry index : %d path : %s name : %s platform : %s",
                    index,
                    model.base_path,
                    model.name,
                    model.model_platform,
                )
            self._core.reload_config(request.config)
        except ServingError as exc:
            log.error("ReloadConfig failed: %s", exc.message)
            response.status.CopyFrom(
                serving_status_pb2.StatusProto(error_code=int(exc.code), error_message=exc.message)
            )
            context.set_code(grpc.StatusCode[exc.code.name])
            context.set_details(_truncate(exc.message))
            return response
        response.status.CopyFrom(serving_status_pb2.StatusProto(error_code=0))
        return response


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServerCore, counter: RequestCounter) -> None:
        self._core = core
        self._counter = counter

    def Predict(
        self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> predict_pb2.PredictResponse:
        try:
            response = predict(self._core, request)
        except ServingError as exc:
            self._counter.record(request.model_spec.name, exc.code)
            return _abort(context, exc)
        self._counter.record(request.model_spec.name, Code.OK)
        return response

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            return model_metadata(
                self._core, spec_from_proto(request.model_spec), list(request.metadata_field)
            )
        except ServingError as exc:
            return _abort(context, exc)


def start_grpc_server(
    host: str, port: int, core: ServerCore, counter: RequestCounter
) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[
            ("grpc.max_receive_message_length", 2**31 - 1),
            ("grpc.max_send_message_length", 2**31 - 1),
            # A port already in use must fail the start, not be shared silently with another server.
            ("grpc.so_reuseport", 0),
        ],
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(core), server)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(core, counter), server
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise ServingError(
            Code.UNAVAILABLE, f"--port={port}: cannot listen on {host}:{port} (in use?); pick another --port"
        )
    server.start()
    return server, bound
