# Two images from one file:
#   docker build --target operator -t tfserving-operator/operator:0.1.0 .
#   docker build --target exporter -t tfserving-operator/exporter:0.1.0 .
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crds ./crds
COPY operator ./operator
COPY exporter_job ./exporter_job

FROM base AS operator
# tensorflow-serving-api only for its ModelServerConfig proto; --no-deps keeps TensorFlow out.
RUN pip install . && pip install --no-deps "tensorflow-serving-api==2.21.*" && rm -rf /src
USER 65532:65532
ENTRYPOINT ["python", "-m", "tfserving_operator"]

FROM base AS exporter
RUN pip install ".[exporter]" && pip install --no-deps "tensorflow-serving-api==2.21.*" && rm -rf /src
ENV HOME=/tmp
USER 1000:1000
ENTRYPOINT ["savedmodel-export"]
