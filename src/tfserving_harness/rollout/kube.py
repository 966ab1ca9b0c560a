"""The cluster side of a rollout, through the kubernetes client: track Deployments, waits, the
REST API of a Service (through the API server's service proxy), and reads for `diagnose`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

TRACK_LABEL = "tf-serving.io/track"
SERVICE_ROLE_LABEL = "tf-serving.io/service"


class WaitTimeout(RuntimeError):
    pass


@dataclass(frozen=True)
class Availability:
    name: str
    desired: int
    updated: int
    available: int
    current_generation: bool
    exists: bool = True
    old: int = 0  # pods of older ReplicaSets still running

    @property
    def ready(self) -> bool:
        return (self.exists and self.current_generation and self.updated >= self.desired and self.old == 0
                and self.available >= self.desired > 0)

    def describe(self) -> str:
        if not self.exists:
            return f"deployment {self.name} does not exist yet"
        gen = "" if self.current_generation else ", new spec not yet observed"
        old = f", {self.old} old pod(s) left" if self.old else ""
        return f"deployment/{self.name}: {self.updated}/{self.desired} updated, {self.available}/{self.desired} available{old}{gen}"


class Kube:
    def __init__(self, namespace: str, release: str, kubeconfig: str | None = None, context: str | None = None):
        self.namespace = namespace
        self.release = release
        self.api = config.new_client_from_config(config_file=kubeconfig, context=context)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)

    def _selector(self, track: str | None = None) -> str:
        sel = f"app.kubernetes.io/instance={self.release}"
        return f"{sel},{TRACK_LABEL}={track}" if track else sel

    def availability(self, track: str) -> Availability:
        items = self.apps.list_namespaced_deployment(self.namespace, label_selector=self._selector(track)).items
        if not items:
            return Availability(f"(track {track})", 0, 0, 0, False, exists=False)
        d = items[0]
        status = d.status
        desired = d.spec.replicas if d.spec.replicas is not None else 1
        updated = status.updated_replicas or 0
        return Availability(d.metadata.name, desired, updated, status.available_replicas or 0,
                            (status.observed_generation or 0) >= (d.metadata.generation or 0),
                            old=max(0, (status.replicas or 0) - updated))

    def wait_available(self, track: str, *, timeout: float, say: Callable[[str], None], poll: float = 2.0,
                       report_every: float = 10.0) -> Availability:
        """Until the track's Deployment has every replica updated and available (what
        `kubectl rollout status` waits for), printing progress; WaitTimeout after `timeout`."""
        start = time.monotonic()
        last_report = -report_every
        while True:
            state = self.availability(track)
            waited = time.monotonic() - start
            if state.ready:
                say(f"{state.describe()}: ready after {waited:.0f}s")
                return state
            if waited >= timeout:
                raise WaitTimeout(f"track {track} not available after {timeout:g}s: {state.describe()}")
            if waited - last_report >= report_every:
                say(f"waiting for track {track}: {state.describe()} ({waited:.0f}s of {timeout:g}s)")
                last_report = waited
            time.sleep(poll)

    def service_name(self, role: str) -> str | None:
        items = self.core.list_namespaced_service(
            self.namespace, label_selector=f"app.kubernetes.io/instance={self.release},{SERVICE_ROLE_LABEL}={role}").items
        return items[0].metadata.name if items else None

    def service_get(self, service: str, path: str, *, timeout: float = 10.0) -> tuple[int, str]:
        """GET a path of the Service's `http` port through the API server (no port-forward)."""
        return self._proxy("GET", service, path, None, timeout)

    def service_post(self, service: str, path: str, body: dict, *, timeout: float = 30.0) -> tuple[int, str]:
        return self._proxy("POST", service, path, body, timeout)

    def _proxy(self, method: str, service: str, path: str, body: dict | None, timeout: float) -> tuple[int, str]:
        resource = f"/api/v1/namespaces/{self.namespace}/services/{service}:http/proxy/{path.lstrip('/')}"
        try:
            params = self.api.param_serialize(method, resource, header_params={"Content-Type": "application/json",
                                                                               "Accept": "application/json"},
                                              body=body, auth_settings=["BearerToken"])
            response = self.api.call_api(*params, _request_timeout=timeout)
            response.read()
            return response.status, response.data.decode(errors="replace")
        except ApiException as error:
            return error.status or 0, str(error.body or error.reason)
        except Exception as error:  # connection refused / timeout: report, the caller decides
            return 0, f"{type(error).__name__}: {error}"

    # ---- reads for diagnose ----

    def snapshot(self) -> dict:
        sel = self._selector()
        ns = self.namespace
        san = self.api.sanitize_for_serialization
        out = {
            "deployments": [san(d) for d in self.apps.list_namespaced_deployment(ns, label_selector=sel).items],
            "replicasets": [san(r) for r in self.apps.list_namespaced_replica_set(ns, label_selector=sel).items],
            "pods": [san(p) for p in self.core.list_namespaced_pod(ns, label_selector=sel).items],
            "services": [san(s) for s in self.core.list_namespaced_service(ns, label_selector=sel).items],
            "events": [san(e) for e in self.core.list_namespaced_event(ns).items],
        }
        try:
            out["hpas"] = [san(h) for h in client.AutoscalingV2Api(self.api).list_namespaced_horizontal_pod_autoscaler(
                ns, label_selector=sel).items]
        except ApiException as error:
            out["hpas_error"] = f"{error.status} {error.reason}"
        return out

    def pod_log(self, pod: str, container: str = "tf-serving", tail: int = 200) -> str:
        try:
            return self.core.read_namespaced_pod_log(pod, self.namespace, container=container, tail_lines=tail, _request_timeout=10)
        except Exception as error:
            return f"(log not available: {type(error).__name__}: {getattr(error, 'reason', error)})"


def parse_json(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
