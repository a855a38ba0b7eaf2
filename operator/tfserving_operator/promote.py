"""Edit a ServedModel file in place to move a label, keeping its comments and layout (GitOps)."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .validation import validate_document


class PromoteError(Exception):
    pass


@dataclass(frozen=True)
class LabelMove:
    label: str
    before: int | None
    after: int

    def describe(self) -> str:
        before = "-" if self.before is None else str(self.before)
        return f"spec.labels.{self.label}: {before} -> {self.after}"


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts/lists, for validation."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _replace_scalar(text: str, position: tuple[int, int], old: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    line, col = position
    current = lines[line]
    if current[col : col + len(old)] != old:
        raise PromoteError(f"line {line + 1}: expected {old!r} at column {col + 1}; edit the file by hand")
    lines[line] = current[:col] + new + current[col + len(old) :]
    return "".join(lines)


def _insert_label(
    text: str, anchor: tuple[int, int], flow: bool, key_col: int, label: str, version: int
) -> str:
    lines = text.splitlines(keepends=True)
    line, col = anchor
    if flow:
        close = lines[line].find("}", col)
        if close < 0:
            raise PromoteError(f"line {line + 1}: cannot find the end of spec.labels; edit the file by hand")
        lines[line] = lines[line][:close] + f", {label}: {version}" + lines[line][close:]
    else:
        lines.insert(line + 1, " " * key_col + f"{label}: {version}\n")
    return "".join(lines)


def promote_in_file(path: Path, name: str, label: str, version: int | None, from_label: str) -> LabelMove:
    """Point `label` at `version` (default: where `from_label` points) in the ServedModel `name`."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    text = path.read_text()
    docs = list(yaml.load_all(text))
    matches = [
        d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind") == "ServedModel"
        and (d.get("metadata") or {}).get("name") == name
    ]
    if not matches:
        raise PromoteError(f"{path}: no ServedModel named {name!r}")
    doc = matches[0]
    spec = doc.setdefault("spec", {})
    labels = spec.get("labels")
    if labels is None:
        labels = spec["labels"] = {}
    if version is None:
        if from_label not in labels:
            raise PromoteError(
                f"{path}: spec.labels has no {from_label!r} to promote from; pass --version N to say which "
                "version the label should point at"
            )
        version = int(labels[from_label])
    listed = [int(v["version"]) for v in spec.get("versions") or [] if isinstance(v, dict) and "version" in v]
    if version not in listed:
        raise PromoteError(
            f"{path}: version {version} is not in spec.versions "
            f"(listed: {', '.join(map(str, listed)) or 'none'}); add it to spec.versions first"
        )
    before = labels.get(label)
    move = LabelMove(label, None if before is None else int(before), version)
    if before is not None and int(before) == version:
        return move
    position = labels.lc.value(label) if before is not None and hasattr(labels, "lc") else None
    last = list(labels)[-1] if labels else None
    anchor = labels.lc.value(last) if last is not None and hasattr(labels, "lc") else None
    flow = bool(hasattr(labels, "fa") and labels.fa.flow_style())
    key_col = labels.lc.key(last)[1] if anchor is not None else 0
    labels[label] = version
    problems = validate_document(_plain(doc))
    if problems:
        raise PromoteError(f"{path}: the edit would make the ServedModel invalid: {problems[0].render()}")
    # Edit the original text at the exact spot: every other byte stays as the user wrote it.
    if position is not None:
        new_text = _replace_scalar(text, position, str(before), str(version))
    elif anchor is not None:
        new_text = _insert_label(text, anchor, flow, key_col, label, version)
    else:
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.explicit_start = text.lstrip().startswith("---")
        out = io.StringIO()
        yaml.dump_all(docs, out)
        new_text = out.getvalue()
    # Write next to the file, then rename: the file is never left half-written.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(new_text)
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return move
