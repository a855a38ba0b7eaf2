"""A canary rollout against a server reading gs:// (the GCS emulator), driven over gRPC.

The steps run in file order on one server: each test starts from the state the previous left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from .tfs_harness import MODEL, FakeGcs, ServerProcess, config_text, model_entry

pytestmark = pytest.mark.tf

BUCKET = "models"
BASE = f"gs://{BUCKET}/{MODEL}"
LOAD_DELAY = 2.0


@pytest.fixture(scope="module")
def gcs_server(
    model_library: Path, fake_gcs: FakeGcs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    fake_gcs.create_bucket(BUCKET)
    for version in (1, 2, 3, 4):
        fake_gcs.upload_dir(model_library / str(version), BUCKET, f"{MODEL}/{version}")
    work = tmp_path_factory.mktemp("gcs-rollout")
    config = work / "models.config"
    config.write_text(config_text(model_entry(BASE, [1], {"stable": 1})))
    server = ServerProcess(
        work,
        [
            f"--model_config_file={config}",
            "--allow_version_labels_for_unavailable_models=true",
            "--file_system_poll_wait_seconds=1",
            f"--load_delay_seconds={LOAD_DELAY}",
            f"--fail_load_versions={MODEL}:4",
            "--max_num_load_retries=0",
            f"--cache_dir={work / 'cache'}",
        ],
        env=fake_gcs.env,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def reload(server: ServerProcess, *models: str) -> Any:
    from google.protobuf import text_format
    from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
    from tensorflow_serving.config import model_server_config_pb2

    config = text_format.Parse(config_text(*models), model_server_config_pb2.ModelServerConfig())
    stub = model_service_pb2_grpc.ModelServiceStub(server.channel)
    return stub.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(config=config), timeout=60)


def reload_error(server: ServerProcess, *models: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as failure:
        reload(server, *models)
    return failure.value.code(), failure.value.details()


def version_answering(server: ServerProcess, path: str) -> int:
    response = server.post(f"/v1/models/{MODEL}{path}:predict", {"instances": [0.0]})
    assert response.status_code == 200, response.text
    return int(response.json()["predictions"][0]["version"])


def not_available(version: int) -> str:
    return (
        f"Request to assign label to version {version} of model {MODEL}, which is not currently available "
        "for inference"
    )


def test_start_with_flag_and_label_serves_from_gcs(gcs_server: ServerProcess) -> None:
    assert gcs_server.states() == {1: ("AVAILABLE", "OK", "")}
    assert version_answering(gcs_server, "/labels/stable") == 1


def test_new_version_reload_returns_before_it_loads(gcs_server: ServerProcess) -> None:
    started = time.monotonic()
    reply = reload(gcs_server, model_entry(BASE, [1, 2], {"stable": 1}))
    assert reply.status.error_code == 0
    assert time.monotonic() - started < LOAD_DELAY
    assert gcs_server.states()[2][0] in ("START", "LOADING")
    gcs_server.wait_state(2, "LOADING")

    # While 2 is LOADING: an existing label may not move to it, even with the flag ...
    code, message = reload_error(gcs_server, model_entry(BASE, [1, 2], {"stable": 2}))
    assert (code, message) == (grpc.StatusCode.FAILED_PRECONDITION, not_available(2))
    # ... but a new label may point at it, and resolves to "not found" until it loads.
    reload(gcs_server, model_entry(BASE, [1, 2], {"stable": 1, "canary": 2}))
    early = gcs_server.post(f"/v1/models/{MODEL}/labels/canary:predict", {"instances": [0.0]})
    if gcs_server.states()[2][0] != "AVAILABLE":
        assert early.status_code == 404
        assert early.json() == {"error": f"Servable not found for request: Specific({MODEL}, 2)"}

    gcs_server.wait_state(2, "AVAILABLE")
    assert version_answering(gcs_server, "/labels/canary") == 2
    assert version_answering(gcs_server, "/labels/stable") == 1


def test_adding_a_version_and_labelling_it_in_one_config_is_rejected_whole(gcs_server: ServerProcess) -> None:
    code, message = reload_error(gcs_server, model_entry(BASE, [1, 2, 3], {"stable": 3, "canary": 2}))
    assert (code, message) == (grpc.StatusCode.FAILED_PRECONDITION, not_available(3))
    time.sleep(2.5)  # more than two storage polls: version 3 must not be picked up
    assert set(gcs_server.states()) == {1, 2}
    assert version_answering(gcs_server, "/labels/stable") == 1


def test_failed_load_ends_in_end_with_the_error(gcs_server: ServerProcess) -> None:
    reload(gcs_server, model_entry(BASE, [1, 2, 4], {"stable": 1, "canary": 2}))
    gcs_server.wait_state(4, "END")
    assert gcs_server.states()[4] == (
        "END",
        "DATA_LOSS",
        f"Can't parse {BASE}/4/saved_model.pb as binary proto",
    )
    assert gcs_server.states()[1][0] == gcs_server.states()[2][0] == "AVAILABLE"
    code_, message_ = reload_error(gcs_server, model_entry(BASE, [1, 2, 4], {"stable": 1, "canary": 4}))
    assert (code_, message_) == (grpc.StatusCode.FAILED_PRECONDITION, not_available(4))


def test_promote_then_unload_lets_in_flight_requests_finish(gcs_server: ServerProcess) -> None:
    reload(gcs_server, model_entry(BASE, [1, 2], {"stable": 2, "canary": 2}))
    assert version_answering(gcs_server, "/labels/stable") == 2

    result: dict[str, requests.Response] = {}

    def slow_request() -> None:
        result["response"] = gcs_server.post(
            f"/v1/models/{MODEL}/versions/1:predict",
            {"signature_name": "slow", "inputs": {"x": [0.0], "n": 6000}},
        )

    worker = threading.Thread(target=slow_request)
    worker.start()
    time.sleep(0.5)
    reload(gcs_server, model_entry(BASE, [2], {"stable": 2, "canary": 2}))
    assert worker.is_alive(), "the slow request finished before the unload was requested"
    gcs_server.wait_state(1, "UNLOADING", timeout=10)  # held there while the request runs
    worker.join(timeout=60)
    response = result["response"]
    assert response.status_code == 200, response.text
    assert response.json() == {"outputs": [1.0]}
    gcs_server.wait_state(1, "END")
    gone = gcs_server.post(f"/v1/models/{MODEL}/versions/1:predict", {"instances": [0.0]})
    assert gone.status_code == 404


def test_listing_a_model_twice_is_rejected(gcs_server: ServerProcess) -> None:
    code, message = reload_error(gcs_server, model_entry(BASE, [2]), model_entry(BASE, [2]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message == f"Illegal to list model {MODEL} multiple times in config list"
    assert version_answering(gcs_server, "/labels/stable") == 2


def test_latest_policy_loads_a_new_version_before_unloading_the_old(
    gcs_server: ServerProcess, fake_gcs: FakeGcs, model_library: Path
) -> None:
    fake_gcs.upload_dir(model_library / "1", BUCKET, "other/1")
    other = model_entry(f"gs://{BUCKET}/other", None, name="other")
    # A new model: the reload waits until it is AVAILABLE. `counter` is left out, so it unloads.
    reply = reload(gcs_server, other)
    assert reply.status.error_code == 0
    assert gcs_server.states("other") == {1: ("AVAILABLE", "OK", "")}

    fake_gcs.upload_dir(model_library / "3", BUCKET, "other/3")  # found by the storage poll
    gcs_server.wait_state(3, "LOADING", model="other")
    assert gcs_server.states("other")[1][0] == "AVAILABLE"
    answer = gcs_server.post("/v1/models/other:predict", {"instances": [0.0]})
    assert answer.json()["predictions"][0]["version"] == 1
    gcs_server.wait_state(1, "END", model="other")
    assert gcs_server.states("other")[3][0] == "AVAILABLE"
    answer = gcs_server.post("/v1/models/other:predict", {"instances": [0.0]})
    assert answer.json()["predictions"][0]["version"] == 3

    # The status monitor keeps what it saw: the removed model still answers, with END versions.
    gcs_server.wait_state(2, "END")
    assert {v: s[0] for v, s in gcs_server.states().items()} == {1: "END", 2: "END", 4: "END"}
