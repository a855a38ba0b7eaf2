"""kopf wiring, and nothing else: watch events only mark an object due; the Scheduler runs passes.

Policy: watch-event handlers only, so kopf keeps no state in the objects (no progress or diff-base
annotations) and needs no finalizer; children go with their owner through ownerReferences and the
garbage collector. Should a persisted handler ever be added, its annotations use `tfserving.dev/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from . import kube
from . import naming as n
from .reconciler import Reconciler
from .scheduler import Scheduler
from .settings import ANNOTATION_PREFIX, OperatorSettings
from .spec import GROUP, PLURAL, VERSION
from .storage import CachedStorageCheck, manifest_check


class _Runtime:
    scheduler: Scheduler | None = None
    reconciler: Reconciler | None = None
    task: asyncio.Task[None] | None = None


runtime = _Runtime()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the kubeconfig named by KUBECONFIG when the operator starts."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.enabled = False  # the operator posts its own Events, one per state change
    settings.watching.server_timeout = 300
    operator_settings = OperatorSettings.from_env()
    api = kube.KubeApi(kube.load_api_client())
    runtime.reconciler = Reconciler(api, operator_settings, CachedStorageCheck(manifest_check))
    runtime.scheduler = Scheduler(runtime.reconciler.reconcile_key)
    runtime.task = asyncio.create_task(runtime.scheduler.run())


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if runtime.task:
        runtime.task.cancel()
    if runtime.reconciler:
        runtime.reconciler.close()


@kopf.on.event(GROUP, VERSION, PLURAL)
def servedmodel_event(type: str, namespace: str | None, name: str, **_: Any) -> None:
    if runtime.scheduler is None or namespace is None:
        return
    if type == "DELETED":
        runtime.scheduler.forget((namespace, name))
    else:
        runtime.scheduler.track((namespace, name))


def _poke_owner(namespace: str | None, labels: Mapping[str, str]) -> None:
    owner = labels.get(n.MODEL_LABEL)
    if runtime.scheduler is not None and owner and namespace:
        runtime.scheduler.poke((namespace, owner))


@kopf.on.event("apps", "v1", "deployments", labels={n.MODEL_LABEL: kopf.PRESENT})
@kopf.on.event("batch", "v1", "jobs", labels={n.MODEL_LABEL: kopf.PRESENT})
@kopf.on.event("", "v1", "pods", labels={n.MODEL_LABEL: kopf.PRESENT})
def child_event(namespace: str | None, labels: Mapping[str, str], **_: Any) -> None:
    _poke_owner(namespace, labels)
