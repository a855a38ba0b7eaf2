"""Bad inputs: one paragraph naming the flag, the value and the fix; non-zero exit; nothing published."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Gcs, Models

REPO = Path(__file__).resolve().parents[3]


def test_help_lists_every_option_without_importing_tensorflow() -> None:
    probe = (
        "import sys\n"
        "from exporter_job.cli import main\n"
        "code = main(['--help'])\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported for --help'\n"
        "import exporter_job.manifest\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported by exporter_job.manifest'\n"
        "sys.exit(code)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10
    flags = (
        "--source --output --version --preset --graph-inputs --graph-outputs --labels --top-k "
        "--channel-order --mean --std --feature-spec --samples --compatible-with --upload-workers "
        "--no-warmup --warmup-records"
    )
    for flag in flags.split():
        assert flag in done.stdout
    assert "image-classifier,tf-example,passthrough" in done.stdout


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "TERMINATION_MESSAGE_PATH": str(tmp_path / "term")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter_job",
            "--source",
            "x.keras",
            "--output",
            str(tmp_path),
            "--version",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--version 0: must be a positive integer" in done.stderr
    assert (tmp_path / "term").read_text().startswith("--version 0: must be a positive integer")


def test_unknown_preset(run_export: Any, tmp_path: Path) -> None:
    result = run_export(
        "--source", "m.keras", "--output", str(tmp_path), "--version", "1", "--preset", "resnet"
    )
    assert result.code == 2
    assert "--preset" in result.message and "'resnet'" in result.message
    assert "image-classifier" in result.message and "--help" in result.message


@pytest.mark.tf
def test_unreadable_source(run_export: Any, tmp_path: Path, gcs: Gcs) -> None:
    gcs.bucket("empty-src")
    out = tmp_path / "out"
    local = run_export("--source", str(tmp_path / "missing.keras"), "--output", str(out), "--version", "1")
    assert local.code == 2
    assert f"--source '{tmp_path / 'missing.keras'}': cannot be read" in local.message
    assert "Fix:" in local.message
    remote = run_export("--source", "gs://empty-src/nothing.keras", "--output", str(out), "--version", "1")
    assert remote.code == 2 and "--source 'gs://empty-src/nothing.keras'" in remote.message
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"this is not a zip file")
    broken = run_export("--source", str(garbage), "--output", str(out), "--version", "1")
    assert broken.code == 2 and "cannot be loaded as a keras model" in broken.message
    assert not out.exists()


@pytest.mark.tf
def test_wrong_graph_tensor_names(models: Models, run_export: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_export(
        "--source", str(models.graphdef), "--graph-inputs", "input:0", "--graph-outputs", "y:0",
        "--output", str(out), "--version", "1",
    )  # fmt: skip
    assert result.code == 2
    assert "--graph-inputs 'input:0': is not a tensor of the GraphDef" in result.message
    assert "x:0" in result.message  # the fix lists the real placeholders
    missing_outputs = run_export("--source", str(models.graphdef), "--output", str(out), "--version", "1")
    assert missing_outputs.code == 2 and "--graph-inputs" in missing_outputs.message
    assert not out.exists()


@pytest.mark.tf
def test_unreachable_bucket_fails_before_exporting(models: Models, run_export: Any, gcs: Gcs) -> None:
    started = time.monotonic()
    result = run_export(
        "--source", str(models.tabular_keras), "--output", "gs://no-such-bucket/m", "--version", "1",
        "--gcs-retry-deadline", "2",
    )  # fmt: skip
    assert result.code == 4
    assert "--output 'gs://no-such-bucket/m/1': storage failed: bucket 'no-such-bucket' does not exist" in (
        result.message
    )
    assert "bucket exists" in result.message
    assert time.monotonic() - started < 30


@pytest.mark.tf
def test_unreachable_server(models: Models, run_export: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket_closed_port() as port:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        result = run_export(
            "--source", str(models.tabular_keras), "--output", "gs://any/m", "--version", "1",
            "--gcs-retry-deadline", "1",
        )  # fmt: skip
    assert result.code == 4
    assert "--output 'gs://any/m/1': storage failed" in result.message


@pytest.mark.tf
def test_bad_labels_and_samples(models: Models, run_export: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    labels = tmp_path / "labels.txt"
    labels.write_text("one\ntwo\n")
    wrong_count = run_export(
        "--source", str(models.image_keras), "--output", str(out), "--version", "1",
        "--preset", "image-classifier", "--labels", str(labels),
    )  # fmt: skip
    assert wrong_count.code == 2
    assert (
        "--labels" in wrong_count.message
        and "has 2 labels but the model outputs 3 classes" in wrong_count.message
    )
    samples = tmp_path / "samples.json"
    samples.write_text('{"instances": [{"a": [1, 2, 3, 4]}]}')
    args = ["--source", str(models.tabular_keras), "--output", str(out), "--version", "1"]
    bad_samples = run_export(*args, "--samples", str(samples))
    assert bad_samples.code == 2
    assert f"--samples '{samples}'" in bad_samples.message and "'b'" in bad_samples.message
    not_images = run_export(*args, "--preset", "image-classifier")
    assert not_images.code == 2 and "needs a model with one input" in not_images.message
    assert not out.exists()


class socket_closed_port:
    """A loopback port that nothing listens on, for the duration of the block."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
