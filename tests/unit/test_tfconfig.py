"""models.config and friends: golden files, each also parsed with TF Serving's own protos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfserving_operator.spec import Batching
from tfserving_operator.stage import Stage
from tfserving_operator.tfconfig import render_batching_config, render_models_config, render_monitoring_config

from .helpers import servedmodel

GOLDEN = Path(__file__).parent / "golden"
STAGES = {
    "stable-only": Stage(frozenset({1}), {"stable": 1}),
    "canary-loading": Stage(frozenset({1, 2}), {"stable": 1}),
    "canary-live": Stage(frozenset({1, 2}), {"stable": 1, "canary": 2}),
    "no-labels": Stage(frozenset({7}), {}),
}


def _golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    return path.read_text()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_models_config_matches_golden_and_parses_as_model_server_config(name: str) -> None:
    stage = STAGES[name]
    text = render_models_config(servedmodel().spec, stage)
    assert text == _golden(f"models-{name}.config", text)

    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert model.name == "vit"
    assert model.base_path == "gs://acme-models/vit"
    assert model.model_platform == "tensorflow"
    assert sorted(model.model_version_policy.specific.versions) == sorted(stage.versions)
    assert dict(model.version_labels) == dict(stage.labels)


def test_model_names_with_quotes_are_escaped() -> None:
    spec = servedmodel(modelName="odd.name-1").spec
    text = render_models_config(spec, Stage(frozenset({1}), {}))
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    assert config.model_config_list.config[0].name == "odd.name-1"


def test_batching_parameters_parse_with_allowed_sizes_sorted(tmp_path: Path) -> None:
    # The wheel lacks BatchingParameters and MonitoringConfig; the TF Serving stand-in carries
    # their layouts (field names and numbers) and rejects unknown fields like the real parser.
    from fake_tfserving.extra_protos import check_batching_for_load, read_batching_parameters

    text = render_batching_config(
        Batching(
            max_batch_size=32,
            batch_timeout_micros=2000,
            num_batch_threads=4,
            allowed_batch_sizes=(32, 8, 16),
            max_enqueued_batches=100,
            pad_variable_length_inputs=True,
        )
    )
    assert text == _golden("batching.config", text)
    path = tmp_path / "batching.config"
    path.write_text(text)
    params = read_batching_parameters(str(path))
    assert params.max_batch_size == 32
    assert params.batch_timeout_micros == 2000
    # TF Serving requires increasing sizes ending with max_batch_size.
    assert params.allowed_batch_sizes == (8, 16, 32)
    assert params.pad_variable_length_inputs
    check_batching_for_load(params)


def test_monitoring_config_enables_prometheus(tmp_path: Path) -> None:
    from fake_tfserving.extra_protos import read_monitoring_config

    path = tmp_path / "monitoring.config"
    path.write_text(render_monitoring_config())
    config = read_monitoring_config(str(path))
    assert config.prometheus_enabled
    assert config.prometheus_path == "/monitoring/prometheus/metrics"
