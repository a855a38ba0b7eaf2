"""One reconcile pass for one ServedModel: observe -> plan -> apply."""

from __future__ import annotations

import collections
import datetime
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import kube
from .apply import Applied, apply_plan
from .observe import StorageCheck, observe
from .plan import Plan, plan
from .settings import OperatorSettings
from .spec import parse_servedmodel

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, api: kube.KubeApi, settings: OperatorSettings, storage_check: StorageCheck) -> None:
        self.api = api
        self.settings = settings
        self.storage_check = storage_check
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="replicas")
        self.passes: collections.Counter[tuple[str, str]] = collections.Counter()

    def reconcile_key(self, key: tuple[str, str]) -> float | None:
        """One pass for the object named `key`, read fresh; when to come back, or None if it is gone."""
        body = self.api.get(kube.SERVED_MODEL, *key)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        the_plan, _ = self.reconcile(body)
        return the_plan.requeue_after

    def reconcile(self, body: dict[str, Any]) -> tuple[Plan, Applied]:
        sm = parse_servedmodel(body)
        self.passes[(sm.namespace, sm.name)] += 1
        observed = observe(self.api, sm, self.settings, self.storage_check, self._pool)
        now = datetime.datetime.now(datetime.UTC)
        the_plan = plan(sm, observed, self.settings, now, body.get("status") or {})
        applied = apply_plan(self.api, body, the_plan, observed, self.settings, self._pool)
        if applied.writes:
            log.info(
                "%s/%s: %s (%d write(s))",
                sm.namespace,
                sm.name,
                the_plan.status["rollout"]["step"],
                applied.writes,
            )
        return the_plan, applied

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
