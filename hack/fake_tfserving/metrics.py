"""Prometheus metrics, in the exposition format of tensorflow_serving/util/prometheus_exporter.cc."""

from __future__ import annotations

import threading
from collections import Counter

from .errors import Code


class RequestCounter:
    """/tensorflow/serving/request_count{model_name, status} (servables/tensorflow/util.cc).

    Exported as `:tensorflow:serving:request_count` (the exporter turns '/' into ':'). The status
    label is the canonical code name, e.g. OK or NOT_FOUND. There is no version label.
    """

    NAME = ":tensorflow:serving:request_count"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, model_name: str, code: Code) -> None:
        with self._lock:
            self._counts[(model_name, code.name)] += 1

    def render(self) -> str:
        with self._lock:
            items = sorted(self._counts.items())
        if not items:
            return "\n"
        lines = [f"# TYPE {self.NAME} counter"]
        for (model, status), count in items:
            lines.append(f'{self.NAME}{{model_name="{_escape(model)}",status="{status}"}} {count}')
        return "\n".join(lines) + "\n\n"


def _escape(value: str) -> str:
    # prometheus_exporter.cc SanitizeLabelValue escapes backslash, quote and newline.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
