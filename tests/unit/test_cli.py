"""`servedmodel validate` and `servedmodel render`, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "manifests" / "examples" / "vit.yaml"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfserving_operator.cli", *args], input=stdin, capture_output=True, text=True
    )


def test_validate_accepts_the_readme_example() -> None:
    result = run("validate", "-f", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ServedModel vit is valid" in result.stdout


def test_validate_lists_every_problem_with_path_value_and_fix(tmp_path: Path) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["labels"]["canary"] = 9
    doc["spec"]["autoscaling"]["minReplicas"] = 8
    doc["spec"]["servng"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run("validate", "-f", str(path))
    assert result.returncode == 1
    err = result.stderr
    assert "spec.labels: every label must point at a version listed in spec.versions" in err
    assert "add the version to spec.versions" in err
    assert "spec.autoscaling.minReplicas" in err and "(got 8)" in err
    assert "spec.servng: unknown field" in err


def test_malformed_yaml_reports_the_line() -> None:
    result = run("validate", "-f", "-", stdin="apiVersion: tfserving.dev/v1alpha1\nmetadata:\n  name: a: b\n")
    assert result.returncode == 2
    assert "line 3, column 10: mapping values are not allowed here" in result.stderr


def test_duplicate_keys_are_errors() -> None:
    text = EXAMPLE.read_text().replace("  modelName: vit", "  modelName: vit\n  modelName: vit2")
    result = run("validate", "-f", "-", stdin=text)
    assert result.returncode == 2
    assert "duplicate key 'modelName'" in result.stderr


def test_a_document_that_is_not_a_servedmodel_says_so() -> None:
    result = run("validate", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert result.returncode == 1
    assert "is not a ServedModel" in result.stderr


def test_missing_file_is_a_clear_error() -> None:
    result = run("validate", "-f", "/nonexistent/sm.yaml")
    assert result.returncode == 2
    assert "/nonexistent/sm.yaml: cannot read" in result.stderr


def test_render_prints_every_child_as_a_yaml_stream() -> None:
    result = run("render", "-f", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    objs = [o for o in yaml.safe_load_all(result.stdout) if o]
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds == [
        ("ConfigMap", "vit-serving-config"),
        ("Deployment", "vit-serving"),
        ("Service", "vit"),
        ("HorizontalPodAutoscaler", "vit-serving"),
        ("Job", "vit-export-2"),
    ]
    assert all(o["metadata"]["namespace"] == "ml" for o in objs)
    config = objs[0]["data"]["models.config"]
    assert 'key: "canary"' in config and "versions: 2" in config


def test_render_with_owner_uid_includes_owner_references() -> None:
    result = run("render", "-f", str(EXAMPLE), "--owner-uid", "1234", "-n", "other")
    objs = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == "1234" for o in objs)
    assert all(o["metadata"]["namespace"] == "other" for o in objs)


def test_render_refuses_an_invalid_spec() -> None:
    text = EXAMPLE.read_text().replace("canary: 2", "canary: 5")
    result = run("render", "-f", "-", stdin=text)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "spec.labels" in result.stderr
