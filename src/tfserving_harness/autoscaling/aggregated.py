"""What an aggregated metrics API needs on k8s-local: an HTTPS server on 127.0.0.1 that answers JSON,
and its registration with the real API server (an `ExternalName` Service pointing at localhost and
an APIService with `insecureSkipTLSVerify`, as ../shared/k8s-local/README.md describes), so the
kube-aggregator proxies the HPA controller's queries to it.

APIService names are cluster-wide: `register_api_services` takes over an APIService only when this
harness made it (label `app.kubernetes.io/managed-by: tfserving-harness`, left by a run that
crashed), refuses one that someone else made (a real metrics-server or prometheus-adapter), waits
until the aggregator reports it Available, and `unregister` deletes it again only while it still
points at this registration's Service.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

from kubernetes import client

from ..cluster import CREATED_BY_LABEL
from ..json_http import reply_json

#: (status, JSON body) for (path segments after the leading "/", query parameters).
Route = Callable[[list[str], dict[str, str]], tuple[int, Any]]


def rfc3339(moment: datetime) -> str:
    """metav1.Time as JSON: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code: int, reason: str, message: str) -> tuple[int, dict]:
    """A metav1.Status failure, the body every Kubernetes API server answers errors with."""
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason,
                  "code": code}


def not_found(message: str) -> tuple[int, dict]:
    return status(404, "NotFound", message)


def internal_error(message: str) -> tuple[int, dict]:
    """apierrors.NewInternalError: `Internal error occurred: <message>`."""
    return status(500, "InternalError", f"Internal error occurred: {message}")


def api_group(group: str, versions: list[str]) -> dict:
    """The APIGroup document of `/apis/<group>`; the first version is the preferred one."""
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def self_signed_certificate(directory: Path) -> tuple[str, str]:
    """A throw-away serving certificate: the APIService says insecureSkipTLSVerify, so nothing checks it."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


class AggregatedServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1:<free port>; GET requests go to `route`. Keeps the last requests for reports."""

    daemon_threads = True

    def __init__(self, route: Route, tls_dir: Path, name: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.route, self.name = route, name
        self.requests: deque[str] = deque(maxlen=200)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed_certificate(tls_dir))
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> AggregatedServer:
        self._thread = threading.Thread(target=self.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: AggregatedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # the aggregator and the HPA controller poll often: kept in server.requests
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        # The aggregator forwards the escaped path (pods/%2A/...): segments are unescaped one by one.
        segments = [unquote(part) for part in url.path.strip("/").split("/") if part]
        query = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            code, body = self.server.route(segments, query)
        except Exception as error:  # noqa: BLE001 - the API answers a Status, the test sees it in the request log
            code, body = internal_error(f"{type(error).__name__}: {error}")
        self.server.requests.append(f"{datetime.now():%H:%M:%S} GET {self.path} -> {code}")
        reply_json(self, code, body)


class RegistrationError(RuntimeError):
    """An APIService this harness may not take over, or one the aggregator never reported Available."""


@dataclass
class Registration:
    """APIServices for one local server, through an ExternalName Service in a namespace of its own."""

    api: client.ApiClient
    group: str
    versions: list[str]
    port: int
    namespace: str = field(default_factory=lambda: f"tfs-metrics-standin-{uuid.uuid4().hex[:6]}")
    service: str = "standin"

    @property
    def names(self) -> list[str]:
        return [f"{version}.{self.group}" for version in self.versions]

    def _api_service(self, name: str, version: str) -> client.V1APIService:
        return client.V1APIService(
            metadata=client.V1ObjectMeta(name=name, labels=dict(CREATED_BY_LABEL)),
            spec=client.V1APIServiceSpec(
                group=self.group, version=version, insecure_skip_tls_verify=True, group_priority_minimum=100, version_priority=100,
                service=client.ApiregistrationV1ServiceReference(namespace=self.namespace, name=self.service, port=self.port)))

    def register(self, timeout: float = 60, progress: Callable[[str], None] = print) -> Registration:
        """Create the Service and APIServices and wait until they are Available; on any failure remove them again
        (an unavailable APIService breaks discovery for every client of the cluster)."""
        try:
            return self._register(timeout, progress)
        except BaseException:
            self.unregister()
            raise

    def _register(self, timeout: float, progress: Callable[[str], None]) -> Registration:
        core, registration = client.CoreV1Api(self.api), client.ApiregistrationV1Api(self.api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.namespace, labels=dict(CREATED_BY_LABEL))))
        core.create_namespaced_service(self.namespace, client.V1Service(
            metadata=client.V1ObjectMeta(name=self.service),
            spec=client.V1ServiceSpec(type="ExternalName", external_name="localhost", ports=[client.V1ServicePort(port=self.port)])))
        for name, version in zip(self.names, self.versions, strict=True):
            wanted = self._api_service(name, version)
            try:
                existing = registration.read_api_service(name, _request_timeout=10)
            except client.ApiException as error:
                if error.status != 404:
                    raise
                registration.create_api_service(wanted, _request_timeout=10)
                continue
            labels = existing.metadata.labels or {}
            if any(labels.get(k) != v for k, v in CREATED_BY_LABEL.items()):
                where = existing.spec.service and f"{existing.spec.service.namespace}/{existing.spec.service.name}"
                raise RegistrationError(
                    f"APIService {name} exists and was not made by this harness (it points at {where or 'the local API server'}): "
                    "a real component serves this API on this cluster, so the stand-in must not replace it")
            existing.spec = wanted.spec  # a registration left by a crashed run: take it over
            registration.replace_api_service(name, existing, _request_timeout=10)
        started = time.monotonic()
        progress(f"waiting for APIService {', '.join(self.names)} to be Available (the aggregator reaches 127.0.0.1:{self.port})")
        while time.monotonic() - started < timeout:
            conditions = {}
            for name in self.names:
                found = registration.read_api_service(name, _request_timeout=10)
                conditions[name] = next((c for c in (found.status.conditions or []) if c.type == "Available"), None) if found.status else None
            if all(c is not None and c.status == "True" for c in conditions.values()):
                progress(f"APIService {', '.join(self.names)} Available after {time.monotonic() - started:.0f} s")
                return self
            time.sleep(1)
        why = "; ".join(f"{name}: {c.reason}: {c.message}" if c else f"{name}: no condition" for name, c in conditions.items())
        raise RegistrationError(f"the aggregator did not report {', '.join(self.names)} Available within {timeout:.0f} s: {why}")

    def unregister(self) -> None:
        registration = client.ApiregistrationV1Api(self.api)
        for name in self.names:
            try:
                existing = registration.read_api_service(name, _request_timeout=10)
            except client.ApiException as error:
                if error.status == 404:
                    continue
                raise
            service = existing.spec.service
            if service is not None and service.namespace == self.namespace:  # still ours: nobody took it over meanwhile
                registration.delete_api_service(name, _request_timeout=10)
        try:
            client.CoreV1Api(self.api).delete_namespace(self.namespace, _request_timeout=10)
        except client.ApiException as error:
            if error.status != 404:
                raise
