"""Tiny real models for the e2e tier and the demo: each version answers with a different number.

`scaling_model(factor)` is y = factor * sum(x) over 3 inputs, so a prediction tells which version
answered (version N is built with factor N).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def write_scaling_model(path: Path, factor: float) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    inputs = tf.keras.Input(shape=(3,), name="x")
    layer = tf.keras.layers.Dense(1, name="scale")
    model = tf.keras.Model(inputs, layer(inputs))
    layer.set_weights([np.full((3, 1), factor, dtype="float32"), np.zeros((1,), dtype="float32")])
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def write_image_classifier(path: Path, seed: int = 0) -> Path:
    """An 8x8 RGB image -> 3 class probabilities model, for the image-classifier preset."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=(8, 8, 3), name="image")
    outputs = tf.keras.layers.Dense(3, activation="softmax")(tf.keras.layers.Flatten()(inputs))
    path.parent.mkdir(parents=True, exist_ok=True)
    tf.keras.Model(inputs, outputs).save(path)
    return path


def upload(local: Path, uri: str) -> None:
    """Copy a local file to gs://bucket/object (creating the bucket), via STORAGE_EMULATOR_HOST if set."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket_name, _, name = uri.removeprefix("gs://").partition("/")
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        client = storage.Client(project="local", credentials=AnonymousCredentials())
    else:
        client = storage.Client()
    bucket = client.bucket(bucket_name)
    if not bucket.exists():
        bucket = client.create_bucket(bucket_name)
    bucket.blob(name).upload_from_filename(str(local))


def publish_source(uri: str, factor: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        upload(write_scaling_model(Path(tmp) / "model.keras", factor), uri)
    return uri


def publish_image_classifier_source(uri: str, seed: int = 0) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        upload(write_image_classifier(Path(tmp) / "model.keras", seed), uri)
    return uri


def main() -> None:
    parser = argparse.ArgumentParser(description="Upload a tiny Keras model (y = factor * sum(x)).")
    parser.add_argument("uri", help="gs://bucket/path/model.keras")
    parser.add_argument("--factor", type=float, default=1.0)
    parser.add_argument("--image-classifier", action="store_true", help="an 8x8 RGB, 3-class model instead")
    args = parser.parse_args()
    if args.image_classifier:
        publish_image_classifier_source(args.uri)
        print(f"uploaded an image classifier to {args.uri}")
    else:
        publish_source(args.uri, args.factor)
        print(f"uploaded a model with factor {args.factor} to {args.uri}")


if __name__ == "__main__":
    main()
