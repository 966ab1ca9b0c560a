"""A stand-in for TF Serving, for the load tier and `make bench-load` only (never for the chart or
the kind tests, which use the real `tensorflow/serving` image).

It speaks the parts of TF Serving's APIs the load tools use, with TF Serving's paths, JSON layout,
error statuses and Prometheus metric names/labels/units (see server_metrics.py for the source files):
REST `POST /v1/models/M[/versions/N|/labels/L]:predict`, `GET /v1/models/M[...]` (status),
`GET .../metadata`, `GET /monitoring/prometheus/metrics`; gRPC `PredictionService/Predict`,
`PredictionService/GetModelMetadata`, `ModelService/GetModelStatus`.

It serves the demo model (tfserving_harness.demo_model: version N answers y = 0.5 * x + (N + 1),
input `x` / output `y` float32 [-1, 1]) by computing that formula instead of running the SavedModel:
running TensorFlow per request would make the stand-in, not Locust, the bottleneck the benchmark
measures. Capacity is modelled instead: at most `concurrency` predictions run at once and each holds
its slot for `service_time_ms`, so throughput saturates at concurrency / service time (the knee)
and latency grows past it, like a server with a fixed thread pool. `POST /standin/mode` with JSON
{"error_rate": 0.5, "slow_ms": 200, "service_time_ms": 5} changes behaviour on demand.

    python -m tfserving_harness.load.standin --rest-port 8501 --grpc-port 8500 --service-time-ms 5 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Iterator

from ..demo_model import INPUT, MODEL_NAME, OUTPUT, SIGNATURE, expected_output
from . import protos

#: TF Serving's request_latency buckets: monitoring::Buckets::Exponential(10, 1.8, 33) + DBL_MAX (util.cc).
LATENCY_BOUNDS_US = [10 * 1.8**i for i in range(33)]

_PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:predict$")
_STATUS = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?(/metadata)?$")


class ServingError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


_HTTP_STATUS = {"OK": 200, "INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 400, "INTERNAL": 500,
                "UNAVAILABLE": 503, "RESOURCE_EXHAUSTED": 429}
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def _format_double(value: float) -> str:
    # absl::StrCat(double) prints six significant digits, as the exporter does for bounds and sums.
    return f"{value:.6g}"


@dataclass
class Metrics:
    request_count: dict[tuple[str, str], int] = field(default_factory=dict)
    latency: dict[tuple[str, str, str], list] = field(default_factory=dict)  # key -> [bucket counts, sum]

    def record(self, model: str, status: str, api: str | None, entrypoint: str, latency_us: float) -> None:
        self.request_count[(model, status)] = self.request_count.get((model, status), 0) + 1
        if status == "OK" and api is not None:
            cell = self.latency.setdefault((model, api, entrypoint), [[0] * (len(LATENCY_BOUNDS_US) + 1), 0.0])
            index = next((i for i, bound in enumerate(LATENCY_BOUNDS_US) if latency_us < bound), len(LATENCY_BOUNDS_US))
            cell[0][index] += 1
            cell[1] += latency_us

    def exposition(self) -> str:
        lines = ["# TYPE :tensorflow:serving:request_count counter"]
        for (model, status), value in sorted(self.request_count.items()):
            lines.append(f':tensorflow:serving:request_count{{model_name="{model}",status="{status}"}} {value}')
        name = ":tensorflow:serving:request_latency"
        lines.append(f"# TYPE {name} histogram")
        for (model, api, entrypoint), (buckets, total) in sorted(self.latency.items()):
            labels = f'model_name="{model}",API="{api}",entrypoint="{entrypoint}"'
            cumulative = 0
            for i, count in enumerate(buckets):
                cumulative += count
                bound = _format_double(LATENCY_BOUNDS_US[i]) if i < len(LATENCY_BOUNDS_US) else "+Inf"
                lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {cumulative}')
            lines.append(f"{name}_sum{{{labels}}} {_format_double(total)}")
            lines.append(f"{name}_count{{{labels}}} {cumulative}")
        return "\n".join(lines) + "\n"


class StandIn:
    def __init__(self, *, model: str = MODEL_NAME, versions=(1, 2), labels: dict[str, int] | None = None,
                 service_time_ms: float = 0.0, concurrency: int = 0, error_rate: float = 0.0, slow_ms: float = 0.0):
        self.model = model
        self.versions = sorted(int(v) for v in versions)
        self.labels = labels if labels is not None else {"stable": self.versions[0], "canary": self.versions[-1]}
        self.service_time_ms, self.error_rate, self.slow_ms = service_time_ms, error_rate, slow_ms
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        self.metrics = Metrics()
        self.random = random.Random(0)

    # --- model logic shared by REST and gRPC ---
    def resolve(self, name: str, version: str | int | None, label: str | None) -> int:
        if name != self.model:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if label:
            if label not in self.labels:
                raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            return self.labels[label]
        if version not in (None, "", 0):
            if int(version) not in self.versions:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
            return int(version)
        return self.versions[-1]

    async def serve(self) -> None:
        """Hold a slot for the service time: the capacity model behind the knee; then the modes."""
        delay = (self.service_time_ms + self.slow_ms) / 1000.0
        if self.slots is not None:
            async with self.slots:
                if delay:
                    await asyncio.sleep(delay)
        elif delay:
            await asyncio.sleep(delay)
        if self.error_rate and self.random.random() < self.error_rate:
            raise ServingError("INTERNAL", "stand-in error mode: injected failure")

    def status_json(self, version: int | None) -> dict:
        versions = [version] if version else self.versions
        return {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}} for v in reversed(versions)]}

    def metadata_json(self, version: int) -> dict:
        def tensor(name: str) -> dict:
            return {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}, {"size": "1", "name": ""}],
                                                          "unknown_rank": False}, "name": f"{SIGNATURE}_{name}:0"}

        signature = {"inputs": {INPUT: tensor(INPUT)}, "outputs": {OUTPUT: tensor(OUTPUT)}, "method_name": "tensorflow/serving/predict",
                     "defaults": {}}
        return {"model_spec": {"name": self.model, "signature_name": "", "version": str(version)},
                "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature, "__saved_model_init_op": {
                    "inputs": {}, "outputs": {"__saved_model_init_op": {"dtype": "DT_INVALID", "tensor_shape": {"dim": [],
                                                                        "unknown_rank": True}, "name": "NoOp"}},
                    "method_name": "", "defaults": {}}}}}}

    @staticmethod
    def _rows(values, where: str) -> list[float]:
        """The [-1, 1] float input as a flat list (a row may be [x] or, in row format, x)."""
        if not isinstance(values, list):
            raise ServingError("INVALID_ARGUMENT", f"{where}: expected a list of rows")
        flat = []
        for row in values:
            value = row[0] if isinstance(row, list) and len(row) == 1 else row
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ServingError("INVALID_ARGUMENT", f"{where}: expected float rows of shape [1], got {json.dumps(row)[:50]}")
            flat.append(float(value))
        return flat

    def predict_json(self, body: bytes, version: int) -> bytes:
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from None
        if not isinstance(request, dict) or ("instances" in request) == ("inputs" in request):
            raise ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")
        if request.get("signature_name", SIGNATURE) != SIGNATURE:
            raise ServingError("INVALID_ARGUMENT", f"Serving signature key \"{request['signature_name']}\" not found.")
        if "instances" in request:
            rows = request["instances"]
            if rows and isinstance(rows[0], dict):
                if set(rows[0]) != {INPUT}:
                    raise ServingError("INVALID_ARGUMENT", f"instances must name the input {INPUT!r}, got {sorted(rows[0])}")
                rows = [row[INPUT] for row in rows]
            ys = [[expected_output(version, x)] for x in self._rows(rows, "instances")]
            return json.dumps({"predictions": ys}).encode()
        inputs = request["inputs"]
        if isinstance(inputs, dict):
            if set(inputs) != {INPUT}:
                raise ServingError("INVALID_ARGUMENT", f"input names {sorted(inputs)} do not match the signature's ['{INPUT}']")
            inputs = inputs[INPUT]
        ys = [[expected_output(version, x)] for x in self._rows(inputs, "inputs")]
        return json.dumps({"outputs": ys}).encode()

    # --- REST ---
    async def handle_http(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path == "/monitoring/prometheus/metrics" and method == "GET":
            return 200, "text/plain; version=0.0.4", self.metrics.exposition().encode()
        if path == "/standin/mode" and method == "POST":
            changes = json.loads(body or b"{}")
            for key in ("error_rate", "slow_ms", "service_time_ms"):
                if key in changes:
                    setattr(self, key, float(changes[key]))
            return 200, "application/json", json.dumps({k: getattr(self, k) for k in ("error_rate", "slow_ms", "service_time_ms")}).encode()
        start = time.perf_counter()
        model, api = "", None
        try:
            if method == "POST" and (match := _PREDICT.match(path)):
                model, api = match.group(1), "predict"
                version = self.resolve(model, match.group(2), match.group(3))
                await self.serve()
                out = self.predict_json(body, version)
            elif method == "GET" and (match := _STATUS.match(path)):
                model, api = match.group(1), ""
                version = self.resolve(model, match.group(2), match.group(3))
                explicit = version if (match.group(2) or match.group(3)) else None
                out = json.dumps(self.metadata_json(version) if match.group(4) else self.status_json(explicit)).encode()
            else:
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: {method} {path}")
            status, code = 200, "OK"
        except ServingError as error:
            code, out = error.code, json.dumps({"error": error.message}).encode()
            status = _HTTP_STATUS.get(code, 500)
        if model:
            self.metrics.record(model, code, api, "REST", (time.perf_counter() - start) * 1e6)
        return status, "application/json", out

    async def http_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, content_type, out = await self.handle_http(method, path.split("?", 1)[0], body)
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(out)}\r\n{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n".encode() + out)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    # --- gRPC ---
    def grpc_servicers(self):
        import grpc

        api = protos.apis()
        standin = self

        def abort_code(code: str):
            return getattr(grpc.StatusCode, code)

        async def resolve_or_abort(spec, context) -> int:
            """The version a metadata or status request names, or the call aborted with the server's code."""
            try:
                return standin.resolve(spec.name, spec.version.value or None, spec.version_label or None)
            except ServingError as error:
                await context.abort(abort_code(error.code), error.message)

        class Prediction(api.prediction_service_pb2_grpc.PredictionServiceServicer):
            async def Predict(self, request, context):
                start = time.perf_counter()
                code = "OK"
                try:
                    spec = request.model_spec
                    version = standin.resolve(spec.name, spec.version.value if spec.HasField("version") else None,
                                              spec.version_label or None)
                    if (spec.signature_name or SIGNATURE) != SIGNATURE:
                        raise ServingError("INVALID_ARGUMENT", f"Serving signature key \"{spec.signature_name}\" not found.")
                    if sorted(request.inputs) != [INPUT]:
                        raise ServingError("INVALID_ARGUMENT", f"input names {sorted(request.inputs)} do not match the signature's ['{INPUT}']")
                    tensor = request.inputs[INPUT]
                    dims = [d.size for d in tensor.tensor_shape.dim]
                    if tensor.dtype != api.types_pb2.DT_FLOAT or len(dims) != 2 or dims[1] != 1:
                        raise ServingError("INVALID_ARGUMENT", f"input {INPUT!r} must be DT_FLOAT [-1, 1], got dtype {tensor.dtype} dims {dims}")
                    xs = list(tensor.float_val) or [0.0]
                    if len(xs) == 1 and dims[0] > 1:
                        xs = xs * dims[0]
                    await standin.serve()
                    response = api.predict_pb2.PredictResponse()
                    response.model_spec.name, response.model_spec.signature_name = spec.name, SIGNATURE
                    response.model_spec.version.value = version
                    out = response.outputs[OUTPUT]
                    out.dtype = api.types_pb2.DT_FLOAT
                    out.tensor_shape.dim.add().size = len(xs)
                    out.tensor_shape.dim.add().size = 1
                    out.float_val.extend(expected_output(version, x) for x in xs)
                    return response
                except ServingError as error:
                    code = error.code
                    await context.abort(abort_code(code), error.message)
                finally:
                    standin.metrics.record(request.model_spec.name, code, "Predict", "GRPC", (time.perf_counter() - start) * 1e6)

            async def GetModelMetadata(self, request, context):
                from google.protobuf import json_format

                version = await resolve_or_abort(request.model_spec, context)
                doc = standin.metadata_json(version)
                signature_map = json_format.ParseDict(doc["metadata"]["signature_def"], api.get_model_metadata_pb2.SignatureDefMap())
                response = api.get_model_metadata_pb2.GetModelMetadataResponse()
                response.model_spec.name = standin.model
                response.model_spec.version.value = version
                response.metadata["signature_def"].Pack(signature_map)
                return response

        class Model(api.model_service_pb2_grpc.ModelServiceServicer):
            async def GetModelStatus(self, request, context):
                version = await resolve_or_abort(request.model_spec, context)
                explicit = version if (request.model_spec.version.value or request.model_spec.version_label) else None
                response = api.get_model_status_pb2.GetModelStatusResponse()
                for v in reversed([explicit] if explicit else standin.versions):
                    status = response.model_version_status.add()
                    status.version = v
                    status.state = api.get_model_status_pb2.ModelVersionStatus.AVAILABLE
                return response

        return Prediction(), Model()

    async def run(self, host: str, rest_port: int, grpc_port: int, ready=print) -> None:
        import grpc

        api = protos.apis()
        http = await asyncio.start_server(self.http_connection, host, rest_port, backlog=1024)
        server = grpc.aio.server()
        prediction, model = self.grpc_servicers()
        api.prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, server)
        api.model_service_pb2_grpc.add_ModelServiceServicer_to_server(model, server)
        bound_grpc = server.add_insecure_port(f"{host}:{grpc_port}")
        await server.start()
        bound_rest = http.sockets[0].getsockname()[1]
        ready(f"TF Serving stand-in ready: rest={bound_rest} grpc={bound_grpc} model={self.model} versions={self.versions} "
              f"service_time_ms={self.service_time_ms} concurrency={self.concurrency or 'unlimited'}")
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop(0)
            http.close()


@dataclass
class Running:
    process: subprocess.Popen
    rest_url: str
    grpc_target: str

    def set_mode(self, **changes: float) -> dict:
        import requests

        return requests.post(f"{self.rest_url}/standin/mode", json=changes, timeout=5).json()


@contextlib.contextmanager
def subprocess_standin(*, service_time_ms: float = 0.0, concurrency: int = 0, error_rate: float = 0.0, slow_ms: float = 0.0,
                       timeout: float = 30.0) -> Iterator[Running]:
    """Start the stand-in in its own process on free loopback ports; stopped (by its PID) on exit."""
    command = [sys.executable, "-m", "tfserving_harness.load.standin", "--rest-port", "0", "--grpc-port", "0",
               "--service-time-ms", str(service_time_ms), "--concurrency", str(concurrency),
               "--error-rate", str(error_rate), "--slow-ms", str(slow_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
            if "ready" in line:
                break
        match = re.search(r"rest=(\d+) grpc=(\d+)", line)
        if not match:
            raise RuntimeError(f"the TF Serving stand-in did not start within {timeout:.0f} s (exit code {process.poll()}): {line!r}")
        yield Running(process, f"http://127.0.0.1:{match.group(1)}", f"127.0.0.1:{match.group(2)}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="TF Serving stand-in for load tests and benchmarks (not TF Serving).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int, default=8500)
    parser.add_argument("--model", default=MODEL_NAME)
    parser.add_argument("--versions", default="1,2", help="comma-separated versions; the highest answers unversioned requests")
    parser.add_argument("--service-time-ms", type=float, default=0.0, help="time each prediction holds a slot")
    parser.add_argument("--concurrency", type=int, default=0, help="predictions served at once (0: unlimited)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of predictions that fail with INTERNAL")
    parser.add_argument("--slow-ms", type=float, default=0.0, help="extra time per prediction (slow mode)")
    args = parser.parse_args(argv)
    standin = None

    async def start() -> None:
        nonlocal standin
        standin = StandIn(model=args.model, versions=[int(v) for v in args.versions.split(",")], service_time_ms=args.service_time_ms,
                          concurrency=args.concurrency, error_rate=args.error_rate, slow_ms=args.slow_ms)
        await standin.run(args.host, args.rest_port, args.grpc_port, ready=lambda line: print(line, flush=True))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(start())


if __name__ == "__main__":
    main()
