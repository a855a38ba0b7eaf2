"""The REST API on --rest_api_port (model_servers/http_server.cc, http_rest_api_handler.cc)."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .apis import SIGNATURE_DEF_FIELD, metadata_json, model_metadata, model_status, status_json
from .core import ModelSpec, ServerCore
from .errors import Code, ServingError, http_status
from .extra_protos import MonitoringConfig
from .json_tensor import inputs_from_json, outputs_to_json, parse_predict_body
from .metrics import RequestCounter

log = logging.getLogger(__name__)

# http_rest_api_util.cc kPredictionApiGegex / kModelStatusApiRegex, both case-insensitive.
_PREDICT = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.I
)
_STATUS = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.I
)
_API_PREFIX = re.compile(r"/v1/.*", re.I | re.S)


class RestApi:
    def __init__(self, core: ServerCore, counter: RequestCounter, monitoring: MonitoringConfig) -> None:
        self.core = core
        self.counter = counter
        self.monitoring = monitoring

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, str, str]:
        """Returns (http status, content type, body, model name for metrics)."""
        model_name = ""
        try:
            match = (
                (_PREDICT if method == "POST" else _STATUS).fullmatch(path)
                if method in ("GET", "POST")
                else None
            )
            if match is None:
                raise ServingError(Code.INVALID_ARGUMENT, f"Malformed request: {method} {path}")
            model_name = urllib.parse.unquote(match.group(1) or "")
            version_text, label = match.group(2), match.group(3)
            version = int(version_text) if version_text else None
            label = urllib.parse.unquote(label) if label else None
            if version is not None and label is not None:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Both model version ({version}) and model version label ({label}) cannot be supplied.",
                )
            spec = ModelSpec(name=model_name, version=version, label=label)
            if method == "POST":
                verb = match.group(4).lower()
                if verb != "predict":
                    raise ServingError(Code.UNIMPLEMENTED, f"{verb} is not implemented by this stand-in")
                output = self._predict(spec, body)
            else:
                if not model_name:
                    raise ServingError(Code.INVALID_ARGUMENT, "Missing model name in request.")
                if match.group(4):
                    output = metadata_json(model_metadata(self.core, spec, [SIGNATURE_DEF_FIELD]))
                else:
                    output = status_json(model_status(self.core, spec))
            code = Code.OK
        except ServingError as exc:
            code = exc.code
            # json_tensor.cc MakeJsonFromStatus: {"error": "<message>"}.
            output = json.dumps({"error": exc.message}, indent=4)
        except Exception as exc:  # a bug here must still answer, as a 500 with the error JSON
            log.exception("internal error serving %s %s", method, path)
            code = Code.INTERNAL
            output = json.dumps({"error": f"{type(exc).__name__}: {exc}"}, indent=4)
        self.counter.record(model_name, code)
        return http_status(code), "application/json", output, model_name

    def _predict(self, spec: ModelSpec, body: bytes) -> str:
        doc = parse_predict_body(body)
        signature_name = doc.get("signature_name") or ""
        with self.core.handle(spec) as handle:
            input_dtypes = handle.servable.input_dtypes(signature_name)
            inputs, row_format = inputs_from_json(doc, input_dtypes)
            _, outputs = handle.servable.predict(signature_name, inputs)
        return outputs_to_json(outputs, row_format)


def _make_handler(api: RestApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("rest: " + format, *args)

        def _reply(self, status: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():  # trailers, then the blank line
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self, method: str) -> None:
            body = self._read_body()
            path = urllib.parse.urlsplit(self.path).path
            monitoring = api.monitoring
            if monitoring.prometheus_enabled and path == monitoring.prometheus_path:
                self._reply(200, "text/plain", api.counter.render())
                return
            if not _API_PREFIX.fullmatch(path):
                # Not a /v1/ path: the real dispatcher ignores it and evhttp answers 404.
                self._reply(404, "text/html", "")
                return
            status, content_type, output, _ = api.handle(method, path, body)
            self._reply(status, content_type, output)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler


class RestServer:
    def __init__(self, host: str, port: int, api: RestApi) -> None:
        try:
            self._server = ThreadingHTTPServer((host, port), _make_handler(api))
        except OSError as exc:
            raise ServingError(
                Code.UNAVAILABLE,
                f"--rest_api_port={port}: cannot listen on {host}:{port} ({exc.strerror}); pick another port",
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="rest", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
