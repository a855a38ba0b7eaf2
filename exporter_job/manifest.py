"""The export manifest: the last file written to a version directory, and the proof that it is complete.

A version exists only when `export-manifest.json` is present and every file it lists is there with the
listed size and CRC32C (and no other file is). This module imports no TensorFlow, so the operator can
call `verify_version` directly. On GCS the check needs no download: object listings carry size and
CRC32C, and the manifest stores CRC32C in GCS's own encoding (base64 of the big-endian value).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from exporter_job.storage import StorageError, crc32c_of_file, join, open_store

MANIFEST_NAME = "export-manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    crc32c: str
    sha256: str


@dataclass(frozen=True)
class TensorDesc:
    dtype: str
    shape: list[int | None] | None  # None: unknown rank; None inside: unknown dimension

    def render(self) -> str:
        dims = "?" if self.shape is None else ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


@dataclass(frozen=True)
class SignatureDesc:
    inputs: dict[str, TensorDesc]
    outputs: dict[str, TensorDesc]
    method_name: str = "tensorflow/serving/predict"
    preset: str = ""


@dataclass(frozen=True)
class SourceInfo:
    uri: str
    kind: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    model_version: int
    files: list[FileEntry]
    signatures: dict[str, SignatureDesc]
    source: SourceInfo
    inputs_digest: str
    tensorflow_version: str
    exporter_version: str
    created_at: str
    warmup_records: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        raw = json.loads(text)
        if raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format_version {raw.get('format_version')!r}")
        return cls(
            model_version=int(raw["model_version"]),
            files=[FileEntry(**f) for f in raw["files"]],
            signatures={name: _signature_from_dict(sig) for name, sig in raw["signatures"].items()},
            source=SourceInfo(**raw["source"]),
            inputs_digest=raw["inputs_digest"],
            tensorflow_version=raw["tensorflow_version"],
            exporter_version=raw["exporter_version"],
            created_at=raw["created_at"],
            warmup_records=int(raw.get("warmup_records", 0)),
            options=dict(raw.get("options", {})),
            format_version=int(raw["format_version"]),
        )


def _signature_from_dict(raw: dict[str, Any]) -> SignatureDesc:
    return SignatureDesc(
        inputs={k: TensorDesc(**v) for k, v in raw["inputs"].items()},
        outputs={k: TensorDesc(**v) for k, v in raw["outputs"].items()},
        method_name=raw.get("method_name", "tensorflow/serving/predict"),
        preset=raw.get("preset", ""),
    )


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(root: Path) -> list[FileEntry]:
    """Every file under `root` except the manifest, sorted by path."""
    entries = []
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        if file.is_file() and rel != MANIFEST_NAME:
            entries.append(FileEntry(rel, file.stat().st_size, crc32c_of_file(file), sha256_of_file(file)))
    return entries


@dataclass(frozen=True)
class VerifiedVersion:
    uri: str
    manifest: Manifest


ProblemKind = Literal["missing", "partial", "mismatch", "unreadable"]


@dataclass(frozen=True)
class VersionProblem:
    uri: str
    kind: ProblemKind  # missing: nothing there; partial: files without manifest; mismatch/unreadable
    detail: str

    @property
    def message(self) -> str:
        return f"{self.uri}: {self.detail}"


def verify_version(uri: str, retry_deadline: float = 30.0) -> VerifiedVersion | VersionProblem:
    """Checks that the version directory `uri` holds a manifest that matches its files."""
    try:
        store = open_store(uri, retry_deadline)
        objects = store.list()
    except StorageError as exc:
        return VersionProblem(uri, "unreadable", f"cannot list the version directory: {exc.detail}")
    if MANIFEST_NAME not in objects:
        if objects:
            return VersionProblem(
                uri, "partial", f"{len(objects)} file(s) but no {MANIFEST_NAME}: an export is unfinished"
            )
        return VersionProblem(uri, "missing", "no files: the version was never exported")
    try:
        raw = store.read(MANIFEST_NAME)
        manifest = Manifest.from_json(raw or b"")
    except (StorageError, ValueError, KeyError, TypeError) as exc:
        return VersionProblem(uri, "unreadable", f"{MANIFEST_NAME} cannot be read: {exc}")
    problems = compare_files(manifest.files, {k: v for k, v in objects.items() if k != MANIFEST_NAME})
    if problems:
        return VersionProblem(uri, "mismatch", "; ".join(problems))
    return VerifiedVersion(uri, manifest)


def compare_files(expected: list[FileEntry], actual: dict[str, Any]) -> list[str]:
    """Differences between manifest entries and listed objects (anything with size and crc32c)."""
    problems = []
    for entry in expected:
        got = actual.get(entry.path)
        if got is None:
            problems.append(f"{entry.path} is missing")
        elif got.size != entry.size:
            problems.append(f"{entry.path} has {got.size} bytes, manifest says {entry.size}")
        elif got.crc32c is not None and got.crc32c != entry.crc32c:
            problems.append(f"{entry.path} has crc32c {got.crc32c}, manifest says {entry.crc32c}")
    listed = {e.path for e in expected}
    problems.extend(f"{path} is not in the manifest" for path in sorted(set(actual) - listed))
    return problems


def version_uri(output: str, version: int) -> str:
    return join(output, str(version))
