"""The REST port: libevent's evhttp in front of a `--rest_api_num_threads` pool, as TF Serving runs it.

Sources (tensorflow/serving 2.20.0):
- `util/net_http/server/internal/evhttp_server.cc`: the event loop is itself scheduled on the
  request executor, so it occupies one of the `--rest_api_num_threads` threads and N - 1 handle
  requests; every request (the metrics scrape too) waits in that pool's queue; no
  `evhttp_set_timeout` call, so libevent 2.1.12 (`http.c`: incoming connections get no read or
  write timeout) keeps idle keep-alive connections open indefinitely; a path no handler takes is
  answered by `evhttp_send_error(404)`, an HTML page with `Connection: close`.
- libevent `http.c`: HTTP/1.1 keep-alive unless `Connection: close`, HTTP/1.0 only with
  `Connection: keep-alive`; `Date` and `Content-Length` added; reason phrases from its tables
  (429 and 499 have none and read "Client Error"); `Expect: 100-continue` answered.
- `model_servers/http_server.cc`: the dispatcher takes every path matching `(?i)/v1/.*` (path and
  query string), the Prometheus handler its exact path; status -> HTTP code (ToHTTPStatusCode);
  request_latency only for 200, request_count for every `/v1/` request (model_name as parsed,
  empty when the path names none); CORS preflight and headers with
  `--rest_api_enable_cors_support`.
- `model_servers/http_rest_api_handler.cc`, `http_rest_api_util.cc`: the path regexes, model name
  and label URL-decoded, `Malformed request: METHOD PATH`, predict / status / metadata, the
  status and metadata JSON (protobuf's JSON printer with whitespace: 1-space indent).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable
from urllib.parse import unquote_to_bytes

from . import log, metrics
from .flags import simple_atoi
from .json_tensor import error_json, outputs_json, parse_json, predict_inputs
from .knobs import MODE_PATH
from .status import Status, invalid_argument, not_found

_PREDICT = re.compile(r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", re.IGNORECASE)
_STATUS = re.compile(r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:\/(metadata))?", re.IGNORECASE)
_DISPATCH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)

#: ToHTTPStatusCode (http_server.cc).
HTTP_STATUS = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404,
               "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
               "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500,
               "UNAUTHENTICATED": 401}
_PHRASES = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Time-out"}
_ALLOWED_METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"}
_KNOWN_METHODS = _ALLOWED_METHODS | {"TRACE", "CONNECT"}


def reason(code: int) -> str:
    """evhttp_response_phrase_internal: the class name when the table has no entry."""
    return _PHRASES.get(code) or {1: "Informational", 2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error"}.get(
        code // 100, "Unknown Status Class")


def _decode(text: str) -> str:
    """curl_easy_unescape."""
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def protobuf_json(message) -> str:
    """MessageToJsonString with add_whitespace and always_print_fields_with_no_presence."""
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True), indent=1,
                      ensure_ascii=False) + "\n"


class RestApi:
    """HttpRestApiHandler: (status, model_name, api, body) for one /v1/ request."""

    def __init__(self, server) -> None:
        self.server = server  # standin.server.StandIn: core, knobs, options

    def process(self, method: str, path: str, body: bytes) -> tuple[Status | None, str, str, str]:
        model_name, api, output = "", "", ""
        status: Status | None = invalid_argument(f"Malformed request: {method} {path}")
        match = _PREDICT.fullmatch(path) if method == "POST" else _STATUS.fullmatch(path) if method == "GET" else None
        version = label = None
        if match:
            model_name = _decode(match.group(1)) if match.group(1) else ""
            if match.group(2):
                version = simple_atoi(match.group(2))
                if version is None:
                    return invalid_argument(f"Failed to convert version: {match.group(2)} to numeric."), model_name, api, ""
            if match.group(3):
                label = _decode(match.group(3))
        try:
            if method == "POST" and match:
                api = match.group(4)
                if api == "predict":
                    output = self.predict(model_name, version, label, body)
                else:
                    raise Status("UNIMPLEMENTED", f"TF Serving stand-in: :{api} is not implemented (only :predict)")
                status = None
            elif method == "GET" and match:
                if not model_name:
                    raise invalid_argument("Missing model name in request.")
                output = self.metadata(model_name, version, label) if match.group(4) else self.model_status(model_name, version)
                status = None
        except Status as error:
            status = error
        if status is not None:
            output = error_json(status.message)
        return status, model_name, api, output

    def _spec(self, name: str, version: int | None, label: str | None):
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=name)
        if version is not None:
            spec.version.value = version
        if label is not None:
            spec.version_label = label
        return spec

    def predict(self, name: str, version: int | None, label: str | None, body: bytes) -> str:
        spec = self._spec(name, version, label)
        document = parse_json(body)
        signature_name = document.get("signature_name", "")
        if "signature_name" in document and not isinstance(signature_name, str):
            from .json_tensor import debug_string

            raise invalid_argument(f"JSON Value: {debug_string(document)} not formatted correctly. 'signature_name' key must be a "
                                   "string value.")
        with self.server.core.servable(spec) as harness:  # GetInfoMap
            key = signature_name or "serving_default"
            if key not in harness.servable.meta_graph_def.signature_def:
                raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
            infos = harness.servable.meta_graph_def.signature_def[key].inputs
        if not infos:
            raise invalid_argument(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
        inputs, layout = predict_inputs(document, infos)
        with self.server.core.servable(spec) as harness:  # TensorflowPredictor::Predict
            self.server.knobs.before_predict()
            _, outputs = harness.servable.predict(name, signature_name, inputs, [], self.server.rest_timeout_ms)
        return outputs_json(outputs, layout)

    def model_status(self, name: str, version: int | None) -> str:
        return protobuf_json(self.server.model_status(name, version))

    def metadata(self, name: str, version: int | None, label: str | None) -> str:
        """ToJsonString(GetModelMetadataResponse): model_spec and signature_def printed apart, then concatenated."""
        from google.protobuf import json_format
        from tensorflow_serving.apis import model_pb2

        with self.server.core.servable(self._spec(name, version, label)) as harness:
            spec = model_pb2.ModelSpec(name=harness.name)
            spec.version.value = harness.version
            signature_defs = harness.servable.signature_def_map()

        def printed(message) -> str:
            return json.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True,
                                                        preserving_proto_field_name=True), indent=1, ensure_ascii=False) + "\n"

        return (f'{{\n"model_spec":{printed(spec)},\n"metadata": {{"signature_def": '
                f"{printed(signature_defs)}}}\n}}\n")


class RestServer:
    """The evhttp event loop (one thread) and its request executor."""

    def __init__(self, server, port: int, num_threads: int, metrics_path: str | None, cors: bool):
        self.server, self.port, self.metrics_path, self.cors = server, port, metrics_path, cors
        self.api = RestApi(server)
        # The event loop takes one of the executor's threads (EvHTTPServer::StartAcceptingRequests).
        self.workers = max(num_threads - 1, 0)
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="httprestserver") if self.workers else None
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> bool:
        threading.Thread(target=self._run, name="evhttp-event-loop", daemon=True).start()
        self.started.wait()
        return self.error is None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            server = self.loop.run_until_complete(asyncio.start_server(self._connection, sock=_listen(self.port)))
            self.bound_port = server.sockets[0].getsockname()[1]
        except OSError as error:
            self.error = error
            self.started.set()
            return
        self.started.set()
        self.loop.run_forever()

    def _schedule(self, handler: Callable[[], tuple[int, list[tuple[str, str]], bytes]]):
        if self.pool is None:
            return self.loop.create_future()  # no thread left for handlers: the request waits forever
        return self.loop.run_in_executor(self.pool, handler)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    await self._send(writer, 400, [("Content-Type", "text/html"), ("Connection", "close")], _error_page(400), "1.1", False)
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or parts[0] not in _KNOWN_METHODS or not parts[2].startswith("HTTP/1."):
                    await self._send(writer, 400, [("Content-Type", "text/html"), ("Connection", "close")], _error_page(400), "1.1", False)
                    return
                method, target, protocol = parts
                http_version = protocol[len("HTTP/"):]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers.setdefault(name.strip().lower(), value.strip())
                if headers.get("expect", "").lower() == "100-continue" and http_version == "1.1":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await self._body(reader, headers)
                if body is None:
                    return
                connection = headers.get("connection", "").lower()
                asked_close = connection == "close"
                keepalive_10 = http_version == "1.0" and connection.startswith("keep-alive")
                need_close = asked_close or (http_version == "1.0" and not keepalive_10)  # evhttp_send_done
                if method not in _ALLOWED_METHODS:
                    await self._send(writer, 501, [("Content-Type", "text/html"), ("Connection", "close")], _error_page(501),
                                     http_version, False)
                    return
                path = target.split("?", 1)[0].split("#", 1)[0] or "/"
                if self.server.knobs.mode_endpoint and method == "POST" and path == MODE_PATH:  # stand-in only
                    await self._send(writer, 200, [("Content-Type", "application/json")], self.server.knobs.update(body),
                                     http_version, keepalive_10, asked_close)
                    if need_close:
                        return
                    continue
                if self.metrics_path is not None and path == self.metrics_path:
                    status, out_headers, out = await self._schedule(functools.partial(self._metrics, target))
                elif _DISPATCH.fullmatch(target):
                    status, out_headers, out = await self._schedule(functools.partial(self._rest, method, target, body, headers))
                else:
                    await self._send(writer, 404, [("Content-Type", "text/html"), ("Connection", "close")], _error_page(404),
                                     http_version, False)
                    return
                await self._send(writer, status, out_headers, out, http_version, keepalive_10, asked_close)
                if need_close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes | None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return bytes(body)
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        length = headers.get("content-length", "0") or "0"
        if not length.isdigit():
            return None
        return await reader.readexactly(int(length))

    async def _send(self, writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes,
                    http_version: str, keepalive_10: bool, close: bool = False) -> None:
        """evhttp_make_header_response."""
        out = list(headers)
        names = {name.lower() for name, _ in out}
        if http_version == "1.1" and "date" not in names:
            out.append(("Date", email.utils.formatdate(usegmt=True)))
        if http_version == "1.0" and keepalive_10:
            out.append(("Connection", "keep-alive"))
        if (http_version == "1.1" or keepalive_10) and "content-length" not in names:
            out.append(("Content-Length", str(len(body))))
        if "content-type" not in names:
            out.append(("Content-Type", "text/html; charset=ISO-8859-1"))
        if close:
            out = [h for h in out if h[0].lower() != "connection"] + [("Connection", "close")]
        head = f"HTTP/{http_version} {status} {reason(status)}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out) + "\r\n"
        writer.write(head.encode("latin-1") + body)
        await writer.drain()

    # ------------------------------------------------------------ handlers (pool threads)

    def _metrics(self, path_and_query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """ProcessPrometheusRequest: compares the path *with* its query string to the configured one."""
        if path_and_query != self.metrics_path:
            text, code = f"Unexpected path: {path_and_query}. Should be {self.metrics_path}", 400
        else:
            text, code = metrics.REGISTRY.exposition(), 200
        return code, [("Content-Type", "text/plain")], text.encode()

    def _rest(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        """RestApiRequestDispatcher::ProcessRequest."""
        started = time.perf_counter()
        out_headers: list[tuple[str, str]] = []
        model_name = api = output = ""
        if method == "OPTIONS":
            status = None if re.search(r"https?://", headers.get("origin", "")) else Status(
                "FAILED_PRECONDITION", "Origin header is missing in CORS preflight")
        else:
            out_headers.append(("Content-Type", "application/json"))
            try:
                status, model_name, api, output = self.api.process(method, path, body)
            except Exception as error:  # noqa: BLE001 - a stand-in bug must not kill the worker; it is a 500 like an INTERNAL
                log.error("tensorflow_serving/model_servers/http_server.cc", f"stand-in handler failed: {error!r}")
                status, output = Status("INTERNAL", f"TF Serving stand-in: {error!r}"), ""
        if self.cors:
            out_headers += [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "POST, GET"),
                            ("Access-Control-Allow-Headers", "Content-Type")]
        code = "OK" if status is None else status.code
        metrics.record_request(model_name, code, api, "REST", (time.perf_counter() - started) * 1e6)
        return HTTP_STATUS.get(code, 500), out_headers, output.encode("utf-8", "surrogateescape")


def _listen(port: int) -> socket.socket:
    """evhttp_bind_socket_with_handle("::") - one dual-stack socket (asyncio would make it IPv6-only) -
    else 0.0.0.0 when the host has no IPv6; SO_REUSEADDR as libevent sets it; backlog 128."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address: tuple = ("::", port)
    except OSError:
        sock, address = socket.socket(socket.AF_INET, socket.SOCK_STREAM), ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _error_page(code: int) -> bytes:
    """evhttp_send_error's body."""
    phrase = reason(code)
    return f"<HTML><HEAD>\n<TITLE>{code} {phrase}</TITLE>\n</HEAD><BODY>\n<H1>{phrase}</H1>\n</BODY></HTML>\n".encode()


def status_of_model(core, name: str, version: int | None):
    """GetModelStatusImpl::GetModelStatusWithModelSpec: a label is ignored (only has_version counts)."""
    from tensorflow_serving.apis import get_model_status_pb2
    response = get_model_status_pb2.GetModelStatusResponse()
    if version is not None:
        states = {version: core.monitor.state(name, version)}
        if states[version] is None:
            raise not_found(f"Could not find version {version} of model {name}")
    else:
        states = core.monitor.version_states(name)
        if not states:
            raise not_found(f"Could not find any versions of model {name}")
    for number, event in states.items():
        entry = response.model_version_status.add(version=number, state=getattr(get_model_status_pb2.ModelVersionStatus, event.state))
        error = event.error
        entry.status.SetInParent()  # ToStatusProto: always set, so OK prints too
        if error is not None:
            entry.status.error_code = _code_number(error.code)
            entry.status.error_message = error.message
    return response


def _code_number(code: str) -> int:
    from .status import CODES

    return CODES.get(code, 2)
