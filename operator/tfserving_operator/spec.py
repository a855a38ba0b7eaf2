"""Typed values for a ServedModel. Built only from bodies that passed validation (the CRD schema)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GROUP = "tfserving.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ServedModel"
PLURAL = "servedmodels"

DEFAULT_GPU_IMAGE = "tensorflow/serving:2.18.0-gpu"
DEFAULT_CPU_IMAGE = "tensorflow/serving:2.18.0"


@dataclass(frozen=True)
class Resources:
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Export:
    source: str
    preset: str = "passthrough"
    args: tuple[str, ...] = ()
    image: str | None = None
    service_account_name: str | None = None
    backoff_limit: int = 2
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class ModelVersion:
    version: int
    export: Export | None = None


@dataclass(frozen=True)
class Accelerator:
    type: str
    count: int = 1
    node_label_key: str | None = None


@dataclass(frozen=True)
class Batching:
    max_batch_size: int
    batch_timeout_micros: int | None = None
    num_batch_threads: int | None = None
    max_enqueued_batches: int | None = None
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool | None = None


@dataclass(frozen=True)
class Serving:
    image: str | None = None
    replicas: int = 1
    accelerator: Accelerator | None = None
    resources: Resources = field(default_factory=Resources)
    batching: Batching | None = None
    warmup: bool = True
    gpu_memory_fraction: float | None = None
    config_poll_seconds: int = 10
    extra_args: tuple[str, ...] = ()

    @property
    def effective_image(self) -> str:
        if self.image:
            return self.image
        return DEFAULT_GPU_IMAGE if self.accelerator else DEFAULT_CPU_IMAGE


@dataclass(frozen=True)
class Autoscaling:
    max_replicas: int
    min_replicas: int = 1
    metrics: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Rollout:
    stage_timeout_seconds: int = 900
    keep_previous_stable: bool = False
    config_delivery: str = "reload"


@dataclass(frozen=True)
class ServedModelSpec:
    storage_uri: str
    versions: tuple[ModelVersion, ...]
    model_name: str
    labels: Mapping[str, int] = field(default_factory=dict)
    serving: Serving = field(default_factory=Serving)
    autoscaling: Autoscaling | None = None
    rollout: Rollout = field(default_factory=Rollout)

    def version_uri(self, version: int) -> str:
        return f"{self.storage_uri}/{version}"

    @property
    def version_numbers(self) -> tuple[int, ...]:
        return tuple(sorted(v.version for v in self.versions))


@dataclass(frozen=True)
class ServedModel:
    """The parts of a ServedModel object the operator acts on."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: ServedModelSpec


def _resources(raw: Mapping[str, Any] | None) -> Resources:
    raw = raw or {}
    return Resources(
        requests={k: str(v) for k, v in (raw.get("requests") or {}).items()},
        limits={k: str(v) for k, v in (raw.get("limits") or {}).items()},
    )


def _export(raw: Mapping[str, Any] | None) -> Export | None:
    if raw is None:
        return None
    return Export(
        source=raw["source"],
        preset=raw.get("preset", "passthrough"),
        args=tuple(raw.get("args") or ()),
        image=raw.get("image"),
        service_account_name=raw.get("serviceAccountName"),
        backoff_limit=int(raw.get("backoffLimit", 2)),
        resources=_resources(raw.get("resources")),
    )


def _serving(raw: Mapping[str, Any] | None) -> Serving:
    raw = raw or {}
    acc = raw.get("accelerator")
    bat = raw.get("batching")
    return Serving(
        image=raw.get("image"),
        replicas=int(raw.get("replicas", 1)),
        accelerator=Accelerator(
            type=acc["type"], count=int(acc.get("count", 1)), node_label_key=acc.get("nodeLabelKey")
        )
        if acc
        else None,
        resources=_resources(raw.get("resources")),
        batching=Batching(
            max_batch_size=int(bat["maxBatchSize"]),
            batch_timeout_micros=bat.get("batchTimeoutMicros"),
            num_batch_threads=bat.get("numBatchThreads"),
            max_enqueued_batches=bat.get("maxEnqueuedBatches"),
            allowed_batch_sizes=tuple(sorted(bat.get("allowedBatchSizes") or ())),
            pad_variable_length_inputs=bat.get("padVariableLengthInputs"),
        )
        if bat
        else None,
        warmup=bool(raw.get("warmup", True)),
        gpu_memory_fraction=raw.get("gpuMemoryFraction"),
        config_poll_seconds=int(raw.get("configPollSeconds", 10)),
        extra_args=tuple(raw.get("extraArgs") or ()),
    )


def parse_spec(name: str, raw: Mapping[str, Any]) -> ServedModelSpec:
    auto = raw.get("autoscaling")
    roll = raw.get("rollout") or {}
    return ServedModelSpec(
        storage_uri=raw["storageUri"],
        model_name=raw.get("modelName") or name,
        versions=tuple(
            ModelVersion(version=int(v["version"]), export=_export(v.get("export"))) for v in raw["versions"]
        ),
        labels={k: int(v) for k, v in (raw.get("labels") or {}).items()},
        serving=_serving(raw.get("serving")),
        autoscaling=Autoscaling(
            max_replicas=int(auto["maxReplicas"]),
            min_replicas=int(auto.get("minReplicas", 1)),
            metrics=tuple(auto.get("metrics") or ()),
        )
        if auto
        else None,
        rollout=Rollout(
            stage_timeout_seconds=int(roll.get("stageTimeoutSeconds", 900)),
            keep_previous_stable=bool(roll.get("keepPreviousStable", False)),
            config_delivery=roll.get("configDelivery", "reload"),
        ),
    )


def parse_servedmodel(body: Mapping[str, Any]) -> ServedModel:
    meta = body.get("metadata") or {}
    name = meta.get("name", "")
    return ServedModel(
        name=name,
        namespace=meta.get("namespace") or "default",
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=parse_spec(name, body.get("spec") or {}),
    )
