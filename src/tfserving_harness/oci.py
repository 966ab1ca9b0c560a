"""The few OCI distribution API calls Helm does not offer: ask for a tag's digest before pushing,
put an old manifest back, delete a manifest, and push Artifact Hub's repository metadata.

Helm can only push charts. The oras CLI is a Go binary (not on PyPI); its Python SDK (PyPI `oras`)
would add a dependency with its own auth handling for what are a handful of HTTP calls of the
distribution spec (https://github.com/opencontainers/distribution-spec/blob/main/spec.md), so
they go through `requests`, which the harness already pins.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST_TYPES = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"])
# Artifact Hub: "push it to the OCI registry using oras, using the artifacthub.io tag"
# (https://artifacthub.io/docs/topics/repositories/helm-charts/, OCI support).
ARTIFACTHUB_TAG = "artifacthub.io"
ARTIFACTHUB_CONFIG = "application/vnd.cncf.artifacthub.config.v1+yaml"
ARTIFACTHUB_LAYER = "application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml"


class RegistryError(RuntimeError):
    """A registry call failed; the message says which call, on what, and the registry's answer."""


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    def layer_types(self) -> list[str]:
        return [layer["mediaType"] for layer in json.loads(self.body).get("layers", [])]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One registry host; Basic auth, or the Bearer token flow (ghcr.io) answered with the same credentials."""

    def __init__(self, host: str, *, plain_http: bool = False, username: str | None = None, password: str | None = None, timeout: float = 30):
        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self.auth = (username, password) if username else None
        self.timeout = timeout
        self.session = requests.Session()
        self._token: str | None = None

    def _request(self, method: str, path: str, *, ok: tuple[int, ...], scope: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        headers = dict(kwargs.pop("headers", {}))
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, auth=None if self._token else self.auth, **kwargs)
            if response.status_code == 401 and "Bearer" in response.headers.get("WWW-Authenticate", ""):
                self._token = self._bearer_token(response.headers["WWW-Authenticate"], scope)
                headers["Authorization"] = f"Bearer {self._token}"
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise RegistryError(f"{method} {url}: the registry did not answer ({error})") from error
        if response.status_code not in ok:
            raise RegistryError(f"{method} {url}: HTTP {response.status_code} {response.text.strip()[:300]}")
        return response

    def _bearer_token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise RegistryError(f"{self.host}: a Bearer challenge without a realm: {challenge}")
        params["scope"] = scope
        try:
            response = self.session.get(realm, params=params, auth=self.auth, timeout=self.timeout)
        except requests.RequestException as error:
            raise RegistryError(f"token endpoint {realm} did not answer ({error})") from error
        if response.status_code != 200:
            raise RegistryError(f"token endpoint {realm}: HTTP {response.status_code}: check the registry credentials")
        body = response.json()
        return body.get("token") or body["access_token"]

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag (or digest) names, or None when the registry has no such tag."""
        response = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", ok=(200, 404), scope=f"repository:{repository}:pull", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest") or sha256_digest(response.content)
        return Manifest(digest, response.headers.get("Content-Type", OCI_MANIFEST), response.content)

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"/v2/{repository}/tags/list", ok=(200, 404), scope=f"repository:{repository}:pull")
        return [] if response.status_code == 404 else (response.json().get("tags") or [])

    def put_manifest(self, repository: str, tag: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{tag}", ok=(201,), scope=f"repository:{repository}:pull,push", data=body, headers={"Content-Type": media_type}
        )
        return response.headers.get("Docker-Content-Digest") or sha256_digest(body)

    def delete_manifest(self, repository: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{repository}/manifests/{digest}", ok=(202,), scope=f"repository:{repository}:delete")

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload a blob (POST for a session, then one PUT with the digest), unless the registry has it."""
        digest = sha256_digest(data)
        scope = f"repository:{repository}:pull,push"
        if self._request("HEAD", f"/v2/{repository}/blobs/{digest}", ok=(200, 404), scope=scope).status_code == 200:
            return digest
        started = self._request("POST", f"/v2/{repository}/blobs/uploads/", ok=(202,), scope=scope)
        location = started.headers["Location"]
        if not location.startswith("http"):
            location = self.base + location
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT", f"{location}{separator}digest={digest}", ok=(201,), scope=scope, data=data, headers={"Content-Type": "application/octet-stream"}
        )
        return digest

    def push_artifacthub_metadata(self, repository: str, metadata: bytes, filename: str = "artifacthub-repo.yml") -> str:
        """What `oras push REPO:artifacthub.io --config /dev/null:<config type> artifacthub-repo.yml:<layer type>` pushes."""
        config = b""
        layer_digest = self.push_blob(repository, metadata)
        config_digest = self.push_blob(repository, config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": ARTIFACTHUB_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [
                {
                    "mediaType": ARTIFACTHUB_LAYER,
                    "digest": layer_digest,
                    "size": len(metadata),
                    "annotations": {"org.opencontainers.image.title": filename},
                }
            ],
        }
        return self.put_manifest(repository, ARTIFACTHUB_TAG, json.dumps(manifest, separators=(",", ":")).encode())

    def blob(self, repository: str, digest: str) -> bytes:
        return self._request("GET", f"/v2/{repository}/blobs/{digest}", ok=(200,), scope=f"repository:{repository}:pull").content
