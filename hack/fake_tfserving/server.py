"""Server::BuildAndStart: flags -> ServerCore -> first loads -> gRPC and REST ports."""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .core import CoreOptions, ServerCore
from .errors import Code, ServingError
from .extra_protos import read_batching_parameters, read_monitoring_config
from .flags import ServerOptions
from .grpc_api import start_grpc_server
from .manager import RetryPolicy
from .metrics import RequestCounter
from .model_config import read_config_file, single_model_config
from .rest import RestApi, RestServer
from .servable import LoadSettings
from .storage import Storage

log = logging.getLogger(__name__)


def _check_options(options: ServerOptions) -> None:
    if options.port == 0:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.",
        )
    if not options.model_base_path and not options.model_config_file:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "Both server_options.model_base_path and server_options.model_config_file are empty!",
        )
    if options.batching_parameters_file and not options.enable_batching:
        raise ServingError(
            Code.INVALID_ARGUMENT,
            "server_options.batching_parameters_file is set without setting server_options.enable_batching "
            "to true.",
        )


class Server:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self._stop = threading.Event()
        self._cleanup_dir: Path | None = None

    def _poll_config(self, path: str) -> None:
        """Server::PollFilesystemAndReloadConfig: failures are only logged."""
        interval = self.options.model_config_file_poll_wait_seconds
        while not self._stop.wait(interval):
            try:
                config = read_config_file(path)
            except ServingError as exc:
                log.error("Failed to read ModelServerConfig file: %s", exc.message)
                continue
            try:
                self.core.reload_config(config)
            except ServingError as exc:
                log.error("PollFilesystemAndReloadConfig failed to ReloadConfig: %s", exc.message)

    def build_and_start(self) -> None:
        options = self.options
        _check_options(options)
        if options.model_config_file:
            config = read_config_file(options.model_config_file)
        else:
            config = single_model_config(options.model_name, options.model_base_path)
        batching = (
            read_batching_parameters(options.batching_parameters_file) if options.enable_batching else None
        )
        if options.cache_dir:
            cache = Path(options.cache_dir)
            cache.mkdir(parents=True, exist_ok=True)
        else:
            cache = Path(tempfile.mkdtemp(prefix="fake_tfserving-"))
            self._cleanup_dir = cache
        self.core = ServerCore(
            CoreOptions(
                allow_version_labels_for_unavailable_models=options.allow_version_labels_for_unavailable_models,
                file_system_poll_wait_seconds=options.file_system_poll_wait_seconds,
                load_settings=LoadSettings(
                    enable_warmup=options.enable_model_warmup,
                    warmup_iterations=options.num_request_iterations_for_warmup,
                ),
                retry=RetryPolicy(
                    max_num_load_retries=max(options.max_num_load_retries, 0),
                    retry_interval_seconds=max(options.load_retry_interval_micros, 0) / 1e6,
                ),
                batching=batching,
                load_delay_seconds=options.load_delay_seconds,
                fail_load_versions=options.fail_load_versions,
            ),
            Storage(cache),
        )
        self.core.start()
        # ServerCore::Create applies the first config and waits for its models before any port opens.
        self.core.reload_config(config)
        if options.model_config_file and options.model_config_file_poll_wait_seconds > 0:
            threading.Thread(
                target=self._poll_config, args=(options.model_config_file,), name="config-poll", daemon=True
            ).start()
        counter = RequestCounter()
        self._grpc, grpc_port = start_grpc_server(options.host, options.port, self.core, counter)
        log.info("Running gRPC ModelServer at %s:%d ...", options.host, grpc_port)
        self._rest: RestServer | None = None
        if options.rest_api_port != 0:
            if options.rest_api_port == options.port:
                log.error(
                    "server_options.http_port cannot be same as grpc_port. Please use a different port for "
                    "HTTP/REST API. Skipped exporting HTTP/REST API."
                )
            else:
                monitoring = read_monitoring_config(options.monitoring_config_file)
                self._rest = RestServer(
                    options.host, options.rest_api_port, RestApi(self.core, counter, monitoring)
                )
                self._rest.start()
                log.info("Exporting HTTP/REST API at:%s:%d ...", options.host, self._rest.port)

    def wait_for_termination(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self._stop.wait()
        self.shutdown()

    def shutdown(self) -> None:
        self._stop.set()
        if getattr(self, "_rest", None) is not None:
            assert self._rest is not None
            self._rest.stop()
        if getattr(self, "_grpc", None) is not None:
            self._grpc.stop(grace=2).wait()
        if getattr(self, "core", None) is not None:
            self.core.stop()
        if self._cleanup_dir is not None:
            shutil.rmtree(self._cleanup_dir, ignore_errors=True)
