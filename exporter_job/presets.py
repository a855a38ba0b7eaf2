"""Signature presets: the serving functions written into the SavedModel.

Each preset is exported under its own signature name; the first one is also `serving_default`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from exporter_job.errors import ExportError
from exporter_job.options import ExportOptions, FeatureSpec
from exporter_job.sources import LoadedModel
from exporter_job.storage import StorageError, fetch

DEFAULT_SIGNATURE = "serving_default"
# TF Serving's REST API decodes {"b64": "..."} for any DT_STRING input whatever its name; the `_bytes`
# suffix only makes it base64-encode string *outputs* (tensorflow_serving/util/json_tensor.cc,
# IsNamedTensorBytes). The suffix still tells clients the input is binary.
IMAGE_INPUT = "image_bytes"
EXAMPLE_INPUT = "examples"
LABELS_ASSET = "labels.txt"


@dataclass
class BuiltSignature:
    name: str
    preset: str
    function: Any  # a tf ConcreteFunction taking its inputs positionally, in `input_names` order
    synthesize: Callable[[], dict[str, np.ndarray]]

    @property
    def input_names(self) -> list[str]:
        return [spec.name for spec in self.function.structured_input_signature[0]]

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(self.function(*[inputs[n] for n in self.input_names]))


def signature_name(preset: str) -> str:
    return preset.replace("-", "_")


def build_signatures(
    model: LoadedModel, opts: ExportOptions, root: tf.Module, scratch: Path
) -> list[BuiltSignature]:
    """Builds one signature per preset, attaching what they need (tables, assets) to `root`."""
    built = []
    for preset in opts.presets:
        name = signature_name(preset)
        if preset == "image-classifier":
            fn, synth = _image_classifier(model, opts, root, scratch)
        elif preset == "tf-example":
            fn, synth = _tf_example(model, opts)
        else:
            fn, synth = _passthrough(model)
        built.append(BuiltSignature(name, preset, fn, synth))
    first = built[0]
    return [BuiltSignature(DEFAULT_SIGNATURE, first.preset, first.function, first.synthesize), *built]


def _passthrough(model: LoadedModel) -> tuple[Any, Callable[[], dict[str, np.ndarray]]]:
    names = list(model.input_specs)

    # Positional parameters: the saved signature takes its input keys from the TensorSpec names.
    @tf.function(input_signature=list(model.input_specs.values()))
    def serve(*args: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.call(dict(zip(names, args, strict=True)))

    def synth() -> dict[str, np.ndarray]:
        return {n: _synth_tensor(s) for n, s in model.input_specs.items()}

    return serve.get_concrete_function(), synth


def _synth_tensor(spec: tf.TensorSpec, batch: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    dims = spec.shape.as_list() if spec.shape.rank is not None else [batch]
    shape = [batch if i == 0 and d is None else (d or 1) for i, d in enumerate(dims)]
    if spec.dtype == tf.string:
        return np.full(shape, b"", dtype=object)
    if spec.dtype == tf.bool:
        return np.zeros(shape, dtype=bool)
    if spec.dtype.is_floating:
        return rng.standard_normal(shape).astype(spec.dtype.as_numpy_dtype)
    return np.zeros(shape, dtype=spec.dtype.as_numpy_dtype)


def _single_input(model: LoadedModel, preset: str) -> tuple[str, tf.TensorSpec]:
    if len(model.input_specs) != 1:
        raise ExportError(
            "--preset",
            preset,
            f"needs a model with one input; this one has {list(model.input_specs)}",
            "use --preset tf-example or passthrough, or export a single-input model",
        )
    return next(iter(model.input_specs.items()))


def _image_classifier(
    model: LoadedModel, opts: ExportOptions, root: tf.Module, scratch: Path
) -> tuple[Any, Callable[[], dict[str, np.ndarray]]]:
    img = opts.image
    name, spec = _single_input(model, "image-classifier")
    dims = spec.shape.as_list() if spec.shape.rank is not None else None
    if dims is None or len(dims) != 4 or not spec.dtype.is_floating:
        raise ExportError(
            "--preset",
            "image-classifier",
            f"needs a float input [batch, height, width, channels]; {name!r} is {spec.dtype.name}{dims}",
            "use --preset passthrough, or export a model that takes images",
        )
    size = img.size or (dims[1], dims[2])
    if size[0] is None or size[1] is None:
        raise ExportError(
            "--image-size", None, "is required: the model's input has no fixed size", "pass e.g. 224x224"
        )
    channels = dims[3] or 3
    if channels not in (1, 3):
        raise ExportError(
            "--preset", "image-classifier", f"model expects {channels} channels", "use 1 or 3 channels"
        )
    for flag, values in (("--mean", img.mean), ("--std", img.std)):
        if values and len(values) not in (1, channels):
            raise ExportError(
                flag, ",".join(map(str, values)), f"needs 1 or {channels} values", "match the channels"
            )
    if len(model.output_names) != 1:
        raise ExportError(
            "--preset",
            "image-classifier",
            f"needs a model with one output of class scores; this one has {model.output_names}",
            "export a model whose only output is the class scores, or use --preset passthrough",
        )
    probe = model.call({name: tf.zeros([1, size[0], size[1], channels], spec.dtype)})
    scores_shape = next(iter(probe.values())).shape
    if scores_shape.rank != 2:
        raise ExportError(
            "--preset",
            "image-classifier",
            f"model output has shape {scores_shape}",
            "output [batch, classes]",
        )
    num_classes = int(scores_shape[1])
    labels_path = _labels_file(opts, num_classes, scratch)
    k = min(img.top_k, num_classes)

    root.labels_asset = tf.saved_model.Asset(str(labels_path))
    # The vocabulary is an asset file read by the table at load time, not a constant in the graph.
    root.labels_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            root.labels_asset,
            key_dtype=tf.int64,
            key_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            value_dtype=tf.string,
            value_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )
    mean = tf.constant(img.mean or (0.0,), tf.float32)
    std = tf.constant(img.std or (1.0,), tf.float32)

    def preprocess(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), size)
        if img.channel_order == "BGR" and channels == 3:
            image = image[..., ::-1]
        return (image * img.scale - mean) / std

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGE_INPUT)])
    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = tf.map_fn(
            preprocess, images, fn_output_signature=tf.TensorSpec([size[0], size[1], channels], tf.float32)
        )
        scores = next(iter(model.call({name: tf.cast(batch, spec.dtype)}).values()))
        scores = tf.cast(scores, tf.float32)
        if img.logits:
            scores = tf.nn.softmax(scores, axis=-1)
        top = tf.math.top_k(scores, k=k)
        labels = root.labels_table.lookup(tf.cast(top.indices, tf.int64))
        return {
            "label": labels[:, 0],
            "confidence": top.values[:, 0],
            "class_index": tf.cast(top.indices[:, 0], tf.int64),
            "top_k_labels": labels,
            "top_k_confidences": top.values,
        }

    def synth() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(1)
        encoded = [
            tf.io.encode_png(rng.integers(0, 256, (size[0], size[1], channels), dtype=np.uint8)).numpy()
            for _ in range(2)
        ]
        return {IMAGE_INPUT: np.array(encoded, dtype=object)}

    return serve.get_concrete_function(), synth


def _labels_file(opts: ExportOptions, num_classes: int, scratch: Path) -> Path:
    target = scratch / "labels" / LABELS_ASSET
    target.parent.mkdir(parents=True, exist_ok=True)
    if opts.image.labels is None:
        target.write_text("".join(f"{i}\n" for i in range(num_classes)))
        return target
    try:
        local = fetch(opts.image.labels, scratch / "labels-src", opts.gcs_retry_deadline)
        lines = local.read_text(encoding="utf-8").splitlines()
    except (StorageError, OSError, UnicodeDecodeError) as exc:
        raise ExportError(
            "--labels", opts.image.labels, f"cannot be read ({exc})", "give a UTF-8 text file"
        ) from exc
    if len(lines) != num_classes:
        raise ExportError(
            "--labels",
            opts.image.labels,
            f"has {len(lines)} labels but the model outputs {num_classes} classes",
            "give exactly one label per line, line i naming class i",
        )
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return target


_PARSE_DTYPES = {"float32": tf.float32, "int64": tf.int64, "string": tf.string}


def _derived_feature_spec(model: LoadedModel) -> dict[str, FeatureSpec]:
    spec = {}
    for name, t in model.input_specs.items():
        dims = t.shape.as_list()[1:] if t.shape.rank else []
        if any(d is None for d in dims):
            raise ExportError(
                "--feature-spec",
                None,
                f"cannot be derived: model input {name!r} has a variable shape {t.shape}",
                "pass --feature-spec with fixed shapes",
            )
        dtype = "string" if t.dtype == tf.string else "float32" if t.dtype.is_floating else "int64"
        spec[name] = FeatureSpec(dtype, tuple(dims))
    return spec


def _tf_example(model: LoadedModel, opts: ExportOptions) -> tuple[Any, Callable[[], dict[str, np.ndarray]]]:
    spec = opts.feature_spec or _derived_feature_spec(model)
    missing = [n for n in model.input_specs if n not in spec]
    if missing:
        raise ExportError(
            "--feature-spec",
            sorted(spec),
            f"has no feature for model input(s) {missing}",
            "name one feature after each model input",
        )
    parse_spec = {
        n: tf.io.FixedLenFeature(list(f.shape), _PARSE_DTYPES[f.dtype], default_value=f.default)
        for n, f in spec.items()
    }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLE_INPUT)])
    def serve(examples: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(examples, parse_spec)
        feed = {n: tf.cast(features[n], s.dtype) for n, s in model.input_specs.items()}
        return model.call(feed)

    def synth() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(2)
        records = []
        for _ in range(2):
            feature = {}
            for n, f in spec.items():
                count = int(np.prod(f.shape)) if f.shape else 1
                if f.dtype == "float32":
                    values = rng.standard_normal(count).astype(np.float32).tolist()
                    feature[n] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
                elif f.dtype == "int64":
                    feature[n] = tf.train.Feature(int64_list=tf.train.Int64List(value=[0] * count))
                else:
                    feature[n] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b""] * count))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            records.append(example.SerializeToString())
        return {EXAMPLE_INPUT: np.array(records, dtype=object)}

    return serve.get_concrete_function(), synth
