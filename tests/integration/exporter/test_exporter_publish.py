"""The publishing protocol on the GCS stand-in: manifest last, idempotent reruns, immutability, recovery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from exporter_job.manifest import MANIFEST_NAME, VerifiedVersion, VersionProblem, verify_version

from .conftest import Gcs, Models

pytestmark = pytest.mark.tf


def _manifest(gcs: Gcs, bucket: str, prefix: str) -> dict[str, Any]:
    return json.loads(gcs.client.bucket(bucket).blob(f"{prefix}/{MANIFEST_NAME}").download_as_bytes())


def test_manifest_lists_every_file_with_checksums(gcs: Gcs, models: Models, run_export: Any) -> None:
    gcs.bucket("pub")
    result = run_export("--source", str(models.tabular_keras), "--output", "gs://pub/tab", "--version", "1")
    assert result.code == 0, result.message
    names = gcs.names("pub", "tab/1/")
    manifest = _manifest(gcs, "pub", "tab/1")
    listed = {f"tab/1/{f['path']}" for f in manifest["files"]}
    assert set(names) == listed | {f"tab/1/{MANIFEST_NAME}"}
    assert {"tab/1/saved_model.pb", "tab/1/assets.extra/tf_serving_warmup_requests"} <= listed
    for entry in manifest["files"]:
        blob = gcs.client.bucket("pub").get_blob(f"tab/1/{entry['path']}")
        assert (blob.size, blob.crc32c) == (entry["size"], entry["crc32c"])
    assert manifest["model_version"] == 1
    assert manifest["tensorflow_version"].startswith("2.")
    assert manifest["source"] == {
        "uri": str(models.tabular_keras),
        "kind": "keras",
        "sha256": manifest["source"]["sha256"],
    }
    serving = manifest["signatures"]["serving_default"]
    assert serving["inputs"] == {
        "a": {"dtype": "float32", "shape": [None, 4]},
        "b": {"dtype": "float32", "shape": [None, 2]},
    }
    assert serving["outputs"] == {"out": {"dtype": "float32", "shape": [None, 1]}}

    verified = verify_version("gs://pub/tab/1")
    assert isinstance(verified, VerifiedVersion)
    assert verified.manifest.signatures["serving_default"].inputs["a"].shape == [None, 4]


def test_rerun_is_a_noop_and_other_inputs_are_refused(gcs: Gcs, models: Models, run_export: Any) -> None:
    gcs.bucket("immutable")
    args = ["--source", str(models.tabular_keras), "--output", "gs://immutable/m", "--version", "4"]
    assert run_export(*args).code == 0
    before = _manifest(gcs, "immutable", "m/4")
    generations = {b.name: b.generation for b in gcs.client.list_blobs("immutable", prefix="m/4/")}

    again = run_export(*args)
    assert again.code == 0
    assert "already published from the same inputs" in again.message
    assert {b.name: b.generation for b in gcs.client.list_blobs("immutable", prefix="m/4/")} == generations

    different = run_export(*args, "--preset", "tf-example")
    assert different.code == 3
    assert "--version 4" in different.message and "immutable" in different.message
    assert "choose a new --version" in different.message
    assert _manifest(gcs, "immutable", "m/4") == before


def test_failed_upload_leaves_no_version_and_rerun_completes(
    gcs: Gcs, models: Models, run_export: Any
) -> None:
    gcs.bucket("flaky")
    # A real storage fault: the server keeps objects as files, so a directory where one object's file
    # must go makes it fail that upload (HTTP 500) while the others succeed.
    blocker = gcs.root / "flaky" / "m" / "1" / "variables" / "variables.index"
    blocker.mkdir(parents=True)
    args = ["--source", str(models.tabular_keras), "--output", "gs://flaky/m", "--version", "1"]
    failed = run_export(*args, "--gcs-retry-deadline", "1", "--upload-workers", "2")
    assert failed.code == 4, failed.message
    assert "--output 'gs://flaky/m/1'" in failed.message and "rerunning the export is safe" in failed.message
    leftovers = gcs.names("flaky", "m/1/")
    assert leftovers, "some files were uploaded before the failure"
    assert f"m/1/{MANIFEST_NAME}" not in leftovers
    problem = verify_version("gs://flaky/m/1")
    assert isinstance(problem, VersionProblem) and problem.kind == "partial"

    shutil.rmtree(blocker)
    rerun = run_export(*args)
    assert rerun.code == 0, rerun.message
    assert isinstance(verify_version("gs://flaky/m/1"), VerifiedVersion)
    manifest = _manifest(gcs, "flaky", "m/1")
    assert set(gcs.names("flaky", "m/1/")) == {f"m/1/{f['path']}" for f in manifest["files"]} | {
        f"m/1/{MANIFEST_NAME}"
    }


def test_verify_version_reports_tampering_and_absence(gcs: Gcs, models: Models, run_export: Any) -> None:
    bucket = gcs.bucket("tamper")
    assert (
        run_export("--source", str(models.tabular_keras), "--output", "gs://tamper/m", "--version", "2").code
        == 0
    )
    assert isinstance(verify_version("gs://tamper/m/2"), VerifiedVersion)
    bucket.blob("m/2/variables/variables.index").upload_from_string(b"not the index")
    problem = verify_version("gs://tamper/m/2")
    assert isinstance(problem, VersionProblem) and problem.kind == "mismatch"
    assert "variables/variables.index" in problem.detail
    absent = verify_version("gs://tamper/m/9")
    assert isinstance(absent, VersionProblem) and absent.kind == "missing"

    # A tampered version is never overwritten, even by the same inputs.
    refused = run_export("--source", str(models.tabular_keras), "--output", "gs://tamper/m", "--version", "2")
    assert refused.code == 3
    assert "do not match its manifest" in refused.message


def test_compatible_with_refuses_a_breaking_change(
    models: Models, run_export: Any, tmp_path: Path, factory_on_path: None
) -> None:
    out = tmp_path / "out"
    assert run_export("--source", str(models.tabular_keras), "--output", str(out), "--version", "1").code == 0
    # Same signature from another file format: compatible.
    same = run_export(
        "--source", str(models.tabular_h5), "--output", str(out), "--version", "2",
        "--compatible-with", str(out / "1"),
    )  # fmt: skip
    assert same.code == 0, same.message
    # The factory model has other inputs and outputs: refused, with a readable diff, nothing written.
    broken = run_export(
        "--source", "py:tinyfactory:build", "--output", str(out), "--version", "3",
        "--compatible-with", str(out / "1"),
    )  # fmt: skip
    assert broken.code == 3
    assert "signature 'serving_default', input 'a': removed (float32[?, 4] -> absent)" in broken.message
    assert "signature 'serving_default', input 'features': added" in broken.message
    assert "output 'out': removed" in broken.message
    assert not (out / "3").exists()


def test_compatible_with_names_dtype_and_shape_changes(
    models: Models, run_export: Any, tmp_path: Path
) -> None:
    import tensorflow as tf

    out = tmp_path / "out"
    args = ["--source-signature", "predict", "--output", str(out)]
    assert run_export("--source", str(models.savedmodel), *args, "--version", "1").code == 0
    # A rewrite of the model whose "x" became int32 and whose "y" lost a dimension.
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32, name="x")])
    def predict(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.cast(tf.reduce_sum(x, axis=1), tf.float32)}

    tf.saved_model.save(
        module, str(tmp_path / "rewrite"), signatures={"predict": predict.get_concrete_function()}
    )
    refused = run_export(
        "--source", str(tmp_path / "rewrite"), *args, "--version", "2", "--compatible-with", str(out / "1")
    )  # fmt: skip
    assert refused.code == 3
    assert "--compatible-with" in refused.message
    assert "signature 'serving_default', input 'x': dtype float32 -> int32" in refused.message
    assert "signature 'serving_default', output 'y': shape float32[?, 2] -> float32[?]" in refused.message
    assert not (out / "2").exists()
