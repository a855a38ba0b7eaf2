"""Tiny SavedModels for the fake TF Serving tests: each version answers with its own number."""

from __future__ import annotations

from pathlib import Path


def write_versions(base: Path, versions: list[int]) -> None:
    """Writes `<base>/<v>/` for each v: signatures serving_default, echo and slow."""
    import tensorflow as tf

    class Counter(tf.Module):
        def __init__(self, version: int) -> None:
            super().__init__()
            self.version = tf.constant(version, tf.int64)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {
                "y": x + tf.cast(self.version, tf.float32),
                "version": tf.fill(tf.shape(x), self.version),
            }

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data_bytes")])
        def echo(self, data_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"data_bytes": tf.identity(data_bytes)}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="x"),
                tf.TensorSpec([], tf.int32, name="n"),
            ]
        )
        def slow(self, x: tf.Tensor, n: tf.Tensor) -> dict[str, tf.Tensor]:
            # n rounds of a 256x256 matmul: a request that takes a controllable while.
            m = tf.eye(256)

            def body(i: tf.Tensor, acc: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                nxt = tf.matmul(acc, acc)
                return i + 1, nxt / tf.reduce_max(tf.abs(nxt))

            _, m = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), m))
            return {"y": x + tf.cast(self.version, tf.float32) + 0.0 * tf.reduce_sum(m)}

    for version in versions:
        module = Counter(version)
        tf.saved_model.save(
            module,
            str(base / str(version)),
            signatures={"serving_default": module.serve, "echo": module.echo, "slow": module.slow},
        )
