"""Invalid ServedModels, each with the field path and message the API server and the CLI must give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent


@dataclass(frozen=True)
class InvalidCase:
    name: str
    path: Path
    field: str
    message: str

    def body(self) -> Any:
        return yaml.safe_load(self.path.read_text())


def invalid_cases() -> list[InvalidCase]:
    cases = []
    for path in sorted((HERE / "invalid").glob("*.yaml")):
        header = dict(
            line[2:].split(": ", 1) if ": " in line else (line[2:].rstrip(":"), "")
            for line in path.read_text().splitlines()
            if line.startswith("# expect-")
        )
        cases.append(InvalidCase(path.stem, path, header["expect-path"], header.get("expect-message", "")))
    return cases
