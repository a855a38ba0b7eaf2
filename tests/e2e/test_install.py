"""The install paths are accepted by a real API server, and the plain manifests match the chart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from .operator_fixtures import crd, kubectl  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def test_install_yaml_is_rendered_from_the_current_chart(tmp_path: Path, cluster: object) -> None:
    out = tmp_path / "install.yaml"
    subprocess.run(["bash", str(REPO / "hack" / "render-install.sh"), str(out)], check=True)
    assert out.read_text() == (REPO / "manifests" / "install.yaml").read_text(), "run `make manifests`"


def test_install_yaml_is_accepted_by_the_api_server(kubeconfig: Path) -> None:
    proc = kubectl(
        kubeconfig, "apply", "--dry-run=server", "-f", str(REPO / "manifests" / "install.yaml"), check=False
    )
    # Objects in the new namespace cannot be dry-run before the namespace exists; the rest must pass.
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error")]
    bad = [line for line in errors if 'namespaces "tfserving-system" not found' not in line]
    assert not bad, proc.stderr
    assert "customresourcedefinition.apiextensions.k8s.io/servedmodels.tfserving.dev" in proc.stdout


def test_rendered_children_of_the_readme_example_are_accepted(
    crd: Path, kubeconfig: Path, namespace: str
) -> None:
    example = REPO / "manifests" / "examples" / "vit.yaml"
    rendered = subprocess.run(
        [sys.executable, "-m", "tfserving_operator.cli", "render", "-f", str(example), "-n", namespace],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert kinds == ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "Job"]
    proc = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=rendered, check=False)
    assert proc.returncode == 0, proc.stderr
