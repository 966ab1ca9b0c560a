"""Smoke test of a Service before it gets traffic: every model has an AVAILABLE version, and one
prediction built from the model's own signature (GET /v1/models/NAME/metadata) answers 200."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import requests

from .kube import Kube, parse_json

#: TensorFlow DataType enum names (as REST metadata prints them) -> a value of that type.
_SAMPLE_BY_DTYPE = {
    "DT_FLOAT": 1.0, "DT_DOUBLE": 1.0, "DT_HALF": 1.0, "DT_BFLOAT16": 1.0,
    "DT_INT8": 1, "DT_INT16": 1, "DT_INT32": 1, "DT_INT64": 1, "DT_UINT8": 1, "DT_UINT16": 1, "DT_UINT32": 1, "DT_UINT64": 1,
    "DT_BOOL": True, "DT_STRING": "a",
}


class SmokeFailed(RuntimeError):
    pass


def sample_tensor(dtype: str, dims: Sequence[int | None]) -> Any:
    """A nested list of `dims` (unknown or -1 dimensions become 1) filled with one value of `dtype`
    (`DT_FLOAT` or `float32` style). Unknown rank gives one element."""
    key = dtype if dtype.startswith("DT_") else "DT_" + dtype.upper().replace("FLOAT32", "FLOAT").replace("FLOAT64", "DOUBLE").replace("FLOAT16", "HALF")
    if key not in _SAMPLE_BY_DTYPE:
        raise ValueError(f"no sample value for dtype {dtype}: give the input yourself (--input)")
    value: Any = _SAMPLE_BY_DTYPE[key]
    for dim in reversed(list(dims)):
        value = [value] * (1 if dim is None or int(dim) < 0 else int(dim))
    return value


def signature_inputs(metadata: dict, signature: str = "serving_default") -> dict[str, Any]:
    """Sample inputs from a REST metadata answer (`metadata.signature_def.signature_def`)."""
    defs = ((metadata.get("metadata") or {}).get("signature_def") or {}).get("signature_def") or {}
    if signature not in defs:
        raise SmokeFailed(f"model has no signature {signature!r} (has {sorted(defs)})")
    inputs = {}
    for name, info in (defs[signature].get("inputs") or {}).items():
        shape = info.get("tensor_shape") or {}
        dims = None if shape.get("unknown_rank") else [int(d.get("size", -1)) for d in shape.get("dim", [])]
        inputs[name] = sample_tensor(info.get("dtype", "DT_FLOAT"), dims or [])
    return inputs


class _Rest:
    def __init__(self, kube: Kube | None, service: str, base_url: str):
        self.kube, self.service, self.base_url = kube, service, base_url.rstrip("/")

    def get(self, path: str) -> tuple[int, str]:
        if self.base_url:
            return _plain("GET", f"{self.base_url}{path}")
        return self.kube.service_get(self.service, path)

    def post(self, path: str, body: dict) -> tuple[int, str]:
        if self.base_url:
            return _plain("POST", f"{self.base_url}{path}", body)
        return self.kube.service_post(self.service, path, body)


def _plain(method: str, url: str, body: dict | None = None) -> tuple[int, str]:
    try:
        response = requests.request(method, url, json=body, timeout=30)
    except requests.RequestException as error:
        return 0, str(error)
    return response.status_code, response.text


def smoke_test(kube: Kube | None, service: str, models: Sequence[dict], *, say: Callable[[str], None], base_url: str = "") -> None:
    """Raise SmokeFailed with what failed; `base_url` reaches the server directly instead of the
    API server's proxy to `service` (e.g. a port-forward)."""
    rest = _Rest(kube, service, base_url)
    where = base_url or f"service/{service}"
    if not models:
        raise SmokeFailed("no models configured for the target track")
    for model in models:
        name = model["name"]
        status, text = rest.get(f"/v1/models/{name}")
        states = [v.get("state") for v in (parse_json(text) or {}).get("model_version_status", [])]
        if status != 200 or "AVAILABLE" not in states:
            raise SmokeFailed(f"{where}: model {name} has no AVAILABLE version (HTTP {status}, states {states or text[:200]})")
        status, text = rest.get(f"/v1/models/{name}/metadata")
        metadata = parse_json(text)
        if status != 200 or metadata is None:
            raise SmokeFailed(f"{where}: metadata of model {name}: HTTP {status} {text[:200]}")
        body = {"inputs": signature_inputs(metadata)}
        status, text = rest.post(f"/v1/models/{name}:predict", body)
        answer = parse_json(text) or {}
        if status != 200 or "outputs" not in answer:
            raise SmokeFailed(f"{where}: prediction on model {name} with {json.dumps(body)} failed: HTTP {status} {text[:300]}")
        say(f"smoke test {where}: model {name} AVAILABLE (versions {states}), prediction answered")
