"""Running a plan: waits before, the gate, the smoke test, one atomic helm upgrade per step,
waits after. With `dry_run` every step is printed (helm command and waits) and nothing changes."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .. import local_process
from . import gates
from .kube import Kube, WaitTimeout
from .plan import Plan, ReleaseValues, Step, apply_changes
from .release import HelmCommand, Release, ReleaseError, revision
from .smoke import SmokeFailed, smoke_test


class GateBreach(RuntimeError):
    def __init__(self, result: gates.GateResult):
        super().__init__(result.describe())
        self.result = result


class GateHold(RuntimeError):
    def __init__(self, result: gates.GateResult):
        super().__init__(result.describe())
        self.result = result


@dataclass
class GateConfig:
    prometheus_url: str
    limits: gates.Limits
    inconclusive_timeout: float = 600.0
    poll: float = 30.0
    #: Shell command started while the gate is inconclusive (e.g. the load-test users in
    #: headless mode) and stopped once it is conclusive; the tool never generates load itself.
    load_command: str = ""


@dataclass
class Runner:
    release: Release
    chart: str
    chart_version: str = ""
    timeout: str = "10m"
    wait_seconds: float = 600.0
    dry_run: bool = False
    say: Callable[[str], None] = print
    kube: Kube | None = None
    gate: GateConfig | None = None
    preview_url: str = ""
    sleep: Callable[[float], None] = time.sleep
    _expected_revision: int = 0

    def run(self, plan: Plan, values: ReleaseValues) -> None:
        for note in plan.notes:
            self.say(f"note: {note}")
        if plan.empty:
            self.say(f"{plan.command}: nothing to change")
            return
        user = dict(values.user)
        effective = dict(values.effective)
        if not self.dry_run:
            self._expected_revision = revision(self.release.status())
        for number, step in enumerate(plan.steps, 1):
            command = self.release.upgrade_command(self.chart, step, user, self.timeout, chart_version=self.chart_version)
            header = f"step {number}/{len(plan.steps)}: {step.summary}"
            if self.dry_run:
                self._print_dry(header, step, command)
            else:
                self.say(header)
                self._execute(step, command, ReleaseValues(user, effective))
            user = apply_changes(user, step.changes)
            effective = apply_changes(effective, step.changes)
        if self.dry_run:
            self.say("dry run: nothing was changed")

    def _print_dry(self, header: str, step: Step, command: HelmCommand) -> None:
        self.say(header)
        for track in step.ready_before:
            self.say(f"    wait until track {track}'s Deployment is available (kubernetes API, up to {self.wait_seconds:g}s)")
        if step.gate_before:
            self.say("    gate: query Prometheus for the canary's error ratio and p99 (stop at 0% on a breach)")
        if step.smoke_before:
            self.say(f"    smoke test through the {step.smoke_before} Service: model status AVAILABLE, one prediction")
        self.say(f"    {command.show()}")
        for track in step.ready_after:
            self.say(f"    wait until track {track}'s Deployment is available")
        if step.pause_after:
            self.say(f"    pause {step.pause_after:g}s")

    def _execute(self, step: Step, command: HelmCommand, values: ReleaseValues) -> None:
        assert self.kube is not None
        for track in step.ready_before:
            self._wait(track)
        if step.gate_before:
            self.check_gate(values)
        if step.smoke_before:
            service = self.kube.service_name(step.smoke_before)
            if not service and not self.preview_url:
                raise SmokeFailed(f"no Service with label tf-serving.io/service={step.smoke_before} in the release")
            target = step.changes[0][1]
            smoke_test(self.kube, service or "", values.track_models(target), say=self.say, base_url=self.preview_url)
        # The waits above can take minutes: a release someone else upgraded meanwhile is not the
        # one this plan was made for.
        now = revision(self.release.status())
        if now != self._expected_revision:
            raise ReleaseError(f"release {self.release.name} moved to revision {now} while this command waited (expected "
                               f"{self._expected_revision}): someone else changed it; nothing more was changed, re-run to re-plan")
        self.helm(command)
        self._expected_revision += 1
        for track in step.ready_after:
            self._wait(track)
        if step.pause_after:
            self.say(f"pausing {step.pause_after:g}s so the routes stop using the old backend")
            self.sleep(step.pause_after)

    def _wait(self, track: str) -> None:
        try:
            self.kube.wait_available(track, timeout=self.wait_seconds, say=self.say)
        except WaitTimeout as error:
            raise ReleaseError(f"{error}; nothing more was changed (see `tfs-rollout diagnose {self.release.name}`)") from None

    def helm(self, command: HelmCommand) -> None:
        """Run helm, printing the release's Deployments while it waits (helm --wait prints nothing)."""
        self.say(f"running: {command.show()}")
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        try:
            result = subprocess.run(list(command.args), input=command.values_file_text or None, capture_output=True, text=True)
        finally:
            done.set()
            watcher.join(timeout=5)
        if result.returncode != 0:
            raise ReleaseError(f"helm failed (exit {result.returncode}); --atomic rolled the release back to its previous "
                               f"revision:\n{result.stderr.strip()}")
        self.say(result.stdout.strip().splitlines()[0] if result.stdout.strip() else "helm: done")

    def _watch(self, done: threading.Event, every: float = 10.0) -> None:
        start = time.monotonic()
        while not done.wait(every):
            try:
                deployments = self.kube.apps.list_namespaced_deployment(
                    self.kube.namespace, label_selector=f"app.kubernetes.io/instance={self.release.name}").items
            except Exception as error:  # progress only: never fail the step for it
                self.say(f"  (progress unavailable: {error})")
                continue
            parts = [f"{d.metadata.name} {d.status.available_replicas or 0}/{d.spec.replicas} available" for d in deployments]
            self.say(f"  helm waiting ({time.monotonic() - start:.0f}s of {self.timeout}): " + ", ".join(parts))

    def check_gate(self, values: ReleaseValues) -> gates.GateResult:
        """Pass, or raise GateBreach / GateHold; the caller turns a breach into weight 0."""
        if self.gate is None:
            raise ReleaseError("a gated step needs --prometheus URL")
        cfg = self.gate
        prometheus = gates.Prometheus(cfg.prometheus_url)
        load: list[subprocess.Popen] = []

        def start_load() -> None:
            if cfg.load_command and not load:
                self.say(f"gate inconclusive: starting the load command: {cfg.load_command}")
                load.append(subprocess.Popen(cfg.load_command, shell=True))

        try:
            result = gates.wait_conclusive(
                lambda: gates.evaluate(prometheus, self.release.namespace, self.release.name, values.canary_track,
                                       values.primary, cfg.limits),
                timeout=cfg.inconclusive_timeout, poll=cfg.poll, say=self.say, sleep=self.sleep, clock=time.monotonic,
                on_inconclusive=start_load)
        finally:
            for process in load:
                local_process.stop(process, timeout=30)
        self.say(result.describe())
        if result.decision == gates.BREACH:
            raise GateBreach(result)
        if result.decision == gates.INCONCLUSIVE:
            raise GateHold(result)
        return result
