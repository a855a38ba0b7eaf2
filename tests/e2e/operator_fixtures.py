"""Fixtures that install the CRD and run the operator in-process (kopf's KopfRunner)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "servedmodels.tfserving.dev.yaml"


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args], input=stdin, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


@pytest.fixture(scope="session")
def crd(kubeconfig: Path) -> Path:
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=tfso-e2e", "-f", str(CRD))
    kubectl(
        kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "crd/servedmodels.tfserving.dev"
    )
    return CRD


@pytest.fixture(scope="session")
def operator(crd: Path, kubeconfig: Path, cluster: Any) -> Iterator[Any]:
    """The operator, running in this process against the test cluster, resyncing every 3 s."""
    saved = {k: os.environ.get(k) for k in ("KUBECONFIG", "STORAGE_EMULATOR_HOST", "TFSO_RESYNC_SECONDS")}
    os.environ["KUBECONFIG"] = str(kubeconfig)
    os.environ["TFSO_RESYNC_SECONDS"] = "3"
    if cluster.gcs_endpoint:
        os.environ["STORAGE_EMULATOR_HOST"] = cluster.gcs_endpoint
    from tfserving_operator import handlers

    args = ["run", "--all-namespaces", "--standalone", "-m", "tfserving_operator.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        wait_for("the operator to start", lambda: handlers.runtime.reconciler is not None, timeout=30)
        yield handlers.runtime
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert runner.exception is None, runner.exception


@pytest.fixture(scope="session")
def acme_models(gcs_endpoint: str) -> str:
    """The README example's storage: version 1 published by the exporter, version 2's source uploaded.

    Published versions are immutable and the stand-in's data outlives a test run, so what is
    already there is kept.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from exporter_job.manifest import VerifiedVersion, verify_version
    from tests.support.models import publish_image_classifier_source

    os.environ["STORAGE_EMULATOR_HOST"] = gcs_endpoint
    bucket = storage.Client(project="local", credentials=AnonymousCredentials()).bucket("acme-models")
    for version in (1, 2):
        if not (bucket.exists() and bucket.blob(f"src/vit-{version}.keras").exists()):
            publish_image_classifier_source(f"gs://acme-models/src/vit-{version}.keras", seed=version)
    if not isinstance(verify_version("gs://acme-models/vit/1"), VerifiedVersion):
        exporter = Path(sys.executable).parent / "savedmodel-export"
        args = ["--source=gs://acme-models/src/vit-1.keras", "--output=gs://acme-models/vit", "--version=1"]
        proc = subprocess.run(
            [str(exporter), *args, "--preset=image-classifier"],
            capture_output=True,
            text=True,
            env={**os.environ, "STORAGE_EMULATOR_HOST": gcs_endpoint},
        )
        assert proc.returncode == 0, proc.stderr
    return "gs://acme-models/vit"
