"""Stand-ins for the rollout tool's tests: a Prometheus HTTP API and a TF Serving REST API on
loopback. Test-only: they answer like the real servers (Prometheus' `/api/v1/query` JSON, TF
Serving's model status / metadata / predict JSON), from numbers the test sets."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class TrackSample:
    """What the stand-in Prometheus reports for one track; None = no series."""

    requests: float | None = None
    errors: float | None = None
    p99_ms: float | None = None


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, per stand-in, per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@dataclass
class PrometheusStandIn(_Server):
    """Answers the gate's three queries per track (`tracks[name]`), records every query; with
    `error` set it answers like Prometheus refusing a query (HTTP 400, status error)."""

    tracks: dict[str, TrackSample] = field(default_factory=dict)
    error: str = ""
    queries: list[str] = field(default_factory=list)

    def __post_init__(self):
        _Server.__init__(self, _PrometheusHandler)

    def answer(self, query: str) -> tuple[int, dict]:
        self.queries.append(query)
        if self.error:
            return 400, {"status": "error", "errorType": "bad_data", "error": self.error}
        track = re.search(r'tf_serving_io_track="([^"]+)"', query)
        sample = self.tracks.get(track.group(1) if track else "", TrackSample())
        if "request_latency_bucket" in query:
            value = sample.p99_ms
        elif 'status!="OK"' in query:
            value = sample.errors
        else:
            value = sample.requests
        result = [] if value is None else [{"metric": {}, "value": [1700000000.0, "NaN" if value != value else str(value)]}]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


class _PrometheusHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        if url.path != "/api/v1/query":
            _reply(self, 404, {"status": "error", "errorType": "not_found", "error": url.path})
            return
        query = parse_qs(url.query).get("query", [""])[0]
        _reply(self, *self.server.owner.answer(query))

    def log_message(self, *args):
        pass


@dataclass
class TFServingRestStandIn(_Server):
    """TF Serving's REST answers for the demo model: status, metadata (input x / output y
    float32 [-1, 1]) and predict (y = 0.5 x + version + 1). `state` is the reported version state."""

    models: dict[str, int] = field(default_factory=lambda: {"half_plus_two": 2})
    state: str = "AVAILABLE"
    requests: list[str] = field(default_factory=list)

    def __post_init__(self):
        _Server.__init__(self, _TFServingHandler)


_MODEL_PATH = re.compile(r"^/v1/models/([^/:]+)(/metadata|:predict)?$")


class _TFServingHandler(BaseHTTPRequestHandler):
    def _route(self):
        owner: TFServingRestStandIn = self.server.owner
        owner.requests.append(f"{self.command} {self.path}")
        match = _MODEL_PATH.match(self.path)
        if not match or match.group(1) not in owner.models:
            return _reply(self, 404, {"error": f"Servable not found for request: {self.path}"})
        name, what = match.group(1), match.group(2)
        version = owner.models[name]
        if what is None:
            return _reply(self, 200, {"model_version_status": [{"version": str(version), "state": owner.state,
                                                                "status": {"error_code": "OK", "error_message": ""}}]})
        if what == "/metadata":
            tensor = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "1"}], "unknown_rank": False}}
            return _reply(self, 200, {"model_spec": {"name": name, "version": str(version)}, "metadata": {"signature_def": {
                "signature_def": {"serving_default": {"inputs": {"x": {**tensor, "name": "x:0"}}, "outputs": {"y": {**tensor, "name": "y:0"}},
                                                      "method_name": "tensorflow/serving/predict"}}}}})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        x = body.get("inputs", {}).get("x")
        if x is None:
            return _reply(self, 400, {"error": "missing input x"})
        return _reply(self, 200, {"outputs": [[0.5 * row[0] + version + 1] for row in x]})

    do_GET = do_POST = _route

    def log_message(self, *args):
        pass
