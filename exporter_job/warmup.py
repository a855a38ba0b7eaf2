"""TF Serving warmup records: `<version>/assets.extra/tf_serving_warmup_requests`.

TF Serving replays these at load time before marking the version AVAILABLE (--enable_model_warmup,
default true). The file is an uncompressed TFRecord of serialized PredictionLog, at most 1000 records
(servables/tensorflow/saved_model_warmup_util.cc).
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from exporter_job.samples import SampleRequest

WARMUP_PATH = "assets.extra/tf_serving_warmup_requests"
MAX_RECORDS = 1000


def write_warmup(saved_dir: Path, requests: list[SampleRequest], model_name: str = "") -> int:
    path = saved_dir / WARMUP_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    records = requests[:MAX_RECORDS]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for req in records:
            predict = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=req.signature_name)
            )
            for name, value in req.inputs.items():
                predict.inputs[name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=predict))
            writer.write(log.SerializeToString())
    return len(records)


def read_warmup(saved_dir: Path) -> list[SampleRequest]:
    out = []
    for raw in tf.data.TFRecordDataset(str(saved_dir / WARMUP_PATH)):
        log = prediction_log_pb2.PredictionLog.FromString(raw.numpy())
        request = log.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        out.append(SampleRequest(request.model_spec.signature_name, inputs))
    return out
