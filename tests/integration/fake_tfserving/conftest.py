"""Fixtures for the fake TF Serving tests: SavedModels and a GCS emulator, once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .tfs_harness import FakeGcs


@pytest.fixture(scope="session")
def model_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Versions 1-4 of the `counter` SavedModel, written once per session."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_serving")
    base = tmp_path_factory.mktemp("library")
    from .tfs_savedmodels import write_versions

    write_versions(base, [1, 2, 3, 4])
    return base


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcs]:
    gcs = FakeGcs(tmp_path_factory.mktemp("gcs"))
    yield gcs
    gcs.stop()
