"""ServerCore: applies models.config (label rule first, then models), resolves model specs."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

from .errors import Code, ServingError
from .extra_protos import BatchingParameters, check_batching_for_load
from .manager import Handle, Manager, RetryPolicy, State, VersionState
from .model_config import ServerConfigProto, validate_transition
from .policy import aspired_versions
from .servable import LoadedVersion, LoadSettings
from .storage import Storage

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CoreOptions:
    allow_version_labels_for_unavailable_models: bool
    file_system_poll_wait_seconds: int
    load_settings: LoadSettings
    retry: RetryPolicy
    batching: BatchingParameters | None  # None unless --enable_batching
    load_delay_seconds: float
    fail_load_versions: frozenset[tuple[str, int]]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    version: int | None = None
    label: str | None = None
    signature_name: str = ""


class ServerCore:
    def __init__(self, options: CoreOptions, storage: Storage) -> None:
        self._options = options
        self._storage = storage
        self.manager = Manager(self._load_version, storage.release, options.retry)
        self._config_lock = threading.Lock()  # one reload at a time (ServerCore::config_mu_)
        self._config: ServerConfigProto | None = None
        self._labels_lock = threading.Lock()
        self._labels: dict[str, dict[str, int]] | None = None
        self._poll_lock = threading.Lock()
        self._poll_wake = threading.Event()
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.manager.start()
        threading.Thread(target=self._poll_loop, name="fs-poll", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self._poll_wake.set()
        self.manager.stop()

    # ------------------------------------------------------------------ config reload

    def reload_config(self, new: ServerConfigProto) -> None:
        """ServerCore::ReloadConfig. Raises ServingError; on error nothing of `new` is applied."""
        with self._config_lock:
            if new.WhichOneof("config") is None:
                log.info("Taking no action for empty config.")
                return
            validate_transition(self._config, new)
            # UpdateModelVersionLabelMap runs before any model is added or version loaded, so a
            # config that adds version N and points a label at N in one step is rejected whole.
            self._update_label_map(new)
            old = self._config
            is_first = old is None
            old_names = set() if old is None else {m.name for m in old.model_config_list.config}
            since = self.manager.event_seq()  # before the new config is visible to the poller
            self._config = new
            log.info("Adding/updating models.")
            self.poll_storage()  # FileSystemStoragePathSource::UpdateConfig polls at once
            log.info("Finished adding/updating models")
            names = [m.name for m in new.model_config_list.config]
            awaited = names if is_first else [n for n in names if n not in old_names]
            if awaited:
                self._wait_available(awaited, since, first=is_first)
            log.info("Finished reloading config")

    def _wait_available(self, models: list[str], since: int, first: bool) -> None:
        settled = self.manager.wait_until_settled(models, since)
        failed = {m: s for m, s in settled.items() if s.state is not State.AVAILABLE}
        if not failed:
            return
        # load_servables_fast.cc (start-up) / server_core.cc WaitUntilModelsAvailable (reload).
        noun = "servable(s)" if first else "model(s)"
        details = "".join(
            f"{{{{name: {m} version: {s.version}}}{' due to error: ' + str(s.error) if s.error else ''}}}, "
            for m, s in sorted(failed.items())
        )
        raise ServingError(Code.UNKNOWN, f"{len(failed)} {noun} did not become available: {{{details}}}")

    def _update_label_map(self, config: ServerConfigProto) -> None:
        """server_core.cc UpdateModelVersionLabelMap: the label rule.

        A label may point only at an AVAILABLE version. --allow_version_labels_for_unavailable_models
        relaxes this only for a label that does not already point at another version, so moving an
        existing label to a version that is not AVAILABLE always fails.
        """
        new_map: dict[str, dict[str, int]] = {}
        for model in config.model_config_list.config:
            states = self.manager.version_states(model.name)
            for label, version in sorted(model.version_labels.items()):
                allow_unavailable = False
                if self._options.allow_version_labels_for_unavailable_models:
                    existing = self._existing_label(model.name, label)
                    allow_unavailable = not (existing is not None and existing != version)
                state = states.get(version)
                if not allow_unavailable and (state is None or state.state is not State.AVAILABLE):
                    raise ServingError(
                        Code.FAILED_PRECONDITION,
                        f"Request to assign label to version {version} of model {model.name}, which is not "
                        "currently available for inference",
                    )
                new_map.setdefault(model.name, {})[label] = version
        with self._labels_lock:
            self._labels = new_map

    def _existing_label(self, model: str, label: str) -> int | None:
        with self._labels_lock:
            if self._labels is None:
                return None
            return self._labels.get(model, {}).get(label)

    def current_config(self) -> ServerConfigProto | None:
        with self._config_lock:
            return self._config

    # ------------------------------------------------------------------ storage polling

    def _poll_loop(self) -> None:
        interval = self._options.file_system_poll_wait_seconds
        while not self._stopped.is_set():
            # --file_system_poll_wait_seconds=0 polls once (at each config change) and never again.
            woke = self._poll_wake.wait(interval if interval > 0 else None)
            if self._stopped.is_set():
                return
            if woke:
                self._poll_wake.clear()
            if self._config is not None:
                try:
                    self.poll_storage()
                except Exception:  # keep polling: the real source logs and tries again
                    log.exception("storage poll failed")

    def poll_storage(self) -> None:
        """FileSystemStoragePathSource::PollFileSystemAndInvokeCallback for every configured model.

        Like the real source, one unreadable base path fails the whole poll: no model is updated.
        """
        with self._poll_lock:
            config = self._config
            if config is None:
                return
            models = list(config.model_config_list.config)
            wanted: dict[str, tuple[str, dict[int, str]]] = {}
            try:
                for model in models:
                    children = self._storage.list_versions(model.name, model.base_path)
                    aspired = aspired_versions(model, children)
                    if not aspired:
                        log.warning(
                            "No versions of servable %s found under base path %s. Did you forget to name "
                            "your leaf directory as a number (eg. '/1/')?",
                            model.name,
                            model.base_path,
                        )
                    wanted[model.name] = (model.base_path, aspired)
            except ServingError as exc:
                log.error(
                    "FileSystemStoragePathSource encountered a filesystem access error: %s", exc.message
                )
                wanted = {}
            configured = {m.name for m in models}
            for name in self.manager.known_models() - configured:
                # Models left out of the new config are un-aspired, hence unloaded.
                self.manager.set_aspired(name, "", {})
            for name, (base_path, aspired) in wanted.items():
                self.manager.set_aspired(name, base_path, aspired)

    # ------------------------------------------------------------------ loading

    def _load_version(
        self, model: str, version: int, base_path: str, child: str
    ) -> tuple[LoadedVersion, Path]:
        if (model, version) in self._options.fail_load_versions:
            # --fail_load_versions: fail as a corrupt SavedModel does in TensorFlow's loader.
            path = self._storage.version_path(base_path, child)
            raise ServingError(Code.DATA_LOSS, f"Can't parse {path}/saved_model.pb as binary proto")
        if self._options.load_delay_seconds:
            time.sleep(self._options.load_delay_seconds)
        if self._options.batching is not None:
            check_batching_for_load(self._options.batching)
        local = self._storage.fetch(model, base_path, child)
        try:
            loaded = LoadedVersion(local)
            loaded.warmup(self._options.load_settings)
        except ServingError as exc:
            self._storage.release(base_path, local)
            # Name the version as configured (e.g. gs://...), not the local download.
            uri = self._storage.version_path(base_path, child)
            raise ServingError(exc.code, exc.message.replace(str(local), uri)) from None
        except BaseException:
            self._storage.release(base_path, local)
            raise
        return loaded, local

    # ------------------------------------------------------------------ requests

    def resolve(self, spec: ModelSpec) -> int | None:
        """ServerCore::ServableRequestFromModelSpec: a version, a label, or latest (None)."""
        if not spec.name:
            raise ServingError(Code.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        if spec.label is None:
            return spec.version
        with self._labels_lock:
            if self._labels is None:
                raise ServingError(Code.UNAVAILABLE, f"Model labels does not init yet.{spec.label}")
            version = self._labels.get(spec.name, {}).get(spec.label)
        if version is None:
            raise ServingError(Code.INVALID_ARGUMENT, f"Unrecognized servable version label: {spec.label}")
        return version

    def handle(self, spec: ModelSpec) -> Handle:
        return self.manager.acquire(spec.name, self.resolve(spec))

    def model_status(self, name: str, version: int | None) -> list[VersionState]:
        """get_model_status_impl.cc: a label in the spec is not consulted, only name and version."""
        states = self.manager.version_states(name)
        if version is not None:
            if version not in states:
                raise ServingError(Code.NOT_FOUND, f"Could not find version {version} of model {name}")
            return [states[version]]
        if not states:
            raise ServingError(Code.NOT_FOUND, f"Could not find any versions of model {name}")
        # ServableStateMonitor::VersionMap is ordered by std::greater: newest version first.
        return [states[v] for v in sorted(states, reverse=True)]
