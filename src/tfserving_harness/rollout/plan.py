"""Rollout planning: the release's current values + a command -> the ordered helm value changes.

Pure functions, no cluster: `tfs-rollout` executes the steps (`execute.py`), the unit tier renders
every intermediate state with the chart and checks that some Ready track serves at every moment.
A plan holds only the steps whose change is not already in place, so re-running a command that
finished (or half finished) plans only what is left.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..upgrade import get_path

#: Track keys that size a track rather than define what it serves: `promote` leaves the stable
#: track's own sizing and copies everything else from the canary.
SIZING_KEYS = ("replicaCount", "autoscaling")
CANARY_TRACK = "canary"
DEFAULT_TRACK = "main"
#: Seconds between moving the canary weight to 0 and deleting the canary Deployment, so the
#: Gateway / ingress controller has stopped sending requests to it first.
DEFAULT_DRAIN_SECONDS = 30.0


class PlanError(ValueError):
    """The command cannot apply to the release as it is; nothing was changed."""


@dataclass(frozen=True)
class Step:
    """One helm upgrade: `changes` are (dotted value path, new value); None removes the key."""

    summary: str
    changes: tuple[tuple[str, Any], ...]
    ready_before: tuple[str, ...] = ()  # tracks whose Deployment must be available before the change
    ready_after: tuple[str, ...] = ()  # tracks to wait for after helm returned
    smoke_before: str = ""  # a Service role (`preview`) smoke-tested before the change
    gate_before: bool = False  # the canary's metrics must pass before the change
    pause_after: float = 0.0  # seconds to wait after the change (draining)


@dataclass(frozen=True)
class Plan:
    command: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.steps


# ---- reading the release's values -------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseValues:
    """The user-supplied values (`helm get values`) and the effective ones (`--all`)."""

    user: Mapping[str, Any]
    effective: Mapping[str, Any]

    def get(self, path: str, default: Any = None) -> Any:
        return get_path(self.effective, path, default)

    @property
    def blue_green(self) -> bool:
        return bool(self.get("blueGreen.enabled"))

    @property
    def tracks(self) -> dict[str, Any]:
        return dict(self.get("tracks") or {})

    @property
    def primary(self) -> str:
        if self.blue_green:
            return self.get("blueGreen.active") or "blue"
        tracks = self.tracks
        return self.get("primaryTrack") or (sorted(tracks)[0] if tracks else DEFAULT_TRACK)

    @property
    def canary_enabled(self) -> bool:
        return bool(self.get("canary.enabled"))

    @property
    def canary_track(self) -> str:
        return self.get("canary.track") or CANARY_TRACK

    @property
    def weight(self) -> int:
        return int(self.get("canary.weight") or 0)

    @property
    def splits_traffic(self) -> bool:
        return bool(self.get("ingress.enabled") or self.get("gatewayApi.enabled"))

    def track_models(self, track: str) -> list[dict]:
        entry = (self.get(f"blueGreen.{track}") if self.blue_green else self.tracks.get(track)) or {}
        return copy.deepcopy(list(entry.get("models") or self.get("models") or []))


def apply_changes(values: Mapping[str, Any], changes: Sequence[tuple[str, Any]]) -> dict:
    """The user values after a step, as helm stores them: each change replaces its key whole."""
    result = copy.deepcopy(dict(values))
    for path, value in changes:
        *parents, last = path.split(".")
        node = result
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return result


def needs_exact_values(user: Mapping[str, Any], changes: Sequence[tuple[str, Any]]) -> bool:
    """Whether `--set-json` cannot express the step: helm keeps a key set to null (it only drops
    nulls that override a chart default) and merges a map into the one it replaces, so a removal
    or a map losing keys must be applied as the whole user values file instead."""
    for path, value in changes:
        old = get_path(user, path, None)
        if value is None and old is not None:
            return True
        if isinstance(old, Mapping) and (not isinstance(value, Mapping) or set(old) - set(value) or _drops_nested(old, value)):
            return True
    return False


def _drops_nested(old: Mapping, new: Mapping) -> bool:
    return any(isinstance(v, Mapping) and isinstance(new.get(k), Mapping) and (set(v) - set(new[k]) or _drops_nested(v, new[k]))
               for k, v in old.items())


def _changed(values: ReleaseValues, changes: Sequence[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """Only the changes that are not in place yet (compared with the effective values)."""
    return tuple((p, v) for p, v in changes if values.get(p) != v)


# ---- canary ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanarySpec:
    """What the canary runs: an image and/or pinned model versions (`{"*": 2}` for every model)."""

    image_tag: str = ""
    image_digest: str = ""
    model_versions: Mapping[str, int] = field(default_factory=dict)
    replicas: int = 1

    def track_entry(self, values: ReleaseValues) -> dict:
        if not (self.image_tag or self.image_digest or self.model_versions):
            raise PlanError("canary start needs what the canary runs: --model-version N (or NAME=N), --image-tag or --image-digest")
        if self.replicas < 1:
            raise PlanError(f"--replicas must be at least 1 (a canary with no pods cannot serve its share), got {self.replicas}")
        entry: dict[str, Any] = {"replicaCount": self.replicas}
        image = {k: v for k, v in (("tag", self.image_tag), ("digest", self.image_digest)) if v}
        if image:
            entry["image"] = image
        if self.model_versions:
            entry["models"] = self._pinned_models(values)
        return entry

    def _pinned_models(self, values: ReleaseValues) -> list[dict]:
        primary = values.primary
        models = values.track_models(primary)
        names = {m["name"] for m in models}
        unknown = sorted(set(self.model_versions) - names - {"*"})
        if unknown:
            raise PlanError(f"--model-version names {unknown}, but the {primary} track serves only {sorted(names)}")
        for model in models:
            version = self.model_versions.get(model["name"], self.model_versions.get("*"))
            if version is None:
                continue
            if int(version) < 1:
                raise PlanError(f"--model-version {model['name']}={version}: versions are positive integers (TF Serving's version folders)")
            specific = (model.get("versionPolicy") or {}).get("specific")
            if not specific:
                raise PlanError(
                    f"model {model['name']} on the {primary} track has no `versionPolicy.specific`: it serves the latest "
                    f"version under {model.get('basePath')}, so putting version {version} there would move the stable "
                    f"track too. Pin the stable track to the version it serves first (e.g. `--set-json "
                    f"'models=[{{\"name\":\"{model['name']}\",\"basePath\":\"{model.get('basePath')}\","
                    f"\"versionPolicy\":{{\"specific\":{{\"versions\":[1]}}}}}}]'`), then start the canary.")
            model["versionPolicy"] = {"specific": {"versions": [int(version)]}}
            # Labels name versions the canary does not load; the chart refuses them there.
            model.pop("versionLabels", None)
        return models


def _require_canary_capable(values: ReleaseValues) -> None:
    if values.blue_green:
        raise PlanError("release uses blueGreen: switch colours with `tfs-rollout bluegreen switch --to <colour>` "
                        "(a weighted move between colours is canary.track=<idle colour>, set by hand)")
    if not values.splits_traffic:
        raise PlanError("a canary needs traffic splitting: set ingress.enabled or gatewayApi.enabled on the release "
                        "(canary weights are route weights; the Services alone cannot split traffic)")


def plan_canary_start(values: ReleaseValues, spec: CanarySpec, first_weight: int) -> Plan:
    _require_canary_capable(values)
    _check_weight(first_weight, "--weight")
    tracks = values.tracks
    primary = values.primary
    if primary == CANARY_TRACK:
        raise PlanError(f"the primary track is named {CANARY_TRACK!r}; promote or rename it before starting another canary")
    entry = spec.track_entry(values)
    existing = tracks.get(CANARY_TRACK)
    if values.canary_enabled and existing is not None and existing != entry and values.weight > 0:
        raise PlanError(f"another canary is already receiving {values.weight}% ({existing}): "
                        "`tfs-rollout promote` or `tfs-rollout rollback` it first")
    notes = []
    track_changes = []
    if not tracks:
        # Naming the existing single track `main` keeps its Deployment and Service names.
        track_changes += [(f"tracks.{DEFAULT_TRACK}", {}), ("primaryTrack", DEFAULT_TRACK)]
        notes.append(f"the release has one track; it becomes track {DEFAULT_TRACK!r} (same Deployment, same Service)")
    track_changes.append((f"tracks.{CANARY_TRACK}", entry))
    steps = []
    # The track comes first, with traffic splitting untouched: not even header-pinned testers reach
    # it before its Deployment is available.
    deploy = _changed(values, track_changes)
    if deploy:
        steps.append(Step(f"deploy track {CANARY_TRACK} (no traffic yet) and wait until it is available",
                          deploy, ready_after=(CANARY_TRACK,)))
    if existing == entry and values.canary_enabled and values.weight > 0:
        notes.append(f"canary already running at {values.weight}%: nothing to start")
    else:
        route = _changed(values, (("canary.enabled", True), ("canary.track", CANARY_TRACK), ("canary.weight", first_weight)))
        if route:
            steps.append(Step(f"send {first_weight}% of requests to track {CANARY_TRACK}", route, ready_before=(CANARY_TRACK,)))
    return Plan("canary start", tuple(steps), tuple(notes))


def parse_steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise PlanError(f"--steps must be comma-separated percentages like 5,25,50,100, got {text!r}") from None
    for s in steps:
        _check_weight(s, "--steps")
    if list(steps) != sorted(set(steps)) or steps[0] <= 0:
        raise PlanError(f"--steps must be strictly increasing percentages above 0, got {text!r}")
    return steps


def next_weight(current: int, steps: Sequence[int]) -> int | None:
    """The first step above the current weight; None when the canary is at (or past) the last."""
    return next((s for s in steps if s > current), None)


def _require_running_canary(values: ReleaseValues, command: str) -> str:
    _require_canary_capable(values)
    track = values.canary_track
    if not values.canary_enabled or track not in values.tracks:
        raise PlanError(f"{command}: the release has no canary (canary.enabled={values.canary_enabled}, "
                        f"tracks={sorted(values.tracks)}); start one with `tfs-rollout canary start`")
    return track


def plan_canary_advance(values: ReleaseValues, target: int) -> Plan:
    track = _require_running_canary(values, "canary advance")
    _check_weight(target, "--to")
    if values.weight >= target:
        return Plan("canary advance", (), (f"canary already at {values.weight}% (>= {target}%): nothing to do",))
    # At 0% the canary has had no traffic to judge (header-pinned testers aside): nothing to gate.
    gated = values.weight > 0
    what = "gate the canary, then move" if gated else "move"
    return Plan("canary advance", (Step(f"{what} track {track} from {values.weight}% to {target}%",
                                        (("canary.weight", target),), ready_before=(track,), gate_before=gated),))


def plan_canary_abort(values: ReleaseValues) -> Plan:
    """A failed gate: every request back to the primary track at once (the canary stays for diagnosis)."""
    track = _require_running_canary(values, "canary abort")
    changes = _changed(values, (("canary.weight", 0),))
    steps = (Step(f"send no requests to track {track}", changes),) if changes else ()
    return Plan("canary abort", steps)


def plan_promote(values: ReleaseValues, drain_seconds: float = DEFAULT_DRAIN_SECONDS) -> Plan:
    """The canary's version becomes the primary track's, then the canary goes away.

    Order, so that some Ready track serves every request at every moment:
    1. the primary track takes the canary's spec (a rolling update with maxUnavailable 0, while the
       canary keeps its share; skipped when equal), and its Deployment must become available;
    2. the canary weight goes to 0, then a drain pause for the routes to stop using it;
    3. only then are the canary track and traffic splitting removed.
    """
    tracks = values.tracks
    track = values.canary_track
    if not values.canary_enabled and CANARY_TRACK not in tracks:
        return Plan("promote", (), ("no canary on the release: nothing to promote",))
    track = _require_running_canary(values, "promote")
    primary = values.primary
    canary_entry = tracks[track] or {}
    primary_entry = tracks.get(primary) or {}
    promoted = {k: v for k, v in primary_entry.items() if k in SIZING_KEYS}
    promoted.update({k: copy.deepcopy(v) for k, v in canary_entry.items() if k not in SIZING_KEYS})
    steps = []
    if promoted != primary_entry:
        steps.append(Step(f"roll track {primary} to the canary's spec (pods replaced one by one, maxUnavailable 0) "
                          f"and wait until it is available", ((f"tracks.{primary}", promoted),), ready_after=(primary,)))
    if values.weight:
        steps.append(Step(f"send every request to track {primary} again (canary weight 0), then drain {drain_seconds:g}s",
                          (("canary.weight", 0),), ready_before=(primary,), pause_after=drain_seconds))
    steps.append(Step(f"remove track {track} and traffic splitting", (("canary.enabled", False), (f"tracks.{track}", None)),
                      ready_before=(primary,)))
    return Plan("promote", tuple(steps))


# ---- blue/green ----------------------------------------------------------------------------------


def plan_bluegreen_switch(values: ReleaseValues, to: str) -> Plan:
    if not values.blue_green:
        raise PlanError("bluegreen switch: the release does not use blueGreen (blueGreen.enabled is false)")
    if to not in ("blue", "green"):
        raise PlanError(f"--to must be blue or green, got {to!r}")
    if values.primary == to:
        return Plan("bluegreen switch", (), (f"{to} is already active: nothing to do",))
    preview = "preview" if values.get("blueGreen.preview", True) else ""
    notes = () if preview else ("blueGreen.preview is false: no preview Service to smoke-test; only availability is checked",)
    return Plan("bluegreen switch", (Step(f"smoke-test {to} through the preview Service, then make {to} active",
                                          (("blueGreen.active", to),), ready_before=(to,), smoke_before=preview),), notes)


def _check_weight(weight: int, option: str) -> None:
    if not 0 <= int(weight) <= 100:
        raise PlanError(f"{option} must be a percentage 0..100, got {weight}")
