"""tfserving_harness.oci against a stand-in for ghcr.io's token flow (the publishing tier's real
registry uses Basic auth): a 401 with a Bearer challenge, a token fetched with the registry
credentials for the scope of the call, the call retried with the token."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from urllib.parse import parse_qs, urlparse

import pytest

from tfserving_harness import oci

TOKEN = "stand-in-token"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "layers": [{"mediaType": oci.ARTIFACTHUB_LAYER}]}).encode()


@pytest.fixture
def token_registry():
    """A stand-in registry: /v2/... wants `Bearer stand-in-token`; /token hands it out for user:pass."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            seen.append((url.path, parse_qs(url.query), self.headers.get("Authorization")))
            if url.path == "/token":
                if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:pass").decode():
                    return self._send(401, b"{}")
                return self._send(200, json.dumps({"token": TOKEN}).encode())
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="http://{self.headers["Host"]}/token",service="stand-in",scope="ignored"')
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if url.path == "/v2/charts/tf-serving/manifests/0.2.0":
                return self._send(200, MANIFEST, {"Docker-Content-Digest": oci.sha256_digest(MANIFEST), "Content-Type": oci.OCI_MANIFEST})
            self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

        def _send(self, status, body, headers=None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()  # shutdown() waits one poll
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_bearer_challenge_is_answered_with_a_token_for_the_calls_scope(token_registry):
    host, seen = token_registry
    registry = oci.Registry(host, plain_http=True, username="user", password="pass")
    manifest = registry.manifest("charts/tf-serving", "0.2.0")
    assert manifest.digest == oci.sha256_digest(MANIFEST) and manifest.layer_types() == [oci.ARTIFACTHUB_LAYER]
    (token_request,) = [entry for entry in seen if entry[0] == "/token"]
    assert token_request[1] == {"service": ["stand-in"], "scope": ["repository:charts/tf-serving:pull"]}
    assert registry.manifest("charts/tf-serving", "9.9.9") is None  # 404: no such version, token reused
    assert len([entry for entry in seen if entry[0] == "/token"]) == 1


def test_wrong_credentials_say_so(token_registry):
    host, _ = token_registry
    with pytest.raises(oci.RegistryError, match="token endpoint .*/token: HTTP 401: check the registry credentials"):
        oci.Registry(host, plain_http=True, username="user", password="wrong").manifest("charts/tf-serving", "0.2.0")


def test_unreachable_registry_names_the_call():
    with pytest.raises(oci.RegistryError, match=r"GET http://127.0.0.1:9/v2/charts/tf-serving/manifests/0.2.0: the registry did not answer"):
        oci.Registry("127.0.0.1:9", plain_http=True, timeout=2).manifest("charts/tf-serving", "0.2.0")
