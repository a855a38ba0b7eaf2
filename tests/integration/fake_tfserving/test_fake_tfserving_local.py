"""A server over a local model directory: status, metadata, predict, labels via config polling."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from .tfs_harness import MODEL, ServerProcess, config_text, copy_versions, model_entry

pytestmark = pytest.mark.tf


@dataclasses.dataclass
class LocalServer:
    process: ServerProcess
    config_path: Path
    base_path: str


@pytest.fixture(scope="module")
def local_setup(model_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """Versions 1 and 2 served; labels arrive later through --model_config_file polling.

    Started without --allow_version_labels_for_unavailable_models: labels on AVAILABLE versions
    are fine without the flag.
    """
    work = tmp_path_factory.mktemp("local")
    copy_versions(model_library, work / "models" / MODEL, [1, 2, 3])
    config = work / "models.config"
    base = str(work / "models" / MODEL)
    config.write_text(config_text(model_entry(base, [1, 2])))
    monitoring = work / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
    server = ServerProcess(
        work,
        [
            f"--model_config_file={config}",
            "--model_config_file_poll_wait_seconds=1",
            f"--monitoring_config_file={monitoring}",
        ],
    )
    try:
        server.wait_ready()
        config.write_text(config_text(model_entry(base, [1, 2], {"stable": 1, "canary": 2})))
        deadline = time.monotonic() + 30
        while (
            server.post(f"/v1/models/{MODEL}/labels/stable:predict", {"instances": [0.0]}).status_code != 200
        ):
            assert time.monotonic() < deadline, f"labels never applied by config polling\n{server.log}"
            time.sleep(0.2)
        yield LocalServer(server, config, base)
    finally:
        server.stop()


@pytest.fixture
def local_server(local_setup: LocalServer) -> ServerProcess:
    return local_setup.process


def test_status_lists_versions_newest_first_with_version_as_string(local_server: ServerProcess) -> None:
    response = local_server.get(f"/v1/models/{MODEL}")
    assert response.status_code == 200
    ok = {"error_code": "OK", "error_message": ""}
    assert response.json() == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": ok},
            {"version": "1", "state": "AVAILABLE", "status": ok},
        ]
    }
    one = local_server.get(f"/v1/models/{MODEL}/versions/1").json()
    assert one == {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": ok}]}


def test_status_errors_are_404_with_error_json(local_server: ServerProcess) -> None:
    missing_model = local_server.get("/v1/models/nosuchmodel")
    assert missing_model.status_code == 404
    assert missing_model.json() == {"error": "Could not find any versions of model nosuchmodel"}
    missing_version = local_server.get(f"/v1/models/{MODEL}/versions/9")
    assert missing_version.status_code == 404
    assert missing_version.json() == {"error": f"Could not find version 9 of model {MODEL}"}


def test_status_by_label_ignores_the_label_like_the_real_server(local_server: ServerProcess) -> None:
    # get_model_status_impl.cc reads only name and version: a label, even an unknown one, is ignored.
    response = local_server.get(f"/v1/models/{MODEL}/labels/nosuchlabel")
    assert response.status_code == 200
    assert [e["version"] for e in response.json()["model_version_status"]] == ["2", "1"]


def test_predict_by_version_label_and_latest(local_server: ServerProcess) -> None:
    def answer(path: str) -> Any:
        response = local_server.post(path, {"instances": [10.0, 20.0]})
        assert response.status_code == 200, response.text
        return response.json()

    assert answer(f"/v1/models/{MODEL}/versions/1:predict") == {
        "predictions": [{"version": 1, "y": 11.0}, {"version": 1, "y": 21.0}]
    }
    assert answer(f"/v1/models/{MODEL}/labels/stable:predict")["predictions"][0]["version"] == 1
    assert answer(f"/v1/models/{MODEL}/labels/canary:predict")["predictions"][0]["version"] == 2
    assert answer(f"/v1/models/{MODEL}:predict")["predictions"][0]["version"] == 2


def test_predict_columnar_inputs_give_outputs(local_server: ServerProcess) -> None:
    response = local_server.post(f"/v1/models/{MODEL}/versions/2:predict", {"inputs": {"x": [1.5]}})
    assert response.status_code == 200
    assert response.json() == {"outputs": {"version": [2], "y": [3.5]}}
    # float32 outputs are written as the real server writes them: 1.1, not 1.100000023841858.
    text = local_server.post(f"/v1/models/{MODEL}/versions/1:predict", {"instances": [0.1]}).text
    assert "1.1" in text and "1.100000" not in text, text


def test_predict_binary_strings_round_trip_as_b64(local_server: ServerProcess) -> None:
    payload = base64.b64encode(b"\x00\xffraw").decode()
    response = local_server.post(
        f"/v1/models/{MODEL}:predict", {"signature_name": "echo", "instances": [{"b64": payload}]}
    )
    assert response.status_code == 200, response.text
    # Outputs whose alias ends in _bytes come back base64-encoded (json_tensor.cc).
    assert response.json() == {"predictions": [{"b64": payload}]}


def test_predict_errors_carry_the_real_texts(local_server: ServerProcess) -> None:
    label = local_server.post(f"/v1/models/{MODEL}/labels/nosuchlabel:predict", {"instances": [1.0]})
    assert label.status_code == 400
    assert label.json() == {"error": "Unrecognized servable version label: nosuchlabel"}
    version = local_server.post(f"/v1/models/{MODEL}/versions/3:predict", {"instances": [1.0]})
    assert version.status_code == 404
    assert version.json() == {"error": f"Servable not found for request: Specific({MODEL}, 3)"}
    signature = local_server.post(
        f"/v1/models/{MODEL}:predict", {"signature_name": "nope", "instances": [1.0]}
    )
    assert signature.status_code == 400
    assert signature.json() == {"error": 'Serving signature name: "nope" not found in signature def'}
    wrong_type = local_server.post(f"/v1/models/{MODEL}:predict", {"instances": ["a"]})
    assert wrong_type.status_code == 400
    assert "is not of expected type: float" in wrong_type.json()["error"]


def test_metadata_by_label_shows_the_signatures(local_server: ServerProcess) -> None:
    response = local_server.get(f"/v1/models/{MODEL}/labels/stable/metadata")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_spec"] == {"name": MODEL, "version": "1", "signature_name": ""}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "echo", "slow"} <= set(signatures)
    assert signatures["serving_default"]["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert signatures["serving_default"]["method_name"] == "tensorflow/serving/predict"


def test_grpc_status_and_predict(local_server: ServerProcess) -> None:
    from tensorflow_serving.apis import (
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    status = model_service_pb2_grpc.ModelServiceStub(local_server.channel).GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec={"name": MODEL}), timeout=30
    )
    assert [
        (s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state))
        for s in status.model_version_status
    ] == [
        (2, "AVAILABLE"),
        (1, "AVAILABLE"),
    ]
    stub = prediction_service_pb2_grpc.PredictionServiceStub(local_server.channel)
    request = predict_pb2.PredictRequest(model_spec={"name": MODEL, "version_label": "stable"})
    request.inputs["x"].dtype = 1  # DT_FLOAT
    request.inputs["x"].tensor_shape.dim.add(size=1)
    request.inputs["x"].float_val.append(5.0)
    reply = stub.Predict(request, timeout=30)
    assert reply.model_spec.version.value == 1
    assert reply.model_spec.signature_name == "serving_default"
    assert list(reply.outputs["y"].float_val) == [6.0]
    assert list(reply.outputs["version"].int64_val) == [1]
    request.model_spec.version_label = "nosuchlabel"
    with pytest.raises(grpc.RpcError) as failure:
        stub.Predict(request, timeout=30)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.details() == "Unrecognized servable version label: nosuchlabel"


def test_prometheus_request_count(local_server: ServerProcess) -> None:
    local_server.post(f"/v1/models/{MODEL}/versions/9:predict", {"instances": [1.0]})
    text = local_server.get("/monitoring/prometheus/metrics").text
    assert "# TYPE :tensorflow:serving:request_count counter" in text
    lines = {
        line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(":")
    }
    assert lines[f':tensorflow:serving:request_count{{model_name="{MODEL}",status="OK"}}'] >= 1
    assert lines[f':tensorflow:serving:request_count{{model_name="{MODEL}",status="NOT_FOUND"}}'] >= 1


def test_polled_config_failures_are_only_logged(local_setup: LocalServer) -> None:
    local_server, config, base = local_setup.process, local_setup.config_path, local_setup.base_path
    good = config.read_text()
    try:
        # Without the flag a label may point only at an AVAILABLE version (3 is not loaded).
        config.write_text(config_text(model_entry(base, [1, 2], {"stable": 1, "canary": 2, "next": 3})))
        expected = (
            "PollFilesystemAndReloadConfig failed to ReloadConfig: Request to assign label to version 3 of "
            f"model {MODEL}, which is not currently available for inference"
        )
        _wait_for_log(local_server, expected)
        config.write_text(config_text(model_entry(base, [1]), model_entry(base, [2])))
        _wait_for_log(local_server, f"Illegal to list model {MODEL} multiple times in config list")
    finally:
        config.write_text(good)
    # Nothing of the rejected configs was applied.
    assert set(local_server.states()) == {1, 2}
    missing = local_server.post(f"/v1/models/{MODEL}/labels/next:predict", {"instances": [1.0]})
    assert missing.json() == {"error": "Unrecognized servable version label: next"}


def _wait_for_log(server: ServerProcess, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log:
        assert time.monotonic() < deadline, f"log never showed {text!r}:\n{server.log}"
        time.sleep(0.2)
