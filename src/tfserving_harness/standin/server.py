"""`tensorflow_model_server` as the stand-in runs it: main() then Server::BuildAndStart.

Order (tensorflow/serving 2.20.0 `model_servers/main.cc`, `model_servers/server.cc`):
1. flags (`flags.py`): a bad value prints the usage and exits 255; `--version` prints and exits 0;
   unknown arguments print `unknown argument: <first>` and the usage, and the server starts anyway;
2. the option checks of BuildAndStart, `--model_config_file` parsed (or a single-model config from
   `--model_name`/`--model_base_path`), the batching and session config files parsed, then
   ServerCore::Create: the initial load, which blocks until one version of every model is
   AVAILABLE or failed (a failure ends the process: `Failed to start server. Error: ...`, exit 255);
3. the config poll thread (`--model_config_file_poll_wait_seconds` > 0), started only now;
4. gRPC, then the health statuses, then `--monitoring_config_file` parsed and REST started last
   (a REST port that cannot be bound is only logged; REST is off when `--rest_api_port` is 0 or
   equals `--port`).
No signal handler is installed: as PID 1 in a container SIGTERM and SIGINT are then ignored, as
they are for the real binary; the process ends on SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from . import flags as flag_parser
from . import log
from .knobs import Knobs
from .status import Status, invalid_argument

_SERVER = "tensorflow_serving/model_servers/server.cc"
_MAIN = "tensorflow_serving/model_servers/main.cc"
BANNER = ("TF Serving stand-in (tfserving_harness.standin, test tooling of the tf-serving chart): NOT tensorflow_model_server; "
          "it follows tensorflow_model_server {version} on what the chart relies on (docs/standin.md lists what it does not reproduce)")


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return file.read().decode("utf-8", "surrogateescape")
    except OSError as error:
        raise Status("NOT_FOUND" if isinstance(error, FileNotFoundError) else "PERMISSION_DENIED" if isinstance(error, PermissionError)
                     else "UNKNOWN", f"{path}; {error.strerror}") from None


def parse_proto_text_file(path: str, message):
    """ParseProtoTextFile (util/proto_util.h)."""
    from google.protobuf import text_format

    text = _read_text(path)
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        log.error("google/protobuf/text_format.cc", f"Error parsing text-format {message.DESCRIPTOR.full_name}: {error}")
        raise invalid_argument(f"Invalid protobuf file: '{path}'") from None
    return message


class StandIn:
    """What the gRPC and REST handlers reach: the ServerCore, the knobs, the options."""

    def __init__(self, core, knobs: Knobs, rest_timeout_ms: int):
        self.core, self.knobs, self.rest_timeout_ms = core, knobs, rest_timeout_ms

    def model_status(self, name: str, version: int | None):
        from .rest import status_of_model

        return status_of_model(self.core, name, version)


def build_and_start(options) -> StandIn:
    """Server::BuildAndStart; raises Status for the errors that make main() exit."""
    if options.port == 0 and not options.grpc_socket_path:
        raise invalid_argument("At least one of server_options.grpc_port or server_options.grpc_socket_path must be set.")
    if options.use_alts_credentials and options.ssl_config_file:
        raise invalid_argument("Either use_alts_credentials must be false or ssl_config_file must be empty.")
    if not options.model_base_path and not options.model_config_file:
        raise invalid_argument("Both server_options.model_base_path and server_options.model_config_file are empty!")
    for flag in ("ssl_config_file", "platform_config_file", "thread_pool_factory_config_file"):
        if options.values[flag]:
            raise SystemExit(f"TF Serving stand-in: --{flag} is not supported by the stand-in (docs/standin.md)")

    from tensorflow_serving.config import model_server_config_pb2

    from .. import tfs_config
    from . import servable
    from .core import CoreOptions, ServerCore

    config = model_server_config_pb2.ModelServerConfig()
    if not options.model_config_file:
        log.info(_SERVER, f"Building single TensorFlow model file config:  model_name: {options.model_name} model_base_path: "
                          f"{options.model_base_path}")
        model = config.model_config_list.config.add(name=options.model_name, base_path=options.model_base_path)
        model.model_platform = "tensorflow"
    else:
        parse_proto_text_file(options.model_config_file, config)
    if options.enable_batching:
        if options.batching_parameters_file:
            parse_proto_text_file(options.batching_parameters_file, tfs_config.BatchingParameters())
        log.warning(_SERVER, "TF Serving stand-in: --enable_batching is accepted and its file parsed, but requests are not batched")
    elif options.batching_parameters_file:
        raise invalid_argument("server_options.batching_parameters_file is set without setting server_options.enable_batching to true.")
    if options.tensorflow_session_config_file:
        from tensorflow.core.protobuf import config_pb2

        parse_proto_text_file(options.tensorflow_session_config_file, config_pb2.ConfigProto())
    intra, inter, session = (options.tensorflow_intra_op_parallelism, options.tensorflow_inter_op_parallelism,
                             options.tensorflow_session_parallelism)
    if intra > 0 and inter > 0 and session > 0:
        raise invalid_argument("Either configure server_options.tensorflow_session_parallelism or (server_options."
                               "tensorflow_intra_op_parallelism, server_options.tensorflow_inter_op_parallelism) separately. You "
                               "cannot configure all.")
    if not (intra > 0 or inter > 0):
        intra = inter = session

    load_options = servable.Options(
        tags=[t for t in options.saved_model_tags.split(",") if t] if options.saved_model_tags else [],
        intra_op=int(intra), inter_op=int(inter), enable_warmup=options.enable_model_warmup,
        warmup_iterations=options.num_request_iterations_for_warmup if options.num_request_iterations_for_warmup > 0 else 1,
        method_name_check=options.enable_signature_method_name_check,
        tensor_content=options.enable_serialization_as_tensor_content)
    core = ServerCore(
        CoreOptions(file_system_poll_wait_seconds=options.file_system_poll_wait_seconds,
                    allow_version_labels_for_unavailable_models=options.allow_version_labels_for_unavailable_models,
                    num_load_threads=options.num_load_threads, num_unload_threads=options.num_unload_threads,
                    num_initial_load_threads=4 * flag_parser.schedulable_cpus(),
                    max_num_load_retries=options.max_num_load_retries, load_retry_interval_micros=options.load_retry_interval_micros),
        load=lambda name, version, path: servable.load(name, version, path, load_options),
        unload=servable.unload)
    core.reload_config(config)  # ServerCore::Create

    if options.model_config_file_poll_wait_seconds > 0 and options.model_config_file:
        from .core import periodic

        def poll() -> None:
            try:
                new = parse_proto_text_file(options.model_config_file, model_server_config_pb2.ModelServerConfig())
            except Status as error:
                log.error(_SERVER, f"Failed to read ModelServerConfig file: {error.message}")
                return
            try:
                core.reload_config(new)
            except Status as error:
                log.error(_SERVER, f"PollFilesystemAndReloadConfig failed to ReloadConfig: {error.message}")

        periodic(poll, options.model_config_file_poll_wait_seconds, threading.Event(), "Server_fs_model_config_poll_thread")

    knobs = Knobs()
    standin = StandIn(core, knobs, options.rest_api_timeout_in_ms)
    from . import grpc_service

    # Kept on the StandIn: grpcio stops a server whose object is garbage-collected.
    standin.grpc_server, standin.health, standin.thread_quota = grpc_service.start(standin, options)
    if options.port != 0:
        log.info(_SERVER, f"Running gRPC ModelServer at 0.0.0.0:{options.port} ...")
    if options.grpc_socket_path:
        log.info(_SERVER, f"Running gRPC ModelServer at UNIX socket {options.grpc_socket_path} ...")

    if options.rest_api_port != 0:
        address = f"localhost:{options.rest_api_port}"
        if options.rest_api_port == options.port:
            log.error(_SERVER, "server_options.http_port cannot be same as grpc_port. Please use a different port for HTTP/REST API. "
                               "Skipped exporting HTTP/REST API.")
        else:
            monitoring = tfs_config.MonitoringConfig()
            if options.monitoring_config_file:
                parse_proto_text_file(options.monitoring_config_file, monitoring)
            prometheus = monitoring.prometheus_config
            metrics_path = (prometheus.path or "/monitoring/prometheus/metrics") if prometheus.enable else None
            from .rest import RestServer

            rest = RestServer(standin, options.rest_api_port, options.rest_api_num_threads, metrics_path,
                              options.rest_api_enable_cors_support)
            standin.rest_server = rest
            if rest.start():
                log.info(_SERVER, f"Exporting HTTP/REST API at:{address} ...")
            else:
                log.error("tensorflow_serving/util/net_http/server/internal/evhttp_server.cc",
                          f"Couldn't bind to port {options.rest_api_port}")
                log.error(_SERVER, f"Failed to start HTTP Server at {address}")
    if knobs.active or knobs.mode_endpoint:
        log.warning("tfserving_harness/standin/knobs.py", f"TF Serving stand-in capacity knobs (not in the real server): {knobs.describe()}")
    return standin


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    # Python's own SIGINT handler is the only one the interpreter installs; drop it so the process
    # has no handler at all, like the binary (as PID 1, SIGINT and SIGTERM are then ignored).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    program = argv[0]
    parsed = flag_parser.parse(argv)
    for message in parsed.errors:
        log.error("tensorflow/core/util/command_line_flags.cc", message)
    usage = flag_parser.usage(program)
    if not parsed.ok:
        sys.stdout.write(usage)
        sys.stdout.flush()
        return 255
    log.info("tfserving_harness/standin/server.py", BANNER.format(version=flag_parser.VERSION))
    if parsed.version:
        import tensorflow as tf

        sys.stdout.write(f"TensorFlow ModelServer: {flag_parser.VERSION}-standin\nTensorFlow Library: {tf.__version__}\n")
        return 0
    if parsed.unknown:
        sys.stdout.write(f"unknown argument: {parsed.unknown[0]}\n{usage}")
        sys.stdout.flush()
    try:
        standin = build_and_start(parsed)
    except Status as error:
        sys.stdout.write(f"Failed to start server. Error: {error}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(255)  # grpc and the loading threads must not keep the process alive
    threading.Event().wait()  # WaitForTermination: until the process is killed
    return 0 if standin else 255
