"""Level-based work queue: each ServedModel is reconciled alone, again after its requeue delay,
and at once when it or one of its children changes. No state is persisted: a restarted operator
rebuilds everything from the cluster (invariant 5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from .kube import ApiError

log = logging.getLogger(__name__)
Key = tuple[str, str]


class Scheduler:
    def __init__(self, reconcile: Callable[[Key], float | None], workers: int = 4) -> None:
        """`reconcile(key)` runs one pass and returns when to come back (None: the object is gone)."""
        self._reconcile = reconcile
        self._keys: set[Key] = set()
        self._due: dict[Key, float] = {}
        self._running: set[Key] = set()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(workers)
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, key: Key) -> None:
        self._keys.add(key)
        self.poke(key)

    def forget(self, key: Key) -> None:
        self._keys.discard(key)
        self._due.pop(key, None)

    def poke(self, key: Key) -> None:
        if key in self._keys:
            self._due[key] = min(self._due.get(key, float("inf")), time.monotonic())
            self._wake.set()

    async def run(self) -> None:
        while True:
            now = time.monotonic()
            for key, due in list(self._due.items()):
                if due <= now and key not in self._running:
                    del self._due[key]
                    self._running.add(key)
                    task = asyncio.create_task(self._one(key))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            pending = [d for k, d in self._due.items() if k not in self._running]
            timeout = max(0.0, min(pending) - time.monotonic()) if pending else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _one(self, key: Key) -> None:
        delay: float | None = 5.0
        try:
            async with self._slots:
                delay = await asyncio.to_thread(self._reconcile, key)
            if delay is None:
                self.forget(key)
        except ApiError as err:
            log.warning("%s/%s: API error, retrying: %s", *key, err)
        except Exception:
            log.exception("%s/%s: reconcile failed, retrying", *key)
        finally:
            self._running.discard(key)
            if key in self._keys and delay is not None:
                self._due[key] = min(self._due.get(key, float("inf")), time.monotonic() + delay)
                self._wake.set()
