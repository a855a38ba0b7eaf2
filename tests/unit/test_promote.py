"""`servedmodel promote` edits the user's file in place: one value changes, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfserving_operator.promote import PromoteError, promote_in_file

FILE = """\
# Our ViT model: promotion happens in Git.
---
apiVersion: v1
kind: Namespace
metadata: {name: ml}
---
apiVersion: tfserving.dev/v1alpha1
kind: ServedModel
metadata:
  name: vit
  namespace: ml
spec:
  storageUri: gs://acme-models/vit    # bucket
  versions:
    - version: 1
    - version: 2    # exported by CI
    - version: 12
  labels:
    stable: 1     # what users get
    canary: 12
"""


def write(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "vit.yaml"
    path.write_text(text)
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=False) if a != b]


def test_promote_moves_stable_to_the_canary_version_and_keeps_everything_else(tmp_path: Path) -> None:
    path = write(tmp_path)
    move = promote_in_file(path, "vit", "stable", None, "canary")
    assert (move.before, move.after) == (1, 12)
    after = path.read_text()
    assert changed_lines(FILE, after) == [
        ("    stable: 1     # what users get", "    stable: 12     # what users get")
    ]
    assert len(after.splitlines()) == len(FILE.splitlines())


def test_rollback_is_a_label_edit_to_an_explicit_version(tmp_path: Path) -> None:
    path = write(tmp_path)
    promote_in_file(path, "vit", "stable", 2, "canary")
    assert "    stable: 2     # what users get" in path.read_text()


def test_a_new_label_is_added_in_the_files_own_style(tmp_path: Path) -> None:
    path = write(tmp_path)
    promote_in_file(path, "vit", "beta", 2, "canary")
    assert path.read_text() == FILE + "    beta: 2\n"
    flow = FILE.replace(
        "  labels:\n    stable: 1     # what users get\n    canary: 12\n", "  labels: {stable: 1}  # x\n"
    )
    path = write(tmp_path, flow)
    promote_in_file(path, "vit", "canary", 12, "canary")
    assert "  labels: {stable: 1, canary: 12}  # x\n" in path.read_text()


def test_refuses_an_unlisted_version_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(PromoteError, match=r"version 7 is not in spec.versions \(listed: 1, 2, 12\)"):
        promote_in_file(path, "vit", "stable", 7, "canary")
    assert path.read_text() == FILE


def test_refuses_an_unknown_model_or_missing_source_label(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(PromoteError, match="no ServedModel named 'bert'"):
        promote_in_file(path, "bert", "stable", None, "canary")
    with pytest.raises(PromoteError, match="no 'beta' to promote from"):
        promote_in_file(path, "vit", "stable", None, "beta")


def test_refuses_an_edit_that_the_api_server_would_reject(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(PromoteError, match="label names may contain only"):
        promote_in_file(path, "vit", "prod-stable", 2, "canary")
    assert path.read_text() == FILE
