"""Model sources: Keras files, SavedModel directories, frozen GraphDefs and Python factories.

`resolve_source` (no TensorFlow) finds the bytes and their digest; `load_model` (TensorFlow) turns them
into a `LoadedModel`: named input specs plus a callable from a dict of tensors to a dict of tensors.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter_job.errors import ExitCode, ExportError
from exporter_job.options import ExportOptions
from exporter_job.storage import StorageError, fetch

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass(frozen=True)
class ResolvedSource:
    uri: str
    kind: str  # keras | savedmodel | graphdef | python
    local_path: Path | None  # None for python factories
    sha256: str


@dataclass
class LoadedModel:
    kind: str
    input_specs: dict[str, Any]  # name -> tf.TensorSpec, in the model's input order
    output_names: list[str]
    call: Callable[[dict[str, Any]], dict[str, Any]]
    trackable: Any  # attached to the export root so the model's variables and assets are saved


def _digest_path(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path if path.is_dir() else path.parent).as_posix().encode())
        with file.open("rb") as fh:
            while chunk := fh.read(4 * 1024 * 1024):
                digest.update(chunk)
    return digest.hexdigest()


def _factory(spec: str) -> Callable[[], Any]:
    module_name, _, func_name = spec.removeprefix("py:").partition(":")
    fix = "write --source py:package.module:function, with the module importable (on PYTHONPATH)"
    if not module_name or not func_name:
        raise ExportError("--source", spec, "is not py:module:function", fix)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExportError(
            "--source", spec, f"module {module_name!r} cannot be imported ({exc})", fix
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ExportError("--source", spec, f"module {module_name!r} has no function {func_name!r}", fix)
    return func


def resolve_source(opts: ExportOptions, scratch: Path) -> ResolvedSource:
    uri = opts.source
    if uri.startswith("py:"):
        func = _factory(uri)
        try:
            text = inspect.getsource(sys.modules[func.__module__])
        except (OSError, TypeError):
            text = uri
        return ResolvedSource(uri, "python", None, hashlib.sha256(text.encode()).hexdigest())
    try:
        local = fetch(uri, scratch / "source", opts.gcs_retry_deadline)
    except StorageError as exc:
        raise ExportError(
            "--source",
            uri,
            f"cannot be read: {exc.detail}",
            "check the path, that the bucket exists and that this job's service account may read it"
            if uri.startswith("gs://")
            else "check the path (local paths are read inside the container)",
        ) from exc
    if local.is_dir():
        if not (local / "saved_model.pb").is_file():
            raise ExportError(
                "--source",
                uri,
                "is a directory without saved_model.pb",
                "point at a SavedModel directory, a .keras/.h5 file, a .pb GraphDef or py:module:function",
            )
        kind = "savedmodel"
    elif local.suffix in KERAS_SUFFIXES:
        kind = "keras"
    elif local.suffix == ".pb":
        kind = "graphdef"
    else:
        raise ExportError(
            "--source",
            uri,
            f"has an unknown file type {local.suffix!r}",
            "give a .keras/.h5 file, a .pb frozen GraphDef, a SavedModel directory or py:module:function",
        )
    if kind == "graphdef" and not opts.graph_inputs:
        raise ExportError(
            "--graph-inputs", None, "is required for a GraphDef source", "name the input tensors, e.g. x:0"
        )
    return ResolvedSource(uri, kind, local, _digest_path(local))


def _safe_name(name: str) -> str:
    name = name.split(":")[0]
    return re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "input"


def _from_keras(model: Any, where: str) -> LoadedModel:
    import keras
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise ExportError(
            "--source", where, f"did not give a Keras model (got {type(model).__name__})", "return one"
        )
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError):
        inputs = []
    if not inputs:
        raise ExportError(
            "--source",
            where,
            "is a Keras model without defined inputs",
            "build it with keras.Input(...) first",
        )
    specs: dict[str, Any] = {}
    for tensor in inputs:
        name = _safe_name(getattr(tensor, "name", "") or f"input_{len(specs)}")
        specs[name] = tf.TensorSpec(tuple(tensor.shape), tf.as_dtype(tensor.dtype), name=name)
    outputs = model.outputs if isinstance(model.outputs, list) else [model.outputs]
    output_names = [_safe_name(n) for n in getattr(model, "output_names", [])]
    if len(output_names) != len(outputs):
        output_names = [f"output_{i}" for i in range(len(outputs))]
    names = list(specs)

    def call(feed: dict[str, Any]) -> dict[str, Any]:
        args = [feed[n] for n in names]
        result = model(args[0] if len(args) == 1 else args, training=False)
        if isinstance(result, dict):
            return {_safe_name(k): v for k, v in result.items()}
        if isinstance(result, list | tuple):
            return dict(zip(output_names, result, strict=True))
        return {output_names[0]: result}

    return LoadedModel("keras", specs, output_names, call, model)


def _from_savedmodel(path: Path, opts: ExportOptions) -> LoadedModel:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signatures = dict(loaded.signatures)
    fn = signatures.get(opts.source_signature)
    if fn is None:
        raise ExportError(
            "--source-signature",
            opts.source_signature,
            f"is not a signature of {opts.source} (it has {sorted(signatures)})",
            "pass one of those names",
        )
    specs = dict(fn.structured_input_signature[1])
    output_names = list(fn.structured_outputs)

    def call(feed: dict[str, Any]) -> dict[str, Any]:
        return dict(fn(**feed))

    return LoadedModel("savedmodel", specs, output_names, call, loaded)


def _tensor(graph: Any, name: str, flag: str, hint: list[str]) -> Any:
    try:
        return graph.get_tensor_by_name(name if ":" in name else f"{name}:0")
    except (KeyError, ValueError) as exc:
        raise ExportError(
            flag, name, "is not a tensor of the GraphDef", f"use one of these, e.g. {', '.join(hint[:8])}"
        ) from exc


def _from_graphdef(path: Path, opts: ExportOptions) -> LoadedModel:
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except Exception as exc:  # protobuf raises DecodeError, a bare Exception subclass
        raise ExportError(
            "--source", opts.source, f"is not a binary GraphDef ({exc})", "give a frozen .pb"
        ) from exc
    wrapped = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
    graph = wrapped.graph
    placeholders = [f"{op.name}:0" for op in graph.get_operations() if op.type == "Placeholder"]
    op_outputs = [f"{op.name}:0" for op in graph.get_operations() if op.outputs][-8:]
    feeds = [_tensor(graph, n, "--graph-inputs", placeholders or op_outputs) for n in opts.graph_inputs]
    fetches = [_tensor(graph, n, "--graph-outputs", op_outputs) for n in opts.graph_outputs]
    try:
        # prune keeps only the subgraph between the feeds and the fetches.
        pruned = wrapped.prune(feeds=feeds, fetches=fetches)
    except (ValueError, KeyError) as exc:
        raise ExportError(
            "--graph-outputs",
            " ".join(opts.graph_outputs),
            f"cannot be computed from --graph-inputs alone ({exc})",
            "list every placeholder the outputs depend on in --graph-inputs",
        ) from exc
    specs = {_safe_name(t.name): tf.TensorSpec(t.shape, t.dtype, name=_safe_name(t.name)) for t in feeds}
    output_names = [_safe_name(t.name) for t in fetches]
    if len(set(specs)) != len(feeds) or len(set(output_names)) != len(fetches):
        raise ExportError("--graph-inputs", opts.graph_inputs, "name the same tensor twice", "list each once")
    names = list(specs)

    def call(feed: dict[str, Any]) -> dict[str, Any]:
        return dict(zip(output_names, pruned(*[feed[n] for n in names]), strict=True))

    return LoadedModel("graphdef", specs, output_names, call, pruned)


def load_model(source: ResolvedSource, opts: ExportOptions) -> LoadedModel:
    if source.kind == "python":
        model = _factory(source.uri)()
        return _from_keras(model, source.uri)
    assert source.local_path is not None
    try:
        if source.kind == "keras":
            import keras

            return _from_keras(keras.models.load_model(str(source.local_path), compile=False), source.uri)
        if source.kind == "savedmodel":
            return _from_savedmodel(source.local_path, opts)
        return _from_graphdef(source.local_path, opts)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            "--source",
            source.uri,
            f"cannot be loaded as a {source.kind} model ({type(exc).__name__}: {str(exc)[:300]})",
            "check that the file is complete and was saved by a compatible Keras/TensorFlow version",
            ExitCode.BAD_INPUT,
        ) from exc
