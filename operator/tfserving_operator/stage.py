"""A serving stage: what one models.config tells TF Serving to load and how to label it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stage:
    """Versions to keep loaded and the label -> version map, as one models.config carries them."""

    versions: frozenset[int]
    labels: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", dict(sorted(self.labels.items())))

    def __hash__(self) -> int:
        return hash((self.versions, tuple(self.labels.items())))

    def labelled_versions(self) -> frozenset[int]:
        return frozenset(self.labels.values())

    def to_json(self) -> str:
        return json.dumps({"versions": sorted(self.versions), "labels": dict(self.labels)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Stage:
        raw = json.loads(text)
        return cls(versions=frozenset(int(v) for v in raw["versions"]), labels=raw.get("labels") or {})

    def describe(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in self.labels.items()) or "no labels"
        versions = ",".join(str(v) for v in sorted(self.versions)) or "none"
        return f"versions {{{versions}}}, {labels}"
