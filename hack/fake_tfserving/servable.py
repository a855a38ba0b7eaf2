"""One loaded SavedModel version: its signatures, predict, and warmup replay."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import message, text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from .errors import Code, ServingError
from .tensor_proto import proto_to_numpy

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"  # kDefaultServingSignatureDefKey
PREDICT_METHOD = "tensorflow/serving/predict"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000  # saved_model_warmup_util.h WarmupConsts::kMaxNumRecords


@dataclasses.dataclass(frozen=True)
class LoadSettings:
    enable_warmup: bool
    warmup_iterations: int


def _read_meta_graph(export_dir: Path) -> meta_graph_pb2.MetaGraphDef:
    """Reads the MetaGraphDef tagged "serve", with TensorFlow's C++ loader's error texts."""
    pb = export_dir / "saved_model.pb"
    pbtxt = export_dir / "saved_model.pbtxt"
    saved_model = saved_model_pb2.SavedModel()
    if pb.is_file():
        try:
            saved_model.ParseFromString(pb.read_bytes())
        except message.DecodeError:
            raise ServingError(Code.DATA_LOSS, f"Can't parse {pb} as binary proto") from None
    elif pbtxt.is_file():
        try:
            text_format.Parse(pbtxt.read_text(), saved_model)
        except text_format.ParseError:
            raise ServingError(Code.DATA_LOSS, f"Can't parse {pbtxt} as text proto") from None
    else:
        raise ServingError(
            Code.NOT_FOUND,
            "Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
            f"{export_dir}. Check that the directory exists and that you have the right permissions "
            "for accessing it.",
        )
    for meta_graph in saved_model.meta_graphs:
        if set(meta_graph.meta_info_def.tags) == {"serve"}:
            return meta_graph
    raise ServingError(
        Code.NOT_FOUND,
        "Could not find meta graph def matching supplied tags: { serve }. To inspect available tag-sets "
        "in the SavedModel, please use the SavedModel CLI: `saved_model_cli`",
    )


class LoadedVersion:
    """A SavedModel version loaded with TensorFlow, ready to predict."""

    def __init__(self, export_dir: Path) -> None:
        self.export_dir = export_dir
        self.meta_graph = _read_meta_graph(export_dir)
        import tensorflow as tf  # imported late: loading TensorFlow takes seconds

        try:
            self._model: Any = tf.saved_model.load(str(export_dir), tags=["serve"])
        except tf.errors.OpError as exc:
            raise ServingError(Code(exc.error_code), exc.message) from None
        except Exception as exc:
            raise ServingError(Code.UNKNOWN, f"Failed to load SavedModel at {export_dir}: {exc}") from None

    @property
    def signature_defs(self) -> Mapping[str, meta_graph_pb2.SignatureDef]:
        return self.meta_graph.signature_def

    def predict(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = ()
    ) -> tuple[str, dict[str, tuple[np.ndarray, int]]]:
        """predict_util.cc RunPredict: signature lookup, input check, run, outputs by alias."""
        name = signature_name or DEFAULT_SIGNATURE
        signature = self.signature_defs.get(name)
        if signature is None or name not in self._model.signatures:
            raise ServingError(Code.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.')
        expected = set(signature.inputs)
        sent = set(inputs)
        if len(sent) > len(expected) or (len(sent) < len(expected) and not signature.defaults):
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"input size does not match signature: {len(sent)}!={len(expected)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
                f"Missing but required: {{{','.join(sorted(expected - sent))}}}.",
            )
        for key in sorted(sent - expected):
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"input tensor alias not found in signature: {key}. Inputs expected to be in the set "
                f"{{{','.join(sorted(expected))}}}.",
            )
        aliases = list(output_filter) or sorted(signature.outputs)
        seen: set[str] = set()
        for alias in aliases:
            if alias not in signature.outputs:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                    f"{{{','.join(sorted(signature.outputs))}}}.",
                )
            if alias in seen:
                raise ServingError(Code.INVALID_ARGUMENT, f"duplicate output tensor alias: {alias}")
            seen.add(alias)
        import tensorflow as tf

        function = self._model.signatures[name]
        try:
            feeds = {
                key: tf.constant(value, dtype=tf.dtypes.as_dtype(signature.inputs[key].dtype))
                for key, value in inputs.items()
            }
            result = function(**feeds)
        except tf.errors.OpError as exc:
            raise ServingError(Code(exc.error_code), exc.message) from None
        except (TypeError, ValueError) as exc:
            raise ServingError(Code.INVALID_ARGUMENT, str(exc)) from None
        outputs = {
            alias: (np.asarray(result[alias].numpy()), int(signature.outputs[alias].dtype))
            for alias in aliases
        }
        return name, outputs

    def input_dtypes(self, signature_name: str) -> dict[str, int]:
        """HttpRestApiHandler::GetInfoMap: the signature's inputs, for decoding JSON."""
        name = signature_name or DEFAULT_SIGNATURE
        signature = self.signature_defs.get(name)
        if signature is None:
            raise ServingError(
                Code.INVALID_ARGUMENT, f'Serving signature name: "{name}" not found in signature def'
            )
        if not signature.inputs:
            raise ServingError(
                Code.INVALID_ARGUMENT,
                f"Failed to get input map for signature: {signature_name or 'DEFAULT'}",
            )
        return {key: int(info.dtype) for key, info in signature.inputs.items()}

    def warmup(self, settings: LoadSettings) -> None:
        """saved_model_warmup.cc: replay PredictLog records from assets.extra, at most 1000."""
        path = self.export_dir / WARMUP_FILE
        if not settings.enable_warmup or not path.is_file():
            if settings.enable_warmup:
                log.info("No warmup data file found at %s", path)
            return
        import tensorflow as tf
        from tensorflow_serving.apis import prediction_log_pb2

        started = time.monotonic()
        count = 0
        try:
            records = list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
        except tf.errors.OpError as exc:
            raise ServingError(
                Code.DATA_LOSS, f"{exc.message}. Please verify your warmup data is in TFRecord format."
            ) from None
        for record in records:
            count += 1
            if count > MAX_WARMUP_RECORDS:
                raise ServingError(
                    Code.INVALID_ARGUMENT,
                    f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}",
                )
            entry = prediction_log_pb2.PredictionLog()
            try:
                entry.ParseFromString(record)
            except message.DecodeError:
                raise ServingError(
                    Code.INVALID_ARGUMENT, f"Failed to parse warmup record: {record!r} from {path}"
                ) from None
            kind = entry.WhichOneof("log_type")
            if kind != "predict_log":
                # Classify/regress/multi-inference replay is not implemented by this stand-in.
                raise ServingError(Code.UNIMPLEMENTED, f"Unsupported log_type for warmup: {kind}")
            request = entry.predict_log.request
            inputs = {key: proto_to_numpy(value) for key, value in request.inputs.items()}
            for _ in range(max(1, settings.warmup_iterations)):
                self.predict(request.model_spec.signature_name, inputs, list(request.output_filter))
        log.info(
            "Finished reading warmup data for model at %s. Number of warmup records read: %d. "
            "Elapsed time (microseconds): %d.",
            path,
            count,
            int((time.monotonic() - started) * 1e6),
        )
