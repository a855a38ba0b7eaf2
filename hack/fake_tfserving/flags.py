"""Command-line flags, parsed the way tensorflow_model_server parses them (main.cc)."""

from __future__ import annotations

import dataclasses
import ipaddress
import logging

log = logging.getLogger(__name__)


class FlagError(ValueError):
    """A flag value that cannot be used; the message names the flag, the value and the fix."""


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    # Flags of the real server (defaults from server.h / main.cc, except rest_api_port: the
    # binary defaults to 0 but the tensorflow/serving image entrypoint passes 8501).
    port: int = 8500
    rest_api_port: int = 8501
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    allow_version_labels_for_unavailable_models: bool = False
    file_system_poll_wait_seconds: int = 1
    enable_batching: bool = False
    batching_parameters_file: str = ""
    monitoring_config_file: str = ""
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 0
    model_name: str = "default"
    model_base_path: str = ""
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60 * 1000 * 1000
    # Flags of this stand-in only.
    host: str = "127.0.0.1"
    load_delay_seconds: float = 0.0
    fail_load_versions: frozenset[tuple[str, int]] = frozenset()
    cache_dir: str = ""


# Real flags that change nothing a client of this stand-in can observe; accepted and logged.
IGNORED_REAL_FLAGS = frozenset(
    {
        "grpc_socket_path",
        "rest_api_num_threads",
        "rest_api_timeout_in_ms",
        "rest_api_enable_cors_support",
        "enable_per_model_batching_parameters",
        "num_load_threads",
        "num_unload_threads",
        "flush_filesystem_caches",
        "tensorflow_session_parallelism",
        "tensorflow_session_config_file",
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
        "use_alts_credentials",
        "ssl_config_file",
        "platform_config_file",
        "per_process_gpu_memory_fraction",
        "saved_model_tags",
        "grpc_channel_arguments",
        "grpc_max_threads",
        "version",
        "remove_unused_fields_from_bundle_metagraph",
        "prefer_tflite_model",
        "num_tflite_pools",
        "num_tflite_interpreters_per_pool",
        "enable_signature_method_name_check",
        "xla_cpu_compilation_enabled",
        "xla_gpu_compilation_enabled",
        "enable_profiler",
        "thread_pool_factory_config_file",
        "mixed_precision",
        "skip_initialize_tpu",
        "enable_grpc_healthcheck_service",
        "enable_serialization_as_tensor_content",
    }
)

_BOOL_FLAGS = frozenset(f.name for f in dataclasses.fields(ServerOptions) if f.type in ("bool", bool))
_INT_FLAGS = frozenset(f.name for f in dataclasses.fields(ServerOptions) if f.type in ("int", int))
_STR_FLAGS = frozenset(f.name for f in dataclasses.fields(ServerOptions) if f.type in ("str", str))


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise FlagError(f"--{name}={value}: expected true or false")


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FlagError(f"--{name}={value}: expected an integer") from None


def _parse_fail_load_versions(value: str) -> frozenset[tuple[str, int]]:
    pairs: set[tuple[str, int]] = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        model, sep, version = item.rpartition(":")
        if not sep or not model or not version.isdigit():
            raise FlagError(
                f"--fail_load_versions={value}: item {item!r} must be MODEL:VERSION, e.g. resnet:3"
            )
        pairs.add((model, int(version)))
    return frozenset(pairs)


def _check_host(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise FlagError(f"--host={value}: expected an IPv4 address in 127.0.0.0/8") from None
    if address.version != 4 or address not in ipaddress.ip_network("127.0.0.0/8"):
        raise FlagError(f"--host={value}: this server binds loopback only; use an address in 127.0.0.0/8")
    return value


USAGE = """usage: python -m fake_tfserving [--flag=value ...]

Flags of tensorflow_model_server that take effect here:
  --port=8500                       gRPC port (ModelService, PredictionService)
  --rest_api_port=8501              REST port; 0 disables REST
  --model_config_file=PATH          ModelServerConfig text proto (models.config)
  --model_config_file_poll_wait_seconds=0   re-read the config file every N seconds (0: never)
  --allow_version_labels_for_unavailable_models=false
  --file_system_poll_wait_seconds=1 look for new versions every N seconds (0: only on config change)
  --model_name=default --model_base_path=PATH   single-model mode (without --model_config_file)
  --enable_batching --batching_parameters_file=PATH   parsed and checked at each load
  --monitoring_config_file=PATH     MonitoringConfig text proto (Prometheus on the REST port)
  --enable_model_warmup=true --num_request_iterations_for_warmup=0
  --max_num_load_retries=5 --load_retry_interval_micros=60000000
Flags of this stand-in only:
  --host=127.0.0.1                  bind address, must be in 127.0.0.0/8
  --load_delay_seconds=0            sleep this long in every version load (LOADING stays visible)
  --fail_load_versions=MODEL:V,...  these versions fail to load, like a corrupt SavedModel
  --cache_dir=PATH                  where gs:// versions are downloaded (default: a temp dir)
Other flags of the real server are accepted and ignored.
"""


def parse_args(argv: list[str]) -> ServerOptions:
    """Parses `--name=value` / bare `--bool_name` flags like tensorflow::Flags::Parse."""
    values: dict[str, object] = {}
    for arg in argv:
        if not arg.startswith("--"):
            # main.cc prints "unknown argument" for leftovers and goes on.
            log.warning("unknown argument: %s", arg)
            continue
        name, has_value, raw = arg[2:].partition("=")
        if name in _BOOL_FLAGS:
            values[name] = _parse_bool(name, raw) if has_value else True
        elif not has_value and (name in _INT_FLAGS or name in _STR_FLAGS or name == "load_delay_seconds"):
            raise FlagError(f"--{name}: needs a value, written --{name}=VALUE")
        elif name in _INT_FLAGS:
            values[name] = _parse_int(name, raw)
        elif name in _STR_FLAGS:
            values[name] = raw
        elif name == "load_delay_seconds":
            try:
                delay = float(raw)
            except ValueError:
                raise FlagError(f"--load_delay_seconds={raw}: expected a number of seconds") from None
            if delay < 0:
                raise FlagError(f"--load_delay_seconds={raw}: must be >= 0")
            values[name] = delay
        elif name == "fail_load_versions":
            values[name] = _parse_fail_load_versions(raw)
        elif name in IGNORED_REAL_FLAGS:
            log.info("flag --%s is accepted for compatibility and has no effect here", name)
        else:
            log.warning("unknown argument: %s", arg)
    options = ServerOptions(**values)  # type: ignore[arg-type]
    _check_host(options.host)
    return options
