"""ServerCore: which model versions are loaded, when, and what a request resolves to.

A port, in Python threads, of the parts of tensorflow/serving 2.20.0 that decide it:
- `model_servers/server_core.cc`: ReloadConfig (accepted transitions, ValidateModelConfigList,
  ValidateNoModelsChangePlatforms, `config_` replaced *before* the labels are checked,
  UpdateModelVersionLabelMap with `--allow_version_labels_for_unavailable_models`, the first config
  waiting for `Latest(model)` of every model, a later config waiting *without a timeout*
  (`servable_state_waiter_timeout` is InfiniteDuration in server_core.h) for each newly added
  model on a fresh state monitor while holding the config lock: the hot-reload wedge),
  ServableRequestFromModelSpec and GetModelVersionForLabel.
- `sources/storage_path/file_system_storage_path_source.cc`: the polling thread (a one-shot
  thread when the interval is 0, none when negative), a whole poll failing when any base path is
  missing, version folders read with absl::SimpleAtoi, the latest/all/specific policies (specific's
  fast path with FileExists), models removed from the config unaspired at once.
- `core/aspired_versions_manager.cc`, `core/availability_preserving_policy.cc`,
  `core/basic_manager.cc`, `core/loader_harness.cc`, `util/retrier.cc`: a manage-state loop every
  100 ms taking one action per pass (unloads first), load the highest new aspired version, unload a
  version that is no longer aspired only once an aspired one is ready (or none is aspired), loads
  inline or on `--num_load_threads` threads (4 x CPUs during the initial load,
  `core/load_servables_fast.cc`), retries `--max_num_load_retries` times
  `--load_retry_interval_micros` apart unless the version stops being aspired, a failed version
  kept (and not retried) while it stays aspired.
- `core/servable_state_monitor.cc`: state per version (START, LOADING, AVAILABLE, UNLOADING, END),
  kept after END; a wait on `Latest(name)` is released by the first version, highest first, that
  is AVAILABLE or END.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from . import log
from .flags import simple_atoi
from .status import Status, failed_precondition, invalid_argument, not_found, unavailable, unknown

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"
MANAGE_STATE_INTERVAL_S = 0.1  # AspiredVersionsManager::Options::manage_state_interval_micros
_CORE = "tensorflow_serving/model_servers/server_core.cc"
_SOURCE = "tensorflow_serving/sources/storage_path/file_system_storage_path_source.cc"
_HARNESS = "tensorflow_serving/core/loader_harness.cc"


def periodic(function: Callable[[], None], interval_s: float, stop: threading.Event, name: str) -> threading.Thread:
    """PeriodicFunction: runs at once, then every interval measured start to start."""

    def loop() -> None:
        while not stop.is_set():
            started = time.monotonic()
            function()
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- state monitor


@dataclass
class ServableState:
    name: str
    version: int
    state: str
    error: Status | None = None


class StateMonitor:
    """ServableStateMonitor: every event of the bus, versions highest first."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.states: dict[str, dict[int, ServableState]] = {}

    def handle(self, event: ServableState) -> None:
        with self.cond:
            self.states.setdefault(event.name, {})[event.version] = event
            self.cond.notify_all()

    def version_states(self, name: str) -> dict[int, ServableState]:
        with self.cond:
            return dict(sorted(self.states.get(name, {}).items(), reverse=True))

    def state(self, name: str, version: int) -> ServableState | None:
        with self.cond:
            return self.states.get(name, {}).get(version)

    def _latest_reached(self, name: str) -> ServableState | None:
        for _, event in sorted(self.states.get(name, {}).items(), reverse=True):
            if event.state in (AVAILABLE, END):
                return event
        return None

    def wait_latest(self, names: list[str]) -> dict[str, ServableState]:
        """WaitUntilServablesReachState(Latest(name)..., kAvailable), without a timeout."""
        with self.cond:
            while True:
                reached = {name: self._latest_reached(name) for name in names}
                if all(reached.values()):
                    return reached  # type: ignore[return-value]
                self.cond.wait()


class EventBus:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[StateMonitor] = []

    def subscribe(self, monitor: StateMonitor) -> Callable[[], None]:
        with self.lock:
            self.subscribers.append(monitor)
        return lambda: self._unsubscribe(monitor)

    def _unsubscribe(self, monitor: StateMonitor) -> None:
        with self.lock:
            self.subscribers.remove(monitor)

    def publish(self, event: ServableState) -> None:
        with self.lock:
            subscribers = list(self.subscribers)
        for monitor in subscribers:
            monitor.handle(event)


# ---------------------------------------------------------------- manager


@dataclass
class Harness:
    name: str
    version: int
    path: str
    state: str = "new"  # loader_harness.cc states: new, load-requested, ..., ready, ..., disabled, error
    aspired: bool = True
    should_retry: bool = True
    error: Status | None = None
    servable: Any = None
    handles: int = 0  # ServableHandles given out and not yet released

    @property
    def id(self) -> str:
        return f"{{name: {self.name} version: {self.version}}}"


class Manager:
    """AspiredVersionsManager over a BasicManager, with the AvailabilityPreservingPolicy."""

    def __init__(self, bus: EventBus, load: Callable[[str, int, str], Any], unload: Callable[[Any], None], *,
                 num_load_threads: int, num_unload_threads: int, max_num_load_retries: int, load_retry_interval_micros: int):
        self.bus, self._load, self._unload = bus, load, unload
        self.lock = threading.RLock()
        self.handles_released = threading.Condition(self.lock)
        self.managed: dict[str, dict[int, Harness]] = {}
        self.pending: dict[str, list[tuple[int, str]]] = {}
        self.serving: dict[str, dict[int, Harness]] = {}
        self.max_retries = max(0, max_num_load_retries)
        self.retry_interval_s = load_retry_interval_micros / 1e6
        self.load_pool: ThreadPoolExecutor | None = None
        self.unload_pool = ThreadPoolExecutor(num_unload_threads, thread_name_prefix="unload") if num_unload_threads > 0 else None
        self.set_num_load_threads(num_load_threads)
        self.stop = threading.Event()
        periodic(self._manage_state, MANAGE_STATE_INTERVAL_S, self.stop, "AspiredVersionsManager_ManageState")

    def set_num_load_threads(self, count: int) -> None:
        self.num_load_threads = count
        self.load_pool = ThreadPoolExecutor(count, thread_name_prefix="load") if count > 0 else None

    # The Target side: what the source aspires.
    def set_aspired_versions(self, name: str, versions: list[tuple[int, str]]) -> None:
        with self.lock:
            self.pending[name] = versions

    def _manage_state(self) -> None:
        with self.lock:
            self._flush()
            self._handle_pending()
            action = self._next_action()
        if action:
            kind, harness = action
            (self._load_servable if kind == "load" else self._unload_servable)(harness)

    def _flush(self) -> None:
        for name, versions in list(self.managed.items()):
            for version, harness in list(versions.items()):
                if harness.state in ("new", "disabled", "error") and not harness.aspired:
                    del versions[version]
            if not versions:
                del self.managed[name]

    def _handle_pending(self) -> None:
        for name in list(self.pending):
            numbers = {v for v, _ in self.pending[name]}
            current = self.managed.get(name, {})
            if any(not h.aspired and h.version in numbers for h in current.values()):
                continue  # re-aspired versions wait until they are flushed
            versions = self.pending.pop(name)
            aspired_now = {v for v, h in current.items() if h.aspired}
            for version, harness in current.items():
                if version not in numbers:
                    harness.aspired = False
                    if harness.error is None:
                        harness.should_retry = False  # CancelLoadServableRetry
            for version, path in versions:
                if version in aspired_now or version in self.managed.get(name, {}):
                    continue
                self.managed.setdefault(name, {})[version] = Harness(name, version, path)
                self.bus.publish(ServableState(name, version, START))

    def _next_action(self) -> tuple[str, Harness] | None:
        actions = []
        for name in list(self.managed):
            versions = list(self.managed[name].values())
            has_aspired = any(h.aspired for h in versions)
            has_aspired_serving = any(h.aspired and h.state == "ready" for h in versions)
            unaspired_serving = [h for h in versions if not h.aspired and h.state == "ready"]
            if (not has_aspired or has_aspired_serving or len(unaspired_serving) > 1) and unaspired_serving:
                actions.append(("unload", min(unaspired_serving, key=lambda h: h.version)))
                continue
            new = [h for h in versions if h.aspired and h.state == "new"]
            if new:
                actions.append(("load", max(new, key=lambda h: h.version)))
        actions.sort(key=lambda a: a[0] != "unload")  # CompareActions: an unload before a load
        return actions[0] if actions else None

    def _load_servable(self, harness: Harness) -> None:
        with self.lock:
            if harness.error is not None or harness.state != "new":
                return
            harness.state = "load-requested"
        if self.load_pool is None:
            self._execute_load(harness)
        else:
            self.load_pool.submit(self._execute_load, harness)

    def _execute_load(self, harness: Harness) -> None:
        harness.state = "load-approved"
        log.info(_HARNESS, f"Approving load for servable version {harness.id}")
        self.bus.publish(ServableState(harness.name, harness.version, LOADING))
        harness.state = "loading"
        log.info(_HARNESS, f"Loading servable version {harness.id}")
        description = f"Loading servable: {harness.id}"
        tries, error = 0, None
        while True:
            if tries > 0:
                if self.retry_interval_s > 0:
                    time.sleep(self.retry_interval_s)
                log.info("tensorflow_serving/util/retrier.cc", f"Retrying of {description} retry: {tries}")
            try:
                servable = self._load(harness.name, harness.version, harness.path)
                error = None
            except Status as failure:
                error = failure
                log.error("tensorflow_serving/util/retrier.cc", f"{description} failed: {failure}")
            tries += 1
            if error is None or tries >= self.max_retries + 1 or not harness.should_retry:
                break
        if not harness.should_retry:
            log.info("tensorflow_serving/util/retrier.cc", f"Retrying of {description} was cancelled.")
        if tries == self.max_retries + 1:
            log.info("tensorflow_serving/util/retrier.cc", f"Retrying of {description} exhausted max_num_retries: {self.max_retries}")
        if error is None and not harness.should_retry:
            self._unload(servable)
            error = Status("CANCELLED", "Loading of servable cancelled")
        if error is not None:
            with self.lock:
                harness.state, harness.error = "error", error
            log.info(_HARNESS, f"Encountered an error for servable version {harness.id}: {error}")
            self.bus.publish(ServableState(harness.name, harness.version, END, error))
            log.error("tensorflow_serving/core/aspired_versions_manager.cc", f"Servable {harness.id} cannot be loaded: {error}")
            return
        with self.lock:
            harness.servable, harness.state = servable, "ready"
            self.serving.setdefault(harness.name, {})[harness.version] = harness
        log.info(_HARNESS, f"Successfully loaded servable version {harness.id}")
        self.bus.publish(ServableState(harness.name, harness.version, AVAILABLE))

    def _unload_servable(self, harness: Harness) -> None:
        with self.lock:
            if harness.state != "ready":
                return
            harness.state = "unload-requested"
        if self.unload_pool is None:
            self._execute_unload(harness)
        else:
            self.unload_pool.submit(self._execute_unload, harness)

    def _execute_unload(self, harness: Harness) -> None:
        harness.state = "quiescing"
        log.info(_HARNESS, f"Quiescing servable version {harness.id}")
        self.bus.publish(ServableState(harness.name, harness.version, UNLOADING))
        with self.handles_released:
            self.serving.get(harness.name, {}).pop(harness.version, None)
            if not self.serving.get(harness.name, True):
                del self.serving[harness.name]
            # UpdateServingMap blocks until the last handle from the old map is freed: requests
            # already running on this version finish on it.
            while harness.handles:
                self.handles_released.wait()
        harness.state = "quiesced"
        log.info(_HARNESS, f"Done quiescing servable version {harness.id}")
        harness.state = "unloading"
        self._unload(harness.servable)
        harness.servable, harness.state = None, "disabled"
        log.info(_HARNESS, f"Done unloading servable version {harness.id}")
        self.bus.publish(ServableState(harness.name, harness.version, END))

    def handle(self, name: str, version: int | None) -> Harness:
        """BasicManager's serving map: a READY version, the highest for Latest; the caller holds a
        handle until `release` (an unload waits for the last one, like UpdateServingMap)."""
        with self.lock:
            versions = self.serving.get(name, {})
            if version is None and versions:
                harness = versions[max(versions)]
            elif version is not None and version in versions:
                harness = versions[version]
            elif version is None:
                raise not_found(f"Servable not found for request: Latest({name})")
            else:
                raise not_found(f"Servable not found for request: Specific({name}, {version})")
            harness.handles += 1
            return harness

    def release(self, harness: Harness) -> None:
        with self.handles_released:
            harness.handles -= 1
            self.handles_released.notify_all()


# ---------------------------------------------------------------- file-system source


@dataclass
class WatchedModel:
    name: str
    base_path: str
    policy: Any  # FileSystemStoragePathSourceConfig.ServableVersionPolicy


def _exists(path: str) -> Status | None:
    scheme = path.split("://", 1)[0] if "://" in path else ""
    if scheme and scheme != "file":
        return Status("UNIMPLEMENTED", f"File system scheme '{scheme}' not implemented (file: '{path}')")
    local = path[len("file://"):] if scheme == "file" else path
    if os.path.exists(local):
        return None
    return not_found(f"{local}; No such file or directory")


def _children(path: str) -> list[str]:
    local = path[len("file://"):] if path.startswith("file://") else path
    return sorted(set(os.listdir(local)))


class FileSystemSource:
    """FileSystemStoragePathSource."""

    def __init__(self, models: list[WatchedModel], poll_wait_seconds: int, callback: Callable[[str, list[tuple[int, str]]], None]):
        self.lock = threading.Lock()
        self.models, self.poll_wait_seconds, self.callback = models, poll_wait_seconds, callback
        self.stop = threading.Event()

    def start(self) -> None:
        """SetAspiredVersionsCallback: a one-shot thread (0), a periodic one (> 0) or none (< 0)."""
        if self.poll_wait_seconds == 0:
            threading.Thread(target=self._poll_and_report, name="FileSystemStoragePathSource_oneshot", daemon=True).start()
        elif self.poll_wait_seconds > 0:
            periodic(self._poll_and_report, self.poll_wait_seconds, self.stop, "FileSystemStoragePathSource_polling")

    def update(self, models: list[WatchedModel]) -> None:
        """UpdateConfig: models no longer listed are unaspired now; new ones wait for the next poll."""
        with self.lock:
            kept = {m.name for m in models}
            for model in self.models:
                if model.name not in kept:
                    self.callback(model.name, [])
            self.models = models

    def _poll_and_report(self) -> None:
        with self.lock:
            try:
                found = [(model.name, self._poll(model)) for model in self.models]
            except Status as error:
                log.error(_SOURCE, f"FileSystemStoragePathSource encountered a filesystem access error: {error.message}")
                return
            for name, versions in found:
                self.callback(name, versions)

    @staticmethod
    def _poll(model: WatchedModel) -> list[tuple[int, str]]:
        missing = _exists(model.base_path)
        if missing is not None:
            raise invalid_argument(f"Could not find base path {model.base_path} for servable {model.name} with error {missing}")
        join = lambda child: os.path.join(model.base_path, child)  # noqa: E731
        choice = model.policy.WhichOneof("policy_choice")
        if choice == "specific":
            wanted = list(model.policy.specific.versions)
            if not wanted:
                log.warning(_SOURCE, f"No specific versions requested for servable {model.name}.")
                return []
            if all(_exists(join(str(v))) is None for v in wanted):
                return [(v, join(str(v))) for v in wanted]
        children = sorted({child.split("/", 1)[0] for child in _children(model.base_path)})
        by_version: dict[int, str] = {}
        for child in children:
            number = simple_atoi(child)
            if number is None:
                continue
            if number in by_version:
                log.warning(_SOURCE, f"Duplicate version directories detected. Version {number} will be loaded from {child}, "
                                     f"{by_version[number]} will be ignored.")
            by_version[number] = child
        if choice == "all":
            versions = [(n, join(c)) for c in children if (n := simple_atoi(c)) is not None]
        elif choice == "specific":
            wanted_set = set(model.policy.specific.versions)
            versions = [(n, join(c)) for n, c in sorted(by_version.items()) if n in wanted_set]
            for version in wanted_set - {n for n, _ in versions}:
                log.warning(_SOURCE, f"Version {version} of servable {model.name}, which was requested to be served as a 'specific' "
                                     "version in the servable's version policy, was not found in the file system")
        else:
            keep = max(model.policy.latest.num_versions, 1)
            versions = [(n, join(c)) for n, c in sorted(by_version.items(), reverse=True)[:keep]]
        if not versions:
            log.warning(_SOURCE, f"No versions of servable {model.name} found under base path {model.base_path}. "
                                 "Did you forget to name your leaf directory as a number (eg. '/1/')?")
        return versions


# ---------------------------------------------------------------- server core


def _platform(config) -> str:
    if config.model_type != 0:  # MODEL_TYPE_UNSPECIFIED
        if config.model_platform:
            raise invalid_argument("Illegal setting both ModelServerConfig::model_type (deprecated) and "
                                   f"ModelServerConfig::model_platform, model name is {config.name}")
        if config.model_type == 1:  # TENSORFLOW
            return "tensorflow"
        raise invalid_argument(f"ModelServerConfig::model_type choice {config.model_type} not supported.")
    if not config.model_platform:
        raise invalid_argument("Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
                               f"ModelServerConfig::model_platform, model name is {config.name}")
    return config.model_platform


def _is_relative(uri: str) -> bool:
    """UriIsRelativePath: no scheme, no host, and a path not starting with '/'."""
    return "://" not in uri and not uri.startswith("/")


@dataclass
class CoreOptions:
    file_system_poll_wait_seconds: int = 1
    allow_version_labels_for_unavailable_models: bool = False
    num_load_threads: int = 0
    num_unload_threads: int = 0
    num_initial_load_threads: int = 4
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    platforms: tuple[str, ...] = ("tensorflow",)


@dataclass
class ServerCore:
    options: CoreOptions
    load: Callable[[str, int, str], Any]
    unload: Callable[[Any], None]
    config: Any = None
    labels: dict[str, dict[str, int]] | None = None
    bus: EventBus = field(default_factory=EventBus)
    monitor: StateMonitor = field(default_factory=StateMonitor)

    def __post_init__(self) -> None:
        self.config_lock = threading.Lock()
        self.labels_lock = threading.Lock()
        self.bus.subscribe(self.monitor)
        o = self.options
        self.manager = Manager(self.bus, self.load, self.unload, num_load_threads=o.num_load_threads,
                               num_unload_threads=o.num_unload_threads, max_num_load_retries=o.max_num_load_retries,
                               load_retry_interval_micros=o.load_retry_interval_micros)
        self.source: FileSystemSource | None = None

    def reload_config(self, new_config) -> None:
        """ServerCore::ReloadConfig; raises Status."""
        with self.config_lock:
            is_first = self.config is None or self.config.WhichOneof("config") is None
            is_same = self.config is not None and self.config == new_config
            both_lists = (self.config is not None and self.config.WhichOneof("config") == "model_config_list"
                          and new_config.WhichOneof("config") == "model_config_list")
            if not (is_first or is_same or both_lists):
                raise failed_precondition("Cannot transition to requested config. It is only legal to transition from one "
                                          "ModelConfigList to another.")
            case = new_config.WhichOneof("config")
            if case is None:
                log.info(_CORE, "Taking no action for empty config.")
                return
            if case == "model_config_list":
                names = set()
                for model in new_config.model_config_list.config:
                    if model.name in names:
                        raise invalid_argument(f"Illegal to list model {model.name} multiple times in config list")
                    names.add(model.name)
                for model in new_config.model_config_list.config:
                    if _is_relative(model.base_path):
                        raise invalid_argument(f"Expected model {model.name} to have an absolute path or URI; got "
                                               f"base_path()={model.base_path}")
                if both_lists:
                    old = {m.name: _platform(m) for m in self.config.model_config_list.config}
                    for model in new_config.model_config_list.config:
                        if model.name in old and _platform(model) != old[model.name]:
                            raise invalid_argument(f"Illegal to change a model's platform. For model {model.name} platform was "
                                                   f"{old[model.name]} and new platform requested is {_platform(model)}")
            self.config = type(new_config)()
            self.config.CopyFrom(new_config)
            self._update_labels()
            log.info(_CORE, "Adding/updating models.")
            if case == "custom_model_config":
                log.error("tensorflow_serving/model_servers/server.cc", "ModelServer does not yet support custom model config.")
                os.abort()  # LOG(FATAL) in LoadCustomModelConfig
            self._add_models()
            log.info(_CORE, "Finished adding/updating models")
            for model in self.config.model_config_list.config:
                if model.HasField("logging_config"):
                    # ServerRequestLogger::Update without a request-logger creator (server_request_logger.cc).
                    raise invalid_argument("No request-logger-creator provided")

    def _update_labels(self) -> None:
        new_labels: dict[str, dict[str, int]] = {}
        for model in self.config.model_config_list.config:
            states = self.monitor.version_states(model.name)
            for label, version in model.version_labels.items():
                allow = False
                if self.options.allow_version_labels_for_unavailable_models:
                    existing = (self.labels or {}).get(model.name, {}).get(label)
                    allow = not (existing is not None and existing != version)
                state = states.get(version)
                if not allow and (state is None or state.state != AVAILABLE):
                    raise failed_precondition(f"Request to assign label to version {version} of model {model.name}, which is not "
                                              "currently available for inference")
                new_labels.setdefault(model.name, {})[label] = version
        with self.labels_lock:
            self.labels = new_labels

    def _watched(self) -> list[WatchedModel]:
        watched = []
        for model in self.config.model_config_list.config:
            log.info(_CORE, f" (Re-)adding model: {model.name}")
            watched.append(WatchedModel(model.name, model.base_path, model.model_version_policy))
        return watched

    def _add_models(self) -> None:
        for model in self.config.model_config_list.config:
            platform = _platform(model)
            if platform not in self.options.platforms:
                raise invalid_argument(f"Model {model.name} requests unsupported platform {platform}")
        watched = self._watched()
        if self.source is None:
            self.source = FileSystemSource(watched, self.options.file_system_poll_wait_seconds, self.manager.set_aspired_versions)
            previous_threads = self.manager.num_load_threads
            self.manager.set_num_load_threads(self.options.num_initial_load_threads)
            self.source.start()
            reached = self.monitor.wait_latest([m.name for m in watched])
            self.manager.set_num_load_threads(previous_threads)
            failed = [e for e in reached.values() if e.state != AVAILABLE]
            if failed:
                details = "".join(f"{{{{name: {e.name} version: {e.version}}}{f' due to error: {e.error}' if e.error else ''}}}, "
                                  for e in failed)
                raise unknown(f"{len(failed)} servable(s) did not become available: {{{details}}}")
            return
        fresh = StateMonitor()
        unsubscribe = self.bus.subscribe(fresh)
        try:
            old_names = {m.name for m in self.source.models}
            new_models = [m.name for m in watched if m.name not in old_names]
            self.source.update(watched)
            if new_models:
                log.info(_CORE, f"Waiting for new model(s) to become available: {', '.join(new_models)} "
                                "(ServerCore waits for them without a timeout)")
            reached = fresh.wait_latest(new_models)
        finally:
            unsubscribe()
        failed = [e for e in reached.values() if e.state != AVAILABLE]
        if failed:
            details = "".join(f"{{{{name: {e.name} version: {e.version}}}{f' due to error: {e.error}' if e.error else ''}}}, "
                              for e in failed)
            raise unknown(f"{len(failed)} model(s) did not become available: {{{details}}}")

    # ------------------------------------------------------------ requests

    def version_for_label(self, name: str, label: str) -> int:
        with self.labels_lock:
            if self.labels is None:
                raise unavailable(f"Model labels does not init yet.{label}")
            version = self.labels.get(name, {}).get(label)
        if version is None:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return version

    @contextlib.contextmanager
    def servable(self, model_spec) -> Iterator[Harness]:
        """GetServableHandle(model_spec): ServableRequestFromModelSpec then the serving map; the
        version stays loaded while the handle is held."""
        if not model_spec.name:
            raise invalid_argument("ModelSpec has no name specified.")
        choice = model_spec.WhichOneof("version_choice")
        if choice == "version":
            harness = self.manager.handle(model_spec.name, model_spec.version.value)
        elif choice == "version_label":
            harness = self.manager.handle(model_spec.name, self.version_for_label(model_spec.name, model_spec.version_label))
        else:
            harness = self.manager.handle(model_spec.name, None)
        try:
            yield harness
        finally:
            self.manager.release(harness)

