"""Each source kind and each preset, checked by calling the SAVED signatures after a reload."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exporter_job.manifest import VerifiedVersion, verify_version

from .conftest import Gcs, Models, download_version

pytestmark = pytest.mark.tf


def _png(rgb: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    import tensorflow as tf

    pixels = np.zeros((*size, 3), np.uint8) + np.array(rgb, np.uint8)
    return bytes(tf.io.encode_png(pixels).numpy())


def _jpeg(rgb: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    import tensorflow as tf

    pixels = np.zeros((*size, 3), np.uint8) + np.array(rgb, np.uint8)
    return bytes(tf.io.encode_jpeg(pixels, quality=100).numpy())


def _load(path: Path) -> Any:
    import tensorflow as tf

    return tf.saved_model.load(str(path))


def _strings(tensor: Any) -> list[str]:
    return [s.decode() for s in np.asarray(tensor).reshape(-1)]


def test_image_classifier_from_gcs_keras_file(
    gcs: Gcs, models: Models, run_export: Any, tmp_path: Path
) -> None:
    import tensorflow as tf

    bucket = gcs.bucket("img-models")
    bucket.blob("src/image.keras").upload_from_filename(str(models.image_keras))
    bucket.blob("src/labels.txt").upload_from_filename(str(models.labels))
    result = run_export(
        "--source", "gs://img-models/src/image.keras",
        "--output", "gs://img-models/serving/flowers",
        "--version", "1",
        "--preset", "image-classifier",
        "--labels", "gs://img-models/src/labels.txt",
        "--top-k", "2",
    )  # fmt: skip
    assert result.code == 0, result.message
    assert "published gs://img-models/serving/flowers/1" in result.message
    assert isinstance(verify_version("gs://img-models/serving/flowers/1"), VerifiedVersion)

    local = download_version(gcs, "img-models", "serving/flowers/1", tmp_path / "v1")
    loaded = _load(local)
    assert {"serving_default", "image_classifier"} <= set(loaded.signatures)
    sig = loaded.signatures["serving_default"]
    assert set(sig.structured_input_signature[1]) == {"image_bytes"}

    images = tf.constant([_png((250, 10, 10)), _png((10, 240, 10)), _jpeg((5, 5, 250), (20, 30))])
    out = sig(image_bytes=images)
    assert _strings(out["label"]) == ["red-ish", "green-ish", "blue-ish"]
    assert np.asarray(out["top_k_labels"]).shape == (3, 2)
    assert [row[0].decode() for row in np.asarray(out["top_k_labels"])] == _strings(out["label"])

    # The same numbers the Keras model gives on the same pixels, preprocessed by hand.
    import keras

    model = keras.models.load_model(models.image_keras)
    red = np.zeros((1, 8, 8, 3), np.float32) + np.array([250, 10, 10], np.float32) / 255.0
    expected = model.predict(red, verbose=0)[0]
    np.testing.assert_allclose(np.asarray(out["confidence"])[0], expected.max(), rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(out["top_k_confidences"])[0], np.sort(expected)[::-1][:2], rtol=1e-5
    )

    # The vocabulary travels as an asset file read by a lookup table, not as a graph constant.
    assert (local / "assets" / "labels.txt").read_text().split() == ["red-ish", "green-ish", "blue-ish"]
    assert b"green-ish" not in (local / "saved_model.pb").read_bytes()


def test_image_classifier_bgr_mean_std_and_logits(models: Models, run_export: Any, tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    out_dir = tmp_path / "out"
    result = run_export(
        "--source", str(models.image_keras),
        "--output", str(out_dir),
        "--version", "3",
        "--preset", "image-classifier",
        "--channel-order", "BGR",
        "--mean", "0.5,0.4,0.3",
        "--std", "0.2,0.25,0.5",
        "--logits",
        "--top-k", "9",
    )  # fmt: skip
    assert result.code == 0, result.message
    sig = _load(out_dir / "3").signatures["serving_default"]
    out = sig(image_bytes=tf.constant([_png((250, 10, 10))]))

    # BGR: the model sees the red picture in its last channel; labels default to class indices.
    model = keras.models.load_model(models.image_keras)
    pixels = (np.array([10, 10, 250], np.float32) / 255.0 - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.5]
    probs = model.predict(np.zeros((1, 8, 8, 3), np.float32) + pixels.astype(np.float32), verbose=0)[0]
    expected = np.exp(probs) / np.exp(probs).sum()  # --logits: softmax over the model's outputs
    assert _strings(out["label"]) == [str(int(np.argmax(expected)))]
    assert np.asarray(out["top_k_labels"]).shape == (1, 3)  # top-k is capped at the number of classes
    np.testing.assert_allclose(np.asarray(out["top_k_confidences"])[0], np.sort(expected)[::-1], rtol=1e-5)


def test_warmup_records_read_back_from_samples(models: Models, run_export: Any, tmp_path: Path) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    red, blue = _png((250, 0, 0)), _png((0, 0, 250))
    samples = tmp_path / "samples.json"

    def b64(data: bytes) -> dict[str, str]:
        return {"b64": base64.b64encode(data).decode()}

    requests = [
        {"instances": [b64(red), b64(blue)]},  # the default signature, a single input: bare values
        {"signature_name": "image_classifier", "instances": [{"image_bytes": b64(red)}]},
    ]
    samples.write_text(json.dumps(requests))
    out_dir = tmp_path / "out"
    result = run_export(
        "--source", str(models.image_keras), "--output", str(out_dir), "--version", "1",
        "--preset", "image-classifier", "--preset", "passthrough", "--labels", str(models.labels),
        "--samples", str(samples),
    )  # fmt: skip
    assert result.code == 0, result.message
    version = out_dir / "1"
    records = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(str(version / "assets.extra" / "tf_serving_warmup_requests"))
    ]
    # Two requests from the file, one synthesised for the passthrough signature that had no sample.
    assert [r.predict_log.request.model_spec.signature_name for r in records] == [
        "serving_default",
        "image_classifier",
        "passthrough",
    ]
    first = records[0].predict_log.request.inputs["image_bytes"]
    assert list(tf.make_ndarray(first)) == [red, blue]
    passthrough = tf.make_ndarray(records[2].predict_log.request.inputs["image"])
    assert passthrough.shape == (2, 8, 8, 3)

    # Every record replays against the published SavedModel, as TF Serving does at load time.
    loaded = _load(version)
    for record in records:
        request = record.predict_log.request
        feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**feed)
        assert outputs
    manifest = json.loads((version / "export-manifest.json").read_text())
    assert manifest["warmup_records"] == 3
    assert manifest["signatures"]["passthrough"]["inputs"]["image"] == {
        "dtype": "float32",
        "shape": [None, 8, 8, 3],
    }


def test_tf_example_from_keras_with_derived_feature_spec(
    models: Models, run_export: Any, tmp_path: Path
) -> None:
    import keras
    import tensorflow as tf

    out_dir = tmp_path / "out"
    args = ["--source", str(models.tabular_keras), "--output", str(out_dir), "--version", "1"]
    result = run_export(*args, "--preset", "tf-example")
    assert result.code == 0, result.message
    sig = _load(out_dir / "1").signatures["serving_default"]
    assert set(sig.structured_input_signature[1]) == {"examples"}

    a = np.array([[1, 2, 3, 4], [0, 0, 1, 0]], np.float32)
    b = np.array([[0.5, -1], [2, 2]], np.float32)
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    "a": tf.train.Feature(float_list=tf.train.FloatList(value=a[i])),
                    "b": tf.train.Feature(float_list=tf.train.FloatList(value=b[i])),
                }
            )
        ).SerializeToString()
        for i in range(2)
    ]
    out = sig(examples=tf.constant(examples))
    expected = keras.models.load_model(models.tabular_keras).predict([a, b], verbose=0)
    np.testing.assert_allclose(np.asarray(out["out"]), expected, rtol=1e-5)


def test_tf_example_feature_spec_with_defaults_from_h5(
    models: Models, run_export: Any, tmp_path: Path
) -> None:
    import keras
    import tensorflow as tf

    spec = {
        "a": {"dtype": "float32", "shape": [4]},
        "b": {"dtype": "float32", "shape": [2], "default": [1.0, 1.0]},
    }
    out_dir = tmp_path / "out"
    result = run_export(
        "--source", str(models.tabular_h5), "--output", str(out_dir), "--version", "2",
        "--preset", "tf-example", "--preset", "passthrough", "--feature-spec", json.dumps(spec),
    )  # fmt: skip
    assert result.code == 0, result.message
    loaded = _load(out_dir / "2")
    assert set(loaded.signatures) == {"serving_default", "tf_example", "passthrough"}
    only_a = tf.train.Example(
        features=tf.train.Features(
            feature={"a": tf.train.Feature(float_list=tf.train.FloatList(value=[1, 1, 1, 1]))}
        )
    ).SerializeToString()
    out = loaded.signatures["tf_example"](examples=tf.constant([only_a]))
    model = keras.models.load_model(models.tabular_h5, compile=False)
    expected = model.predict([np.ones((1, 4), np.float32), np.ones((1, 2), np.float32)], verbose=0)
    np.testing.assert_allclose(np.asarray(out["out"]), expected, rtol=1e-5)
    direct = loaded.signatures["passthrough"](a=tf.ones((1, 4)), b=tf.ones((1, 2)))
    np.testing.assert_allclose(np.asarray(direct["out"]), expected, rtol=1e-5)


def test_savedmodel_source_from_gcs_is_resigned(
    gcs: Gcs, models: Models, run_export: Any, tmp_path: Path
) -> None:
    import tensorflow as tf

    bucket = gcs.bucket("sm-src")
    for file in models.savedmodel.rglob("*"):
        if file.is_file():
            bucket.blob(f"exported/{file.relative_to(models.savedmodel).as_posix()}").upload_from_filename(
                str(file)
            )
    out_dir = tmp_path / "out"
    result = run_export(
        "--source", "gs://sm-src/exported", "--source-signature", "predict",
        "--output", str(out_dir), "--version", "1", "--preset", "passthrough", "--preset", "tf-example",
    )  # fmt: skip
    assert result.code == 0, result.message
    loaded = _load(out_dir / "1")
    assert set(loaded.signatures) == {"serving_default", "passthrough", "tf_example"}
    out = loaded.signatures["serving_default"](x=tf.constant([[1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(np.asarray(out["y"]), [[6.0, 8.0]])
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=[0, 1, 0]))}
        )
    ).SerializeToString()
    np.testing.assert_allclose(
        np.asarray(loaded.signatures["tf_example"](examples=[example])["y"]), [[3.0, 4.0]]
    )


def test_graphdef_is_pruned_to_the_named_tensors(models: Models, run_export: Any, tmp_path: Path) -> None:
    import tensorflow as tf

    out_dir = tmp_path / "out"
    result = run_export(
        "--source", str(models.graphdef), "--graph-inputs", "x:0", "--graph-outputs", "y:0",
        "--output", str(out_dir), "--version", "1",
    )  # fmt: skip
    assert result.code == 0, result.message
    sig = _load(out_dir / "1").signatures["serving_default"]
    # Only the subgraph between x and y remains: the second placeholder is not an input.
    assert set(sig.structured_input_signature[1]) == {"x"}
    x = np.array([[1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    expected = x @ np.arange(8, dtype=np.float32).reshape(4, 2) + 1.0
    np.testing.assert_allclose(np.asarray(sig(x=tf.constant(x))["y"]), expected)
    graph_ops = {n.name for f in sig.graph.as_graph_def().library.function for n in f.node_def}
    assert not any("unused" in op or "other" in op for op in graph_ops)


def test_python_factory_source(
    models: Models, run_export: Any, tmp_path: Path, factory_on_path: None
) -> None:
    import tensorflow as tf

    out_dir = tmp_path / "out"
    result = run_export("--source", "py:tinyfactory:build", "--output", str(out_dir), "--version", "1")
    assert result.code == 0, result.message
    sig = _load(out_dir / "1").signatures["serving_default"]
    assert set(sig.structured_input_signature[1]) == {"features"}
    assert np.asarray(sig(features=tf.ones((2, 3)))["logits"]).shape == (2, 2)
    manifest = json.loads((out_dir / "1" / "export-manifest.json").read_text())
    assert manifest["source"]["kind"] == "python"
