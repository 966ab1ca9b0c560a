"""Asking TF Serving for predictions the way users' clients do, and reading which demo model
version answered.

REST goes through `requests`, gRPC through tensorflow-serving-api's stubs. `PredictClient` is one
client of a Service at a steady rate, with the connection habit real clients have: a long-lived
gRPC channel or an HTTP keep-alive session (one connection for the whole run, as long as the server
keeps it), or a fresh connection per request. The e2e tier, `make demo` and scripts/kind.py use
these; the parts that need no server are unit-tested (tests/harness/test_clients.py).

Two shapes of the demo model's input exist: the harness's two-version model
(`tfserving_harness.demo_model.build`, input `x` of shape [-1, 1]: one `[x]` row per instance) and
the chart's built-in demo (TF Serving's own half_plus_two, `x` of shape [-1]: one float per
instance). `scalar=True` selects the second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Versions the e2e tier's model folders hold; version N answers 0.5 x + N + 1 (demo_model).
KNOWN_VERSIONS = (1, 2, 3)


def rest_predict_body(inputs: Sequence[float], *, scalar: bool = False) -> str:
    """`{"instances": [[1.0], [2.0]]}` (rows, the harness demo) or `{"instances": [1.0, 2.0]}` (scalar=True, the chart's demo)."""
    return json.dumps({"instances": [float(x) if scalar else [float(x)] for x in inputs]})


def flat_predictions(answer: dict) -> list[float]:
    """`{"predictions": [[2.5], [3.0]]}` or `{"predictions": [2.5, 3.0]}` -> [2.5, 3.0]."""
    return [float(p[0] if isinstance(p, list) else p) for p in answer["predictions"]]


def rest_predict_path(model: str, *, version: int | None = None, label: str | None = None) -> str:
    if version is not None and label is not None:
        raise ValueError("choose a version or a label, not both")
    suffix = f"/versions/{version}" if version is not None else f"/labels/{label}" if label else ""
    return f"/v1/models/{model}{suffix}:predict"


def version_of_answer(inputs: Sequence[float], predictions: Sequence[float], versions: Sequence[int] = KNOWN_VERSIONS) -> int:
    """Which demo model version produced `predictions` for `inputs` (versions differ by their offset)."""
    from . import demo_model

    for version in versions:
        if all(abs(p - demo_model.expected_output(version, x)) < 1e-4 for x, p in zip(inputs, predictions, strict=True)):
            return version
    raise ValueError(f"{list(predictions)} for {list(inputs)} is no version of {list(versions)} of the demo model")


def rest_predict(base_url: str, model: str, inputs: Sequence[float], *, timeout: float = 10.0, headers: dict | None = None,
                 version: int | None = None, label: str | None = None, scalar: bool = False, session: Any = None) -> list[float]:
    """One REST :predict; `session` (a requests.Session) reuses its keep-alive connection."""
    import requests

    post = (session or requests).post
    response = post(base_url.rstrip("/") + rest_predict_path(model, version=version, label=label),
                    data=rest_predict_body(inputs, scalar=scalar), headers={"Content-Type": "application/json", **(headers or {})},
                    timeout=timeout)
    response.raise_for_status()
    return flat_predictions(response.json())


def predict_request(model: str, inputs: Sequence[float], *, version: int | None = None, label: str | None = None,
                    scalar: bool = False) -> Any:
    """A PredictRequest for the demo signature."""
    from tensorflow_serving.apis import predict_pb2

    from . import demo_model

    if version is not None and label is not None:
        raise ValueError("choose a version or a label, not both")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = demo_model.SIGNATURE
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    tensor = request.inputs[demo_model.INPUT]
    tensor.dtype = 1  # DT_FLOAT
    tensor.tensor_shape.dim.add().size = len(inputs)
    if not scalar:
        tensor.tensor_shape.dim.add().size = 1
    tensor.float_val.extend(inputs)
    return request


#: gRPC channels of one process share connections (the global subchannel pool) unless told not to:
#: each channel here is one client with a connection of its own, like separate client processes.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def grpc_channel(target: str) -> Any:
    """A plaintext channel with a connection of its own (OWN_CONNECTION)."""
    import grpc

    return grpc.insecure_channel(target, options=OWN_CONNECTION)


def grpc_predict(target: str, model: str, inputs: Sequence[float], *, timeout: float = 10.0, version: int | None = None,
                 label: str | None = None, scalar: bool = False, channel: Any = None) -> list[float]:
    """PredictionService/Predict over plaintext gRPC; without `channel`, on a channel of its own, closed after."""
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from . import demo_model

    request = predict_request(model, inputs, version=version, label=label, scalar=scalar)
    if channel is not None:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=timeout)
    else:
        with grpc_channel(target) as own:
            response = prediction_service_pb2_grpc.PredictionServiceStub(own).Predict(request, timeout=timeout)
    return list(response.outputs[demo_model.OUTPUT].float_val)


# ---- clients at a steady rate ---------------------------------------------------------------------

PROTOCOLS = ("grpc", "rest")
#: "long-lived": one gRPC channel, or one requests.Session (HTTP/1.1 keep-alive), for the whole run;
#: "fresh": a new TCP connection for every request.
CONNECTIONS = ("long-lived", "fresh")


@dataclass
class PredictClient:
    """One client of a TF Serving Service. `send()` asks one prediction of the demo model (no
    version: the latest the server has, or `label`) and returns the version that answered, as a
    string; it raises on any failure. Not thread-safe: give each thread its own client, so a
    long-lived one holds exactly one connection."""

    protocol: str
    connection: str
    rest_url: str
    grpc_target: str
    model: str = "half_plus_two"
    inputs: tuple[float, ...] = (1.0, 2.0)
    scalar: bool = False
    label: str | None = None
    timeout: float = 10.0
    _handle: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS or self.connection not in CONNECTIONS:
            raise ValueError(f"protocol must be one of {PROTOCOLS} and connection one of {CONNECTIONS}, "
                             f"got {self.protocol!r}, {self.connection!r}")

    @property
    def kind(self) -> str:
        """`grpc long-lived`, `rest keep-alive`, `grpc fresh`, `rest fresh`: how reports name it."""
        if self.connection == "long-lived" and self.protocol == "rest":
            return "rest keep-alive"
        return f"{self.protocol} {self.connection}"

    def send(self) -> str:
        common = dict(scalar=self.scalar, label=self.label, timeout=self.timeout)
        if self.protocol == "grpc":
            if self.connection == "long-lived" and self._handle is None:
                self._handle = grpc_channel(self.grpc_target)
            predictions = grpc_predict(self.grpc_target, self.model, self.inputs, channel=self._handle, **common)
        else:
            if self.connection == "long-lived" and self._handle is None:
                import requests

                self._handle = requests.Session()
            # A fresh connection: no session, and the server is asked to close it after answering.
            headers = None if self.connection == "long-lived" else {"Connection": "close"}
            predictions = rest_predict(self.rest_url, self.model, self.inputs, session=self._handle, headers=headers, **common)
        return str(version_of_answer(self.inputs, predictions))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
