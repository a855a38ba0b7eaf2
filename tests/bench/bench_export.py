"""Export benchmark: a >= 100 MB model exported and published to the GCS stand-in, then upload throughput
with parallel streams versus one stream, for the same bytes to the same server.

Run: .venv/bin/python -m tests.bench.bench_export [--size-mib 100] [--workers 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.gcs import fake_gcs_server

MiB = 1024 * 1024


@contextmanager
def gcs_stand_in(root: Path) -> Iterator[str]:
    with fake_gcs_server(root) as url:
        os.environ["STORAGE_EMULATOR_HOST"] = url
        yield url


def build_model(path: Path, size_mib: int) -> int:
    """A Keras model whose weights take at least `size_mib` MiB; returns the parameter count."""
    import keras

    width = int((size_mib * MiB / 4) ** 0.5) + 1
    inputs = keras.Input((width,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(width, name="scores")(inputs))
    model.save(path)
    return int(model.count_params())


def upload_once(local: Path, uri: str, workers: int, composite: bool = True) -> float:
    from exporter_job.manifest import describe_files
    from exporter_job.storage import UploadPlan, open_store, upload_tree

    os.sync()  # start each measurement without the previous round's dirty pages still being written
    store = open_store(uri, 120.0)
    paths = [f.path for f in describe_files(local)]
    plan = UploadPlan(workers=workers, composite_threshold=64 * MiB if composite else 0)
    report = upload_tree(store, local, paths, plan)
    store.delete(store.list())
    return report.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "gcs").mkdir()
        with gcs_stand_in(tmp_path / "gcs"):
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage

            client = storage.Client(project="bench", credentials=AnonymousCredentials())
            client.create_bucket("bench")

            started = time.monotonic()
            params = build_model(tmp_path / "big.keras", args.size_mib)
            build_s = time.monotonic() - started
            source_mib = (tmp_path / "big.keras").stat().st_size / MiB

            from exporter_job.export import run_export
            from exporter_job.options import build_parser, options_from_args

            opts = options_from_args(
                build_parser().parse_args(
                    [
                        *(
                            "--source",
                            str(tmp_path / "big.keras"),
                            "--output",
                            "gs://bench/big",
                            "--version",
                            "1",
                        ),
                        *("--upload-workers", str(args.workers)),
                    ]
                )
            )
            started = time.monotonic()
            result = run_export(opts)
            total_s = time.monotonic() - started
            print(
                f"model: {params:,} parameters, .keras source {source_mib:.1f} MiB (built in {build_s:.1f}s)"
            )
            print(
                f"export+publish: {total_s:.2f}s total = {result.export_seconds:.2f}s export (load, save, "
                f"warmup, validate) + {result.upload_seconds:.2f}s upload of {result.files} files, "
                f"{result.bytes / MiB:.1f} MiB"
            )

            local = tmp_path / "version"
            for blob in client.list_blobs("bench", prefix="big/1/"):
                target = local / blob.name[len("big/1/") :]
                target.parent.mkdir(parents=True, exist_ok=True)
                blob.download_to_filename(str(target))
            (local / "export-manifest.json").unlink()
            size_mib = sum(f.stat().st_size for f in local.rglob("*") if f.is_file()) / MiB

            modes = {
                "single": (1, False),
                "parallel": (args.workers, True),
                "per-file": (args.workers, False),
            }
            seconds: dict[str, list[float]] = {name: [] for name in modes}
            for i in range(args.rounds):
                # Rotate the order each round so no mode always runs first or last.
                order = list(modes)[i % 3 :] + list(modes)[: i % 3]
                for name in order:
                    workers, composite = modes[name]
                    seconds[name].append(upload_once(local, f"gs://bench/{name}-{i}", workers, composite))
            single, parallel, per_file = seconds["single"], seconds["parallel"], seconds["per-file"]
            single_s, parallel_s = statistics.median(single), statistics.median(parallel)
            per_file_s = statistics.median(per_file)
            print(f"upload of {size_mib:.1f} MiB, median of {args.rounds} round(s) to the same GCS stand-in:")
            print(f"  single stream:          {single_s:.2f}s  {size_mib / single_s:.1f} MiB/s")
            print(
                f"  parallel ({args.workers} workers, composite parts): {parallel_s:.2f}s  "
                f"{size_mib / parallel_s:.1f} MiB/s"
            )
            print(
                f"  parallel ({args.workers} workers, whole files only): {per_file_s:.2f}s  "
                f"{size_mib / per_file_s:.1f} MiB/s"
            )
            print(
                f"  parallel/single throughput ratio: {single_s / parallel_s:.2f}x (composite), "
                f"{single_s / per_file_s:.2f}x (whole files)"
            )
            print(f"  (machine: {os.cpu_count()} CPU(s); the stand-in server shares them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
