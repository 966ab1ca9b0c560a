"""One Helm release: its values, status and history, and the commands that change it.

Every upgrade is `--atomic` (helm rolls the release back when it fails or times out) and
`--reset-then-reuse-values` (Helm 3.14+): the new chart's defaults, then the user values the
release already has, then the step's changes. `--reuse-values` would re-apply the *old* chart's
defaults across chart versions. A step helm's `--set-json` cannot express (removing a key, a map
losing keys; see plan.needs_exact_values) is applied as `--reset-values` plus the whole user
values file, which is the same merge done here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import yaml

from ..helm import find_helm
from .plan import ReleaseValues, Step, apply_changes, needs_exact_values


class ReleaseError(RuntimeError):
    pass


@dataclass(frozen=True)
class HelmCommand:
    args: tuple[str, ...]
    values_file_text: str = ""  # the user values passed with --values, for exact steps

    def show(self) -> str:
        text = " ".join(shlex.quote(a) for a in self.args)
        if self.values_file_text:
            text += "\n      # values file:\n" + "\n".join(f"      #   {line}" for line in self.values_file_text.splitlines())
        return text


class Release:
    def __init__(self, name: str, namespace: str, *, kubeconfig: str | None = None, context: str | None = None):
        self.name = name
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.context = context

    def _flags(self) -> list[str]:
        flags = ["--namespace", self.namespace]
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--kube-context", self.context]
        return flags

    def _run(self, args: Sequence[str], *, input_text: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([find_helm(), *args, *self._flags()], input=input_text, capture_output=True, text=True)

    def _json(self, args: Sequence[str]) -> Any:
        result = self._run([*args, "--output", "json"])
        if result.returncode != 0:
            message = result.stderr.strip()
            if "not found" in message:
                raise ReleaseError(f"release {self.name!r} not found in namespace {self.namespace!r} ({message}): "
                                   "check --release/--namespace (`helm list -A`)")
            raise ReleaseError(f"helm {args[0]} {self.name} failed: {message}")
        return json.loads(result.stdout or "null")

    def status(self) -> dict:
        return self._json(["status", self.name])

    def history(self) -> list[dict]:
        return self._json(["history", self.name, "--max", "20"])

    def values(self) -> ReleaseValues:
        user = self._json(["get", "values", self.name]) or {}
        effective = self._json(["get", "values", self.name, "--all"]) or {}
        return ReleaseValues(user, effective)

    def require_deployed(self) -> dict:
        status = self.status()
        state = (status.get("info") or {}).get("status")
        if state != "deployed":
            raise ReleaseError(f"release {self.name} is {state!r}, not 'deployed': another helm operation is running or failed; "
                               f"wait for it or fix it (`helm history {self.name} -n {self.namespace}`) before a rollout step")
        return status

    def upgrade_command(self, chart: str, step: Step, user_values: Mapping[str, Any], timeout: str, *,
                        chart_version: str = "") -> HelmCommand:
        base = ["upgrade", self.name, chart, "--atomic", "--wait", "--timeout", timeout,
                "--description", f"tfs-rollout: {step.summary}"[:250]]
        if chart_version:
            base += ["--version", chart_version]
        if needs_exact_values(user_values, step.changes):
            text = yaml.safe_dump(apply_changes(user_values, step.changes), sort_keys=True)
            return HelmCommand((find_helm(), *base, "--reset-values", "--values", "-", *self._flags()), text)
        sets = []
        for path, value in step.changes:
            sets += ["--set-json", f"{path}={json.dumps(value, separators=(',', ':'), sort_keys=True)}"]
        return HelmCommand((find_helm(), *base, "--reset-then-reuse-values", *sets, *self._flags()))

    def rollback_command(self, revision: int, timeout: str) -> HelmCommand:
        return HelmCommand((find_helm(), "rollback", self.name, str(revision), "--wait", "--cleanup-on-fail",
                            "--timeout", timeout, *self._flags()))


def revision(status: Mapping) -> int:
    return int(status.get("version") or 0)
