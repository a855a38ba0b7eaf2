"""`servedmodel validate` semantics: every invalid spec names the field, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.corpus import InvalidCase, invalid_cases
from tfserving_operator.validation import validate_document, with_defaults

EXAMPLES = sorted((Path(__file__).parents[2] / "manifests" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("case", invalid_cases(), ids=lambda c: c.name)
def test_each_invalid_spec_is_rejected_naming_the_field(case: InvalidCase) -> None:
    problems = validate_document(case.body())
    assert problems, f"{case.name} was accepted"
    matching = [p for p in problems if p.path == case.field]
    assert matching, f"no problem at {case.field}: {[p.render() for p in problems]}"
    assert any(case.message in p.message for p in matching), [p.render() for p in matching]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_are_valid(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "ServedModel":
            assert validate_document(doc) == []


def test_the_bad_value_is_shown() -> None:
    case = next(c for c in invalid_cases() if c.name == "min-above-max")
    (problem,) = validate_document(case.body())
    assert problem.render().endswith("(got 5)")


def test_corpus_covers_every_cel_rule_in_the_crd() -> None:
    crd = Path(__file__).parents[2] / "crds" / "servedmodels.tfserving.dev.yaml"
    messages = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            messages.extend(" ".join(r["message"].split()) for r in node.get("x-kubernetes-validations", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(crd.read_text()))
    covered = [c.message for c in invalid_cases() if c.message]
    uncovered = [m for m in messages if not any(c in m for c in covered)]
    assert not uncovered, f"CEL rules without an invalid case in tests/corpus: {uncovered}"


def test_defaults_are_filled_like_the_api_server() -> None:
    doc = {
        "apiVersion": "tfserving.dev/v1alpha1",
        "kind": "ServedModel",
        "metadata": {"name": "m"},
        "spec": {
            "storageUri": "gs://bkt/m",
            "versions": [{"version": 1, "export": {"source": "gs://bkt/src.keras"}}],
            "serving": {"accelerator": {"type": "nvidia-l4"}},
            "autoscaling": {"maxReplicas": 3},
        },
    }
    spec = with_defaults(doc)["spec"]
    assert spec["versions"][0]["export"]["preset"] == "passthrough"
    assert spec["serving"]["accelerator"]["count"] == 1
    assert spec["autoscaling"]["minReplicas"] == 1
    # Like the API server: defaults apply inside objects that are present, none are invented.
    assert "rollout" not in spec


def test_a_type_error_is_reported_once_not_as_a_cel_failure() -> None:
    doc = yaml.safe_load(
        """
apiVersion: tfserving.dev/v1alpha1
kind: ServedModel
metadata: {name: m}
spec:
  storageUri: gs://bkt/m
  versions: [{version: 1}]
  labels: {stable: "one"}
"""
    )
    problems = validate_document(doc)
    assert [p.path for p in problems] == ["spec.labels.stable"]
    assert "integer" in problems[0].message


def test_every_schema_node_is_typed_and_described() -> None:
    """A structural schema: every property has a type (or is int-or-string) and a description."""
    crd = yaml.safe_load((Path(__file__).parents[2] / "crds" / "servedmodels.tfserving.dev.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    bad: list[str] = []
    keywords = {
        "type",
        "format",
        "description",
        "properties",
        "items",
        "required",
        "enum",
        "default",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "maxProperties",
        "pattern",
        "additionalProperties",
        "anyOf",
        "x-kubernetes-validations",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
    }

    def walk(node: dict, path: str) -> None:  # type: ignore[type-arg]
        bad.extend(f"{path}: unknown schema keyword {key!r}" for key in node if key not in keywords)
        for name, sub in (node.get("properties") or {}).items():
            where = f"{path}.{name}"
            if not isinstance(sub, dict):
                bad.append(f"{where}: not a schema")
                continue
            if not (sub.get("type") or sub.get("x-kubernetes-int-or-string")):
                bad.append(f"{where}: no type")
            if where not in (".metadata",) and not sub.get("description"):
                bad.append(f"{where}: no description")
            walk(sub, where)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], path + "{}")

    walk(schema, "")
    assert not bad, bad
