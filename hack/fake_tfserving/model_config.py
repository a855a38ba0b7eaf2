"""models.config: parsing and the validation ServerCore::ReloadConfig runs before applying it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from .errors import Code, ServingError

log = logging.getLogger(__name__)

# The generated proto classes carry no type stubs: annotate their instances as these aliases.
ServerConfigProto = Any  # tensorflow.serving.ModelServerConfig
ModelConfigProto = Any  # tensorflow.serving.ModelConfig


def read_config_file(path: str) -> ServerConfigProto:
    """Reads an ascii ModelServerConfig, like ParseProtoTextFile in server.cc."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ServingError(Code.NOT_FOUND, f"{path}; {exc.strerror}") from None
    return parse_config_text(text)


def parse_config_text(text: str) -> ServerConfigProto:
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise ServingError(Code.INVALID_ARGUMENT, f"Could not parse ModelServerConfig: {exc}") from None
    return config


def single_model_config(model_name: str, model_base_path: str) -> ServerConfigProto:
    """server.cc BuildSingleModelConfig: --model_name/--model_base_path without a config file."""
    log.info(
        "Building single TensorFlow model file config:  model_name: %s model_base_path: %s",
        model_name,
        model_base_path,
    )
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = model_base_path
    model.model_platform = "tensorflow"
    return config


def _is_relative(uri: str) -> bool:
    return "://" not in uri and not uri.startswith("/")


def platform_of(model: ModelConfigProto) -> str:
    """server_core.cc GetPlatform: model_platform (model_type is deprecated)."""
    if model.model_type:
        if model.model_platform:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                f"ModelServerConfig::model_platform, model name is {model.name}",
            )
        return "tensorflow"
    if not model.model_platform:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            f"ModelServerConfig::model_platform, model name is {model.name}",
        )
    return str(model.model_platform)


def validate_transition(old: ServerConfigProto | None, new: ServerConfigProto) -> None:
    """The checks of ServerCore::ReloadConfig that run before any label or model change."""
    if new.WhichOneof("config") == "custom_model_config":
        raise ServingError(
            Code.FAILED_PRECONDITION,
            "Cannot transition to requested config. It is only legal to transition from one "
            "ModelConfigList to another.",
        )
    # server_core.cc ValidateModelConfigList: unique names, absolute base paths.
    seen: set[str] = set()
    for model in new.model_config_list.config:
        if model.name in seen:
            raise ServingError(
                Code.INVALID_ARGUMENT, f"Illegal to list model {model.name} multiple times in config list"
            )
        seen.add(model.name)
    for model in new.model_config_list.config:
        if _is_relative(model.base_path):
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Expected model {model.name} to have an absolute path or URI; got base_path()="
                f"{model.base_path}",
            )
    # server_core.cc ValidateNoModelsChangePlatforms.
    if old is not None:
        old_platforms = {m.name: platform_of(m) for m in old.model_config_list.config}
        for model in new.model_config_list.config:
            if model.name in old_platforms:
                new_platform = platform_of(model)
                if new_platform != old_platforms[model.name]:
                    raise ServingError(
                        Code.INVALID_ARGUMENT,
                        f"Illegal to change a model's platform. For model {model.name} platform was "
                        f"{old_platforms[model.name]} and new platform requested is {new_platform}",
                    )
    for model in new.model_config_list.config:
        # CreateStoragePathRoutes: only the TensorFlow platform is registered by default.
        platform = platform_of(model)
        if platform != "tensorflow":
            raise ServingError(
                Code.INVALID_ARGUMENT, f"Model {model.name} requests unsupported platform {platform}"
            )
