"""Command-line options, parsed into one typed value. No TensorFlow here: `--help` must be fast."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter_job import __version__
from exporter_job.errors import ExportError

PRESETS = ("image-classifier", "tf-example", "passthrough")
FEATURE_DTYPES = ("float32", "int64", "string")


@dataclass(frozen=True)
class FeatureSpec:
    dtype: str
    shape: tuple[int, ...]
    default: Any = None


@dataclass(frozen=True)
class ImageOptions:
    size: tuple[int, int] | None = None  # (height, width); None: from the model's input shape
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    top_k: int = 5
    logits: bool = False
    labels: str | None = None


@dataclass(frozen=True)
class ExportOptions:
    source: str
    output: str
    version: int
    presets: tuple[str, ...] = ("passthrough",)
    source_signature: str = "serving_default"
    graph_inputs: tuple[str, ...] = ()
    graph_outputs: tuple[str, ...] = ()
    image: ImageOptions = field(default_factory=ImageOptions)
    feature_spec: dict[str, FeatureSpec] | None = None
    samples: str | None = None
    warmup: bool = True
    warmup_records: int = 100
    atol: float = 1e-5
    rtol: float = 1e-4
    compatible_with: str | None = None
    upload_workers: int = 8
    composite_threshold_mib: int = 64
    gcs_retry_deadline: float = 120.0
    work_dir: str | None = None
    model_name: str = ""

    def digest_fields(self) -> dict[str, Any]:
        """The options that shape the exported bytes (not where or how fast they are written)."""
        return {
            "presets": list(self.presets),
            "source_signature": self.source_signature,
            "graph_inputs": list(self.graph_inputs),
            "graph_outputs": list(self.graph_outputs),
            "image": {
                "size": list(self.image.size) if self.image.size else None,
                "channel_order": self.image.channel_order,
                "scale": self.image.scale,
                "mean": list(self.image.mean),
                "std": list(self.image.std),
                "top_k": self.image.top_k,
                "logits": self.image.logits,
            },
            "feature_spec": (
                {k: [v.dtype, list(v.shape), v.default] for k, v in sorted(self.feature_spec.items())}
                if self.feature_spec is not None
                else None
            ),
            "warmup": self.warmup,
            "warmup_records": self.warmup_records,
            "model_name": self.model_name,
        }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="savedmodel-export",
        epilog=f"exporter version {__version__}",
        description=(
            "Export a model as a TensorFlow Serving SavedModel and publish it to <output>/<version>/. "
            "The version exists once export-manifest.json, written last, is present and matches the files."
        ),
    )
    src = p.add_argument_group("source")
    src.add_argument(
        "--source",
        required=True,
        help="gs://bucket/path or a local path: a Keras file (.keras, .h5), a SavedModel directory, a frozen "
        "GraphDef (.pb), or py:module:function naming a factory that returns a Keras model",
    )
    src.add_argument(
        "--source-signature",
        default="serving_default",
        help="signature of a SavedModel source to re-sign (default: serving_default)",
    )
    src.add_argument("--graph-inputs", nargs="+", default=[], metavar="NAME:0", help="GraphDef input tensors")
    src.add_argument(
        "--graph-outputs", nargs="+", default=[], metavar="NAME:0", help="GraphDef output tensors"
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--output", required=True, help="gs://bucket/path or a local directory (the model's base path)"
    )
    out.add_argument(
        "--version",
        type=int,
        required=True,
        metavar="N",
        help="model version; written to <output>/<N>/ (N >= 1)",
    )
    out.add_argument(
        "--upload-workers", type=int, default=8, help="parallel upload streams (default 8; 1 = single stream)"
    )
    out.add_argument(
        "--composite-threshold-mib",
        type=int,
        default=64,
        help="files larger than this are uploaded as parallel parts composed into one object "
        "(default 64; 0 disables)",
    )
    out.add_argument(
        "--gcs-retry-deadline",
        type=float,
        default=120.0,
        help="seconds to keep retrying a failing GCS request before giving up (default 120)",
    )
    out.add_argument("--work-dir", help="local scratch directory (default: a temporary directory)")
    sig = p.add_argument_group("signatures")
    sig.add_argument(
        "--preset",
        action="append",
        choices=PRESETS,
        help="signature preset; repeat for several signatures. Each preset is exported under its own name "
        "(image_classifier, tf_example, passthrough) and the first one also as serving_default "
        "(default: passthrough)",
    )
    sig.add_argument(
        "--labels", help="image-classifier: label vocabulary, one label per line, line i = class i"
    )
    sig.add_argument(
        "--image-size", metavar="HxW", help="image-classifier: resize to HxW (default: model input)"
    )
    sig.add_argument(
        "--channel-order", choices=("RGB", "BGR"), default="RGB", help="channel order the model expects"
    )
    sig.add_argument("--scale", type=float, default=1.0 / 255.0, help="pixel scale factor (default 1/255)")
    sig.add_argument("--mean", help="per-channel mean subtracted after scaling, e.g. 0.485,0.456,0.406")
    sig.add_argument(
        "--std", help="per-channel std divided after subtracting the mean, e.g. 0.229,0.224,0.225"
    )
    sig.add_argument(
        "--top-k", type=int, default=5, help="image-classifier: number of top classes (default 5)"
    )
    sig.add_argument("--logits", action="store_true", help="the model outputs logits: apply softmax first")
    sig.add_argument(
        "--feature-spec",
        help='tf-example: JSON (or @file) mapping feature -> {"dtype": float32|int64|string, "shape": [..], '
        '"default": ...}; default: one feature per model input',
    )
    sig.add_argument("--model-name", default="", help="model name written into warmup requests")
    chk = p.add_argument_group("validation and warmup")
    chk.add_argument(
        "--samples",
        help="JSON file (local or gs://) of sample requests in TF Serving REST row format: "
        '{"signature_name": ..., "instances": [...]} or a list of them; binary strings as {"b64": ...}',
    )
    chk.add_argument(
        "--no-warmup", action="store_true", help="do not write assets.extra/tf_serving_warmup_requests"
    )
    chk.add_argument(
        "--warmup-records", type=int, default=100, help="maximum warmup records (TF Serving reads <= 1000)"
    )
    chk.add_argument(
        "--atol", type=float, default=1e-5, help="absolute tolerance when comparing with the source"
    )
    chk.add_argument(
        "--rtol", type=float, default=1e-4, help="relative tolerance when comparing with the source"
    )
    chk.add_argument(
        "--compatible-with",
        metavar="VERSION_URI",
        help="an earlier version directory; refuse to publish if a signature changed incompatibly",
    )
    chk.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def _floats(flag: str, raw: str | None) -> tuple[float, ...]:
    if not raw:
        return ()
    try:
        return tuple(float(x) for x in raw.split(","))
    except ValueError as exc:
        raise ExportError(
            flag, raw, "is not a comma-separated list of numbers", "write e.g. 0.5,0.5,0.5"
        ) from exc


def _image_size(raw: str | None) -> tuple[int, int] | None:
    if raw is None:
        return None
    h, sep, w = raw.lower().partition("x")
    if not sep or not h.isdigit() or not w.isdigit() or int(h) < 1 or int(w) < 1:
        raise ExportError("--image-size", raw, "is not HEIGHTxWIDTH", "write e.g. 224x224")
    return int(h), int(w)


def parse_feature_spec(raw: str) -> dict[str, FeatureSpec]:
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text()
        except OSError as exc:
            raise ExportError(
                "--feature-spec", raw, f"cannot be read ({exc})", "give an existing file"
            ) from exc
    fix = 'give a JSON object like {"x": {"dtype": "float32", "shape": [4]}}'
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError("--feature-spec", raw, f"is not valid JSON ({exc})", fix) from exc
    if not isinstance(data, dict) or not data:
        raise ExportError("--feature-spec", raw, "is not a non-empty JSON object", fix)
    spec = {}
    for name, item in data.items():
        if not isinstance(item, dict) or item.get("dtype") not in FEATURE_DTYPES:
            raise ExportError(
                "--feature-spec", raw, f"feature {name!r} needs a dtype in {list(FEATURE_DTYPES)}", fix
            )
        shape = item.get("shape", [])
        if not isinstance(shape, list) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ExportError(
                "--feature-spec", raw, f"feature {name!r} has shape {shape!r}", "use positive ints"
            )
        spec[name] = FeatureSpec(item["dtype"], tuple(shape), item.get("default"))
    return spec


def options_from_args(ns: argparse.Namespace) -> ExportOptions:
    if ns.version < 1:
        raise ExportError("--version", ns.version, "must be a positive integer", "pass e.g. 1")
    if ns.upload_workers < 1:
        raise ExportError("--upload-workers", ns.upload_workers, "must be at least 1", "pass e.g. 8")
    if ns.top_k < 1:
        raise ExportError("--top-k", ns.top_k, "must be at least 1", "pass e.g. 5")
    if not 0 < ns.warmup_records <= 1000:
        # TF Serving reads at most 1000 warmup records (servables/tensorflow/saved_model_warmup_util).
        raise ExportError(
            "--warmup-records", ns.warmup_records, "must be 1..1000", "TF Serving reads at most 1000"
        )
    presets = tuple(dict.fromkeys(ns.preset or ["passthrough"]))
    mean = _floats("--mean", ns.mean)
    std = _floats("--std", ns.std)
    if any(s == 0 for s in std):
        raise ExportError("--std", ns.std, "contains 0", "give non-zero standard deviations")
    if bool(ns.graph_inputs) != bool(ns.graph_outputs):
        flag = "--graph-outputs" if ns.graph_inputs else "--graph-inputs"
        raise ExportError(
            flag, None, "is missing", "a GraphDef source needs both --graph-inputs and --graph-outputs"
        )
    return ExportOptions(
        source=ns.source,
        output=ns.output,
        version=ns.version,
        presets=presets,
        source_signature=ns.source_signature,
        graph_inputs=tuple(ns.graph_inputs),
        graph_outputs=tuple(ns.graph_outputs),
        image=ImageOptions(
            size=_image_size(ns.image_size),
            channel_order=ns.channel_order,
            scale=ns.scale,
            mean=mean,
            std=std,
            top_k=ns.top_k,
            logits=ns.logits,
            labels=ns.labels,
        ),
        feature_spec=parse_feature_spec(ns.feature_spec) if ns.feature_spec else None,
        samples=ns.samples,
        warmup=not ns.no_warmup,
        warmup_records=ns.warmup_records,
        atol=ns.atol,
        rtol=ns.rtol,
        compatible_with=ns.compatible_with,
        upload_workers=ns.upload_workers,
        composite_threshold_mib=ns.composite_threshold_mib,
        gcs_retry_deadline=ns.gcs_retry_deadline,
        work_dir=ns.work_dir or os.environ.get("EXPORTER_WORK_DIR"),
        model_name=ns.model_name,
    )
