"""loadtests/k8s run the way its README tells users to: an overlay of their own (namespace, image,
options merged into `locust-options`, the `worker-count` component listed again), rendered by
kubectl's kustomize and applied; then `kubectl logs` of the master for the verdicts, `kubectl cp` of
its /reports while it lingers (LOCUST_AUTOQUIT), and the master Job's status as the exit code.

The one thing the overlay changes besides the README's: the Jobs' CPU requests, which ask for a
whole core per worker so that a busy node cannot make the numbers the generator's; k8s-local's real
node has two cores for everything, so `cpu_request` lowers them (the run's own self-check still
reports the workers' CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import yaml
from kubernetes import client

from ..paths import REPO_ROOT

K8S = REPO_ROOT / "loadtests" / "k8s"
BASE_IMAGE = "registry.example.com/tfs-locust"
VERDICTS_LINE = "TF Serving verdicts:"


def overlay(directory: Path, *, namespace: str, image: str, options: Mapping[str, str], cpu_request: str | None = None) -> Path:
    """Write the kustomization of an overlay on loadtests/k8s into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    name, _, tag = image.rpartition(":")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": namespace,
        "resources": [os.path.relpath(K8S, directory)], "components": [os.path.relpath(K8S / "worker-count", directory)],
        "images": [{"name": BASE_IMAGE, "newName": name, "newTag": tag}],
        "configMapGenerator": [{"name": "locust-options", "behavior": "merge", "literals": [f"{k}={v}" for k, v in options.items()]}],
    }
    if cpu_request:
        kustomization["patches"] = [
            {"target": {"kind": "Job", "name": job},
             "patch": json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": cpu_request}])}
            for job in ("locust-master", "locust-worker")]
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return directory


def render(directory: Path) -> str:
    done = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {done.stderr}")
    return done.stdout


@dataclass
class LocustRun:
    api: client.ApiClient
    kubeconfig: str
    namespace: str
    directory: Path
    progress: Callable[[str], None] = print
    master_pod: str = field(default="", init=False)

    def _kubectl(self, *args: str, timeout: float = 120, input_text: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, "-n", self.namespace, *args], capture_output=True, text=True,
                              timeout=timeout, input=input_text)

    def apply(self) -> None:
        done = self._kubectl("apply", "-f", "-", input_text=render(self.directory))
        if done.returncode != 0:
            raise RuntimeError(f"kubectl apply of the Locust overlay failed: {done.stderr}")

    def _master(self) -> client.V1Pod | None:
        pods = client.CoreV1Api(self.api).list_namespaced_pod(
            self.namespace, label_selector="app.kubernetes.io/name=locust,app.kubernetes.io/component=master", _request_timeout=10).items
        return pods[0] if pods else None

    def logs(self) -> str:
        if not self.master_pod:
            return ""
        return self._kubectl("logs", self.master_pod, timeout=60).stdout

    def wait_for_verdicts(self, timeout: float, status: Callable[[], str], every: float = 15) -> str:
        """Wait until the master printed its verdicts (its report is written just before); progress every `every` s."""
        started, last = time.monotonic(), 0.0
        self.progress(f"waiting up to {timeout:.0f} s for the Locust master in {self.namespace} to print its verdicts")
        while time.monotonic() - started < timeout:
            pod = self._master()
            if pod is not None:
                self.master_pod = pod.metadata.name
                logs = self.logs()
                if VERDICTS_LINE in logs:
                    self.progress(f"the master printed its verdicts after {time.monotonic() - started:.0f} s")
                    return logs
                if pod.status.phase in ("Failed", "Succeeded"):
                    raise RuntimeError(f"the Locust master {self.master_pod} ended ({pod.status.phase}) without verdicts:\n{logs[-4000:]}")
            if time.monotonic() - last >= every:
                last = time.monotonic()
                phase = pod.status.phase if pod is not None else "not created yet"
                self.progress(f"+{last - started:4.0f} s  master {phase}; {status()}")
            time.sleep(2)
        raise TimeoutError(f"the Locust master printed no verdicts within {timeout:.0f} s; its log:\n{self.logs()[-4000:]}")

    def copy_report(self, destination: Path) -> Path:
        """`kubectl cp` of /reports from the master, while it lingers (LOCUST_AUTOQUIT)."""
        destination.mkdir(parents=True, exist_ok=True)
        done = self._kubectl("cp", f"{self.master_pod}:/reports", str(destination), timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"kubectl cp {self.master_pod}:/reports failed: {done.stderr}")
        return destination

    def master_job_result(self, timeout: float = 180) -> str:
        """`Complete` or `Failed`: the master exits with the run's exit code when LOCUST_AUTOQUIT runs out."""
        batch, started = client.BatchV1Api(self.api), time.monotonic()
        while time.monotonic() - started < timeout:
            job = batch.read_namespaced_job("locust-master", self.namespace, _request_timeout=10)
            for condition in job.status.conditions or []:
                if condition.type in ("Complete", "Failed") and condition.status == "True":
                    return condition.type
            time.sleep(2)
        raise TimeoutError(f"the locust-master Job did not finish within {timeout:.0f} s after its verdicts")
