"""Validate a ServedModel the way the API server does, from the CRD itself.

The CRD (crds/servedmodels.tfserving.dev.yaml) is the single source of truth: this module walks its
OpenAPI v3 schema (types, required, enums, bounds, unknown fields, list keys), applies its defaults,
then evaluates the very same `x-kubernetes-validations` CEL rules with a CEL interpreter. So the CLI
and the cluster cannot disagree about a rule; the e2e tier checks the same corpus against a real
API server.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import celpy
import yaml

from .spec import API_VERSION, KIND

_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer"}


@dataclass(frozen=True)
class Problem:
    """One reason a document is not a valid ServedModel."""

    path: str
    value: Any
    message: str

    def render(self) -> str:
        shown = _short(self.value)
        return f"{self.path}: {self.message}" + (f" (got {shown})" if shown is not None else "")


def _short(value: Any) -> str | None:
    if value is _MISSING:
        return None
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 120 else text[:117] + "..."


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


@functools.cache
def crd_document() -> dict[str, Any]:
    text = resources.files("tfserving_operator").joinpath("crd.yaml").read_text()
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def openapi_schema() -> dict[str, Any]:
    version = crd_document()["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


@functools.cache
def _cel_program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_type(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, Mapping)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


class _Validator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, value: Any, message: str) -> None:
        self.problems.append(Problem(path, value, message))

    def node(self, value: Any, schema: Mapping[str, Any], path: str) -> Any:
        """Check `value` against `schema`; return it with schema defaults applied."""
        if schema.get("x-kubernetes-int-or-string"):
            if not (_is_type(value, "integer") or _is_type(value, "string")):
                self.add(path, value, "must be an integer or a string such as 500m or 8Gi")
            return value
        expected = schema.get("type")
        if expected and not _is_type(value, expected):
            self.add(path, value, f"must be {_TYPE_NAMES.get(expected, 'a ' + expected)}")
            return value
        before = len(self.problems)
        if expected == "object":
            value = self.obj(value, schema, path)
        elif expected == "array":
            value = self.array(value, schema, path)
        else:
            self.scalar(value, schema, path)
        self.cel(value, schema, path, subtree_had_problems=len(self.problems) > before)
        return value

    def scalar(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(str(v) for v in schema["enum"])
            self.add(path, value, f"must be one of: {allowed}")
        if "minimum" in schema and value < schema["minimum"]:
            self.add(path, value, f"must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            self.add(path, value, f"must be at most {schema['maximum']}")
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.add(path, value, f"must be at most {schema['maxLength']} characters")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                self.add(path, value, f"must match {schema['pattern']}")

    def obj(self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        out = dict(value)
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.add(path, value, f"may have at most {schema['maxProperties']} entries")
        for key in schema.get("required", ()):
            if key not in value:
                self.add(_join(path, key), _MISSING, "is required")
        for key, item in value.items():
            if key in props:
                out[key] = self.node(item, props[key], _join(path, key))
            elif isinstance(extra, Mapping):
                out[key] = self.node(item, extra, _join(path, str(key)))
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and path != "metadata":
                known = ", ".join(sorted(props)) or "none"
                self.add(_join(path, str(key)), _MISSING, f"unknown field (known fields here: {known})")
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
        return out

    def array(self, value: list[Any], schema: Mapping[str, Any], path: str) -> list[Any]:
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.add(path, value, f"must have at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.add(path, _MISSING, f"may have at most {schema['maxItems']} items")
        items = schema.get("items", {})
        out = [self.node(item, items, f"{path}[{i}]") for i, item in enumerate(value)]
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen: set[tuple[Any, ...]] = set()
            for i, item in enumerate(out):
                if not isinstance(item, Mapping):
                    continue
                key = tuple(item.get(k) for k in keys)
                if key in seen:
                    self.add(
                        f"{path}[{i}]", dict(zip(keys, key, strict=True)), "duplicate entry: list each once"
                    )
                seen.add(key)
        elif list_type == "set":
            for i, item in enumerate(out):
                if item in out[:i]:
                    self.add(f"{path}[{i}]", item, "duplicate value: list each once")
        return out

    def cel(self, value: Any, schema: Mapping[str, Any], path: str, subtree_had_problems: bool) -> None:
        for rule in schema.get("x-kubernetes-validations", ()):
            try:
                result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
                ok = isinstance(result, celpy.celtypes.BoolType) and bool(result)
            except celpy.CELEvalError:
                # A rule over a subtree with type errors cannot be evaluated; those errors are reported.
                ok = subtree_had_problems
            if not ok:
                where = path + rule.get("fieldPath", "") if rule.get("fieldPath") else path
                where = where.lstrip(".")
                self.add(
                    where, _value_at(value, rule.get("fieldPath", "")), " ".join(rule["message"].split())
                )


def _value_at(value: Any, field_path: str) -> Any:
    for part in [p for p in field_path.split(".") if p]:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def validate_document(doc: Any) -> list[Problem]:
    """All problems of one parsed YAML document, as the API server would report them."""
    if not isinstance(doc, Mapping):
        return [
            Problem("(document)", doc, "is not a ServedModel: expected a mapping with apiVersion and kind")
        ]
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        return [
            Problem(
                "(document)",
                {"apiVersion": doc.get("apiVersion"), "kind": doc.get("kind")},
                f"is not a ServedModel: expected apiVersion {API_VERSION} and kind {KIND}",
            )
        ]
    validator = _Validator()
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name"):
        validator.add("metadata.name", _MISSING, "is required")
        return validator.problems
    validator.node(doc, openapi_schema(), "")
    return validator.problems


def with_defaults(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as the API server stores it: schema defaults filled in."""
    validator = _Validator()
    out = validator.node(doc, openapi_schema(), "")
    assert isinstance(out, dict)
    return out
