"""A stand-in for the rollout tool's tests: a Prometheus HTTP API on loopback. Test-only: it answers
like the real server (`/api/v1/query` JSON) from numbers the test sets. Where the tests need TF
Serving they run the one TF Serving stand-in, tfserving_harness.standin (launch.demo_server)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from ..json_http import reply_json


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
            reply_json(self, 404, {"status": "error", "errorType": "not_found", "error": url.path})
            return
        query = parse_qs(url.query).get("query", [""])[0]
        reply_json(self, *self.server.owner.answer(query))

    def log_message(self, *args):
        pass
