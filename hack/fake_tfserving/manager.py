"""Version lifecycle: START -> LOADING -> AVAILABLE -> UNLOADING -> END, per model version.

Mirrors AspiredVersionsManager + ServableStateMonitor: the storage poller says which versions are
aspired, the availability-preserving policy picks one action at a time per model, and every state
change is recorded for the status API (the monitor never forgets a version: unloaded and failed
versions stay listed as END).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from .errors import Code, ServingError
from .policy import Action, Phase, VersionSnapshot, next_action
from .servable import LoadedVersion

log = logging.getLogger(__name__)

# AspiredVersionsManager's default manage_state_interval_micros is 100ms.
MANAGE_INTERVAL_SECONDS = 0.1


class State(enum.Enum):
    START = "START"
    LOADING = "LOADING"
    AVAILABLE = "AVAILABLE"
    UNLOADING = "UNLOADING"
    END = "END"


@dataclasses.dataclass(frozen=True)
class VersionState:
    version: int
    state: State
    error: ServingError | None = None


@dataclasses.dataclass
class _Harness:
    model: str
    version: int
    base_path: str
    child: str
    state: State = State.START
    error: ServingError | None = None
    is_aspired: bool = True
    busy: bool = False
    loaded: LoadedVersion | None = None
    local_dir: Path | None = None
    in_flight: int = 0

    @property
    def servable_id(self) -> str:
        return f"{{name: {self.model} version: {self.version}}}"  # ServableId::DebugString

    def phase(self) -> Phase:
        if self.busy:
            return Phase.BUSY
        return {
            State.START: Phase.NEW,
            State.AVAILABLE: Phase.READY,
        }.get(self.state, Phase.DONE)


LoadFn = Callable[[str, int, str, str], tuple[LoadedVersion, Path]]
ReleaseFn = Callable[[str, Path], None]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    max_num_load_retries: int  # --max_num_load_retries
    retry_interval_seconds: float  # --load_retry_interval_micros


class Handle:
    """Keeps a version loaded while a request uses it; unloading waits for every handle."""

    def __init__(self, manager: Manager, harness: _Harness) -> None:
        self._manager = manager
        self._harness = harness
        assert harness.loaded is not None
        self.servable: LoadedVersion = harness.loaded
        self.version = harness.version

    def __enter__(self) -> Handle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._manager._release(self._harness)


class Manager:
    def __init__(self, load: LoadFn, release: ReleaseFn, retry: RetryPolicy) -> None:
        self._load_fn = load
        self._release_fn = release
        self._retry = retry
        self._cv = threading.Condition()
        self._harnesses: dict[str, dict[int, _Harness]] = {}
        self._states: dict[str, dict[int, VersionState]] = {}
        self._events: list[tuple[int, str, int]] = []
        self._seq = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._manage_loop, name="manager", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()

    # ------------------------------------------------------------------ aspired versions

    def set_aspired(self, model: str, base_path: str, versions: dict[int, str]) -> None:
        """The source's aspired-versions callback: the complete wanted set for one model."""
        with self._cv:
            harnesses = self._harnesses.setdefault(model, {})
            for version, harness in harnesses.items():
                harness.is_aspired = version in versions
            for version, child in versions.items():
                if version not in harnesses:
                    harness = _Harness(model, version, base_path, child)
                    harnesses[version] = harness
                    self._publish(harness)
            self._flush(model)
            self._cv.notify_all()

    def _flush(self, model: str) -> None:
        # Un-aspired versions that never loaded, or that failed, leave the manager.
        harnesses = self._harnesses.get(model, {})
        for version in list(harnesses):
            harness = harnesses[version]
            if harness.is_aspired or harness.busy:
                continue
            if harness.state is State.START:
                harness.state = State.END
                self._publish(harness)
                del harnesses[version]
            elif harness.state is State.END:
                del harnesses[version]

    # ------------------------------------------------------------------ state records

    def _publish(self, harness: _Harness) -> None:
        self._seq += 1
        state = VersionState(harness.version, harness.state, harness.error)
        self._states.setdefault(harness.model, {})[harness.version] = state
        self._events.append((self._seq, harness.model, harness.version))
        self._cv.notify_all()

    def event_seq(self) -> int:
        with self._cv:
            return self._seq

    def known_models(self) -> set[str]:
        with self._cv:
            return {model for model, harnesses in self._harnesses.items() if harnesses}

    def version_states(self, model: str) -> dict[int, VersionState]:
        with self._cv:
            return dict(self._states.get(model, {}))

    def wait_until_settled(self, models: Iterable[str], since: int) -> dict[str, VersionState]:
        """ServableStateMonitor::WaitUntilServablesReachState for Latest(model) of each model.

        Only events after `since` count (ServerCore uses a fresh monitor per reload). The newest
        version seen for a model decides: done once it is AVAILABLE or END. A model with no
        versions in storage never settles, so the real server waits for it forever.
        """
        wanted = set(models)
        with self._cv:
            while True:
                settled: dict[str, VersionState] = {}
                for model in wanted:
                    seen = {v for seq, m, v in self._events if seq > since and m == model}
                    if not seen:
                        continue
                    state = self._states[model][max(seen)]
                    if state.state in (State.AVAILABLE, State.END):
                        settled[model] = state
                if len(settled) == len(wanted) or self._stopped:
                    return settled
                self._cv.wait(0.5)

    # ------------------------------------------------------------------ serving handles

    def acquire(self, model: str, version: int | None) -> Handle:
        """BasicManager::GetUntypedServableHandle: Specific(name, v) or Latest(name)."""
        with self._cv:
            available = {
                v: h for v, h in self._harnesses.get(model, {}).items() if h.state is State.AVAILABLE
            }
            chosen = available.get(version) if version is not None else None
            if version is None and available:
                chosen = available[max(available)]
            if chosen is None:
                request = f"Specific({model}, {version})" if version is not None else f"Latest({model})"
                raise ServingError(Code.NOT_FOUND, f"Servable not found for request: {request}")
            chosen.in_flight += 1
            return Handle(self, chosen)

    def _release(self, harness: _Harness) -> None:
        with self._cv:
            harness.in_flight -= 1
            self._cv.notify_all()

    # ------------------------------------------------------------------ the manage loop

    def _manage_loop(self) -> None:
        while True:
            with self._cv:
                if self._stopped:
                    return
                for harnesses in self._harnesses.values():
                    self._maybe_act(harnesses)
                self._cv.wait(MANAGE_INTERVAL_SECONDS)

    def _maybe_act(self, harnesses: dict[int, _Harness]) -> None:
        if any(h.busy for h in harnesses.values()):
            return  # one action at a time per model
        decision = next_action([VersionSnapshot(v, h.phase(), h.is_aspired) for v, h in harnesses.items()])
        if decision is None:
            return
        action, version = decision
        harness = harnesses[version]
        harness.busy = True
        if action is Action.LOAD:
            harness.state = State.LOADING
            target: Callable[[_Harness], None] = self._load
        else:
            harness.state = State.UNLOADING
            target = self._unload
        self._publish(harness)
        threading.Thread(target=target, args=(harness,), daemon=True).start()

    def _load(self, harness: _Harness) -> None:
        log.info("Loading servable version %s", harness.servable_id)
        error: ServingError | None = None
        loaded: tuple[LoadedVersion, Path] | None = None
        # retrier.cc Retry: the version stays LOADING through max_num_load_retries more attempts.
        for attempt in range(self._retry.max_num_load_retries + 1):
            if attempt:
                time.sleep(self._retry.retry_interval_seconds)
                if not harness.is_aspired:
                    log.info("Retrying of Loading servable: %s was cancelled.", harness.servable_id)
                    break
                log.info("Retrying of Loading servable: %s retry: %d", harness.servable_id, attempt)
            try:
                loaded = self._load_fn(harness.model, harness.version, harness.base_path, harness.child)
                error = None
                break
            except ServingError as exc:
                error = exc
            except Exception as exc:
                log.exception("unexpected failure loading %s", harness.servable_id)
                error = ServingError(Code.UNKNOWN, str(exc))
            log.error("Loading servable: %s failed: %s", harness.servable_id, error)
        with self._cv:
            harness.busy = False
            if loaded is not None:
                harness.loaded, harness.local_dir = loaded
                harness.state = State.AVAILABLE
                log.info("Successfully loaded servable version %s", harness.servable_id)
            else:
                harness.state = State.END
                harness.error = error
                log.info("Encountered an error for servable version %s: %s", harness.servable_id, error)
            self._publish(harness)
            self._flush(harness.model)

    def _unload(self, harness: _Harness) -> None:
        log.info("Unloading servable version %s", harness.servable_id)
        # Requests already holding the version finish first (the real manager quiesces the
        # servable: no new handles, then waits for the outstanding ones).
        with self._cv:
            while harness.in_flight > 0:
                self._cv.wait(0.5)
            local_dir = harness.local_dir
            harness.loaded = None
        if local_dir is not None:
            try:
                self._release_fn(harness.base_path, local_dir)
            except OSError:
                log.exception("could not remove %s", local_dir)
        with self._cv:
            harness.busy = False
            harness.state = State.END
            self._publish(harness)
            self._harnesses.get(harness.model, {}).pop(harness.version, None)
            log.info("Done unloading servable version %s", harness.servable_id)
