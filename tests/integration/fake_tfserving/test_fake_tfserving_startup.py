"""Start-up rules: what makes the server refuse to start, and when its ports open."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from .tfs_harness import MODEL, ServerProcess, config_text, copy_versions, model_entry

pytestmark = pytest.mark.tf


def _refused(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_labels_without_the_flag_fail_the_start(model_library: Path, tmp_path: Path) -> None:
    copy_versions(model_library, tmp_path / MODEL, [1])
    config = tmp_path / "models.config"
    config.write_text(config_text(model_entry(str(tmp_path / MODEL), [1], {"stable": 1})))
    server = ServerProcess(tmp_path, [f"--model_config_file={config}"])
    try:
        assert server.wait_exit() == 255
        assert (
            "Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to version 1 "
            f"of model {MODEL}, which is not currently available for inference"
        ) in server.log
        # The label check runs before any load, and no port ever opened.
        assert "Loading servable version" not in server.log
        assert _refused(server.rest_port) and _refused(server.grpc_port)
    finally:
        server.stop()


def test_newest_version_failing_to_load_fails_the_start(model_library: Path, tmp_path: Path) -> None:
    # Single-model mode, default policy latest{1}: version 2 is the one loaded at start-up.
    copy_versions(model_library, tmp_path / MODEL, [1, 2])
    server = ServerProcess(
        tmp_path,
        [
            f"--model_name={MODEL}",
            f"--model_base_path={tmp_path / MODEL}",
            f"--fail_load_versions={MODEL}:2",
            "--max_num_load_retries=0",
        ],
    )
    try:
        assert server.wait_exit() == 255
        # load_servables_fast.cc: "{" + ("{" + ServableId::DebugString() + error + "}, ")... + "}".
        servable = "{name: " + MODEL + " version: 2}"
        error = f"DATA_LOSS: Can't parse {tmp_path / MODEL}/2/saved_model.pb as binary proto"
        assert (
            "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
            "{{" + servable + " due to error: " + error + "}, }"
        ) in server.log
    finally:
        server.stop()


def test_broken_warmup_record_fails_the_load(model_library: Path, tmp_path: Path) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    copy_versions(model_library, tmp_path / MODEL, [1])
    request = predict_pb2.PredictRequest(model_spec={"name": MODEL})
    request.inputs["not_an_input"].CopyFrom(tf.make_tensor_proto([1.0]))
    record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    warmup = tmp_path / MODEL / "1" / "assets.extra" / "tf_serving_warmup_requests"
    warmup.parent.mkdir()
    with tf.io.TFRecordWriter(str(warmup)) as writer:
        writer.write(record.SerializeToString())
    server = ServerProcess(
        tmp_path,
        [f"--model_name={MODEL}", f"--model_base_path={tmp_path / MODEL}", "--max_num_load_retries=0"],
    )
    try:
        assert server.wait_exit() == 255
        assert (
            "due to error: INVALID_ARGUMENT: input tensor alias not found in signature: not_an_input. "
            "Inputs expected to be in the set {x}."
        ) in server.log
    finally:
        server.stop()


def test_host_outside_loopback_is_refused(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, ["--host=0.0.0.0", "--model_base_path=/nonexistent"])
    try:
        assert server.wait_exit() == 255
        assert "--host=0.0.0.0: this server binds loopback only" in server.log
    finally:
        server.stop()
