"""Is a version complete in storage? Complete versions are immutable, so that answer is cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .observe import VersionCheck


class CachedStorageCheck:
    """Remembers complete versions forever and re-checks incomplete ones at most every `recheck_s`."""

    def __init__(self, check: Callable[[str], VersionCheck], recheck_s: float = 5.0) -> None:
        self._check = check
        self._recheck_s = recheck_s
        self._complete: set[str] = set()
        self._recent: dict[str, tuple[float, VersionCheck]] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, uri: str) -> VersionCheck:
        with self._lock:
            if uri in self._complete:
                return VersionCheck(complete=True)
            cached = self._recent.get(uri)
            if cached and time.monotonic() - cached[0] < self._recheck_s:
                return cached[1]
        self.calls += 1
        try:
            result = self._check(uri)
        except Exception as err:  # storage unreachable: report, retry later
            result = VersionCheck(complete=False, problem=f"cannot read {uri}: {err}")
        with self._lock:
            if result.complete:
                self._complete.add(uri)
            else:
                self._recent[uri] = (time.monotonic(), result)
        return result


def manifest_check(uri: str) -> VersionCheck:
    """The exporter's own verification of export-manifest.json against the version's files."""
    from exporter_job.manifest import VersionProblem, verify_version

    result = verify_version(uri, retry_deadline=5.0)
    if isinstance(result, VersionProblem):
        return VersionCheck(complete=False, problem=result.message)
    return VersionCheck(complete=True)
