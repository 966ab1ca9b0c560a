"""The gRPC port, served by grpcio (gRPC C-core, the core TF Serving's C++ server runs on).

Sources:
- tensorflow/serving 2.20.0 `model_servers/server.cc`: `--grpc_channel_arguments` split on `,`
  then `=`, a value passed as an int when absl::SimpleAtoi(int32) reads it, else as a string;
  SetMaxMessageSize(INT32_MAX); ResourceQuota::SetMaxThreads(`--grpc_max_threads`); the health
  service (`--enable_grpc_healthcheck_service`) with "ModelService" and "PredictionService" set
  SERVING after the server started; the profiler service when `--enable_profiler` (default true).
- `model_servers/prediction_service_impl.cc`, `model_service_impl.cc`, `grpc_status_util.cc`:
  Predict records request_latency{API="Predict",entrypoint="GRPC"} when OK and request_count
  always; GetModelMetadata and GetModelStatus record nothing; messages over 1024 characters are cut
  and end in "...TRUNCATED"; HandleReloadConfigRequest calls ServerCore::ReloadConfig (and so can
  wait for ever, holding a server thread) and reports metric increases.
- gRPC C++ `src/cpp/thread_manager/thread_manager.cc` and `src/cpp/server/server_cc.cc`: the sync
  server's threads come from the quota (one poller reserved at start, `abort()` when the quota
  cannot even give that one); a poller that takes a call when it was the last poller and the quota
  has no thread left answers it with RESOURCE_EXHAUSTED "Server Threadpool Exhausted" without
  running the method. So with `--grpc_max_threads=N` at most N - 1 calls run at once and the Nth
  concurrent call is refused (not the N+1th), never reaching TF Serving's code (no request_count).
  The health service is a callback service in gRPC C++ (`default_health_check_service.cc`), outside
  that pool: health checks are never refused.
- gRPC C++ `default_health_check_service.cc`: "" is SERVING from the start, an unknown service is
  NOT_FOUND "service name unknown"; Watch streams the current status, SERVICE_UNKNOWN for unknown.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import log, metrics
from .flags import simple_atoi
from .status import CODES, Status, invalid_argument

_SERVER = "tensorflow_serving/model_servers/server.cc"
THREADPOOL_EXHAUSTED = "Server Threadpool Exhausted"
INT32_MAX = 2**31 - 1


def channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """parseGrpcChannelArgs + the int-or-string choice of BuildAndStart."""
    if not text:
        return []  # str_util::Split of "" is empty
    result = []
    for entry in text.split(","):
        key_value = entry.split("=")
        if len(key_value) < 2:
            raise SystemExit(f"TF Serving stand-in: --grpc_channel_arguments entry {entry!r} has no '=': tensorflow_model_server reads "
                             "past the end of its split there (undefined behaviour), the stand-in refuses it")
        value = simple_atoi(key_value[1], bits=32)
        result.append((key_value[0], key_value[1] if value is None else value))
    return result


def _abort(context: grpc.ServicerContext, error: Status) -> None:
    message = error.message if len(error.message) <= 1024 else error.message[:1024] + "...TRUNCATED"
    context.abort(grpc.StatusCode[error.code], message)


def _health_messages():
    pool = descriptor_pool.DescriptorPool()
    file = descriptor_pb2.FileDescriptorProto(name="grpc/health/v1/health.proto", package="grpc.health.v1", syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    file.message_type.add(name="HealthCheckRequest").field.add(name="service", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    response = file.message_type.add(name="HealthCheckResponse")
    enum = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        enum.value.add(name=name, number=number)
    response.field.add(name="status", number=1, type=F.TYPE_ENUM, label=F.LABEL_OPTIONAL,
                       type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus")
    pool.Add(file)
    get = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))  # noqa: E731
    return get("grpc.health.v1.HealthCheckRequest"), get("grpc.health.v1.HealthCheckResponse")


class Health:
    """gRPC C++'s DefaultHealthCheckService."""

    def __init__(self) -> None:
        self.request_type, self.response_type = _health_messages()
        self.cond = threading.Condition()
        self.services = {"": 1}  # SERVING

    def set(self, service: str, serving: bool) -> None:
        with self.cond:
            self.services[service] = 1 if serving else 2
            self.cond.notify_all()

    def check(self, request, context):
        with self.cond:
            status = self.services.get(request.service)
        if status is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "service name unknown")
        return self.response_type(status=status)

    def watch(self, request, context):
        last = None
        while context.is_active():
            with self.cond:
                status = self.services.get(request.service, 3)
                if status == last:
                    self.cond.wait(timeout=1.0)
                    continue
            last = status
            yield self.response_type(status=status)

    def handler(self) -> grpc.GenericRpcHandler:
        serialize = lambda message: message.SerializeToString()  # noqa: E731
        return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(self.check, self.request_type.FromString, serialize),
            "Watch": grpc.unary_stream_rpc_method_handler(self.watch, self.request_type.FromString, serialize),
        })


class ThreadQuota(grpc.ServerInterceptor):
    """The sync server's thread quota: N - 1 calls at once, the next one refused."""

    def __init__(self, max_threads: int):
        self.slots = threading.BoundedSemaphore(max(max_threads - 1, 0)) if max_threads > 1 else None
        self.refused = 0

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith("/grpc.health.v1.Health/"):
            return handler
        inner = handler.unary_unary

        def capped(request, context):
            if self.slots is None or not self.slots.acquire(blocking=False):
                self.refused += 1
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, THREADPOOL_EXHAUSTED)
            try:
                return inner(request, context)
            finally:
                self.slots.release()

        return grpc.unary_unary_rpc_method_handler(capped, handler.request_deserializer, handler.response_serializer)


class Services:
    def __init__(self, standin) -> None:
        self.standin = standin

    def predict(self, request, context):
        from tensorflow_serving.apis import predict_pb2

        started = time.perf_counter()
        response = predict_pb2.PredictResponse()
        error = None
        try:
            if not request.HasField("model_spec"):
                raise invalid_argument("Missing ModelSpec")
            with self.standin.core.servable(request.model_spec) as harness:
                self.standin.knobs.before_predict()
                harness.servable.predict_proto(request, response)
        except Status as failure:
            error = failure
        code = "OK" if error is None else error.code
        metrics.record_request(request.model_spec.name, code, "Predict", "GRPC", (time.perf_counter() - started) * 1e6)
        if error is not None:
            _abort(context, error)
        return response

    def get_model_metadata(self, request, context):
        from tensorflow_serving.apis import get_model_metadata_pb2

        try:
            if not request.HasField("model_spec"):
                raise invalid_argument("Missing ModelSpec")
            if not request.metadata_field:
                raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
            for field in request.metadata_field:
                if field != "signature_def":
                    raise invalid_argument(f"Metadata field {field} is not supported")
            with self.standin.core.servable(request.model_spec) as harness:
                response = get_model_metadata_pb2.GetModelMetadataResponse()
                response.model_spec.name = harness.name
                response.model_spec.version.value = harness.version
                response.metadata["signature_def"].Pack(harness.servable.signature_def_map())
        except Status as error:
            _abort(context, error)
        return response

    def unimplemented(self, name: str):
        def method(request, context):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"TF Serving stand-in: {name} is not implemented")

        return method

    def get_model_status(self, request, context):
        from .rest import status_of_model

        try:
            if not request.HasField("model_spec"):
                raise invalid_argument("Missing ModelSpec")
            spec = request.model_spec
            return status_of_model(self.standin.core, spec.name, spec.version.value if spec.HasField("version") else None)
        except Status as error:
            _abort(context, error)

    def reload_config(self, request, context):
        from tensorflow_serving.apis import model_management_pb2

        response = model_management_pb2.ReloadConfigResponse()
        before = {name: metrics.REGISTRY.first_value(name) for name in request.metric_names}
        error = None
        if request.config.WhichOneof("config") == "model_config_list":
            for index, config in enumerate(request.config.model_config_list.config):
                log.info("tensorflow_serving/model_servers/model_service_impl.cc",
                         f"\nConfig entry\n\tindex : {index}\n\tpath : {config.base_path}\n\tname : {config.name}\n\tplatform : "
                         f"{config.model_platform}")
            try:
                self.standin.core.reload_config(request.config)
            except Status as failure:
                error = failure
        else:
            error = invalid_argument("ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is "
                                     "currently supported")
        if error is not None:
            log.error("tensorflow_serving/model_servers/model_service_impl.cc", f"ReloadConfig failed: {error.message}")
            response.status.error_code = CODES[error.code]
            response.status.error_message = error.message
        for name in request.metric_names:
            response.metric.add(name=name, int64_value_increase=int(metrics.REGISTRY.first_value(name) - before[name]))
        if error is not None:
            _abort(context, error)
        return response

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        from tensorflow_serving.apis import (
            classification_pb2,
            get_model_metadata_pb2,
            get_model_status_pb2,
            inference_pb2,
            model_management_pb2,
            predict_pb2,
            regression_pb2,
        )

        def unary(function, request_type, response_type):
            return grpc.unary_unary_rpc_method_handler(function, request_type.FromString, response_type.SerializeToString)

        prediction = grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", {
            "Predict": unary(self.predict, predict_pb2.PredictRequest, predict_pb2.PredictResponse),
            "GetModelMetadata": unary(self.get_model_metadata, get_model_metadata_pb2.GetModelMetadataRequest,
                                      get_model_metadata_pb2.GetModelMetadataResponse),
            "Classify": unary(self.unimplemented("Classify"), classification_pb2.ClassificationRequest,
                              classification_pb2.ClassificationResponse),
            "Regress": unary(self.unimplemented("Regress"), regression_pb2.RegressionRequest, regression_pb2.RegressionResponse),
            "MultiInference": unary(self.unimplemented("MultiInference"), inference_pb2.MultiInferenceRequest,
                                    inference_pb2.MultiInferenceResponse),
        })
        model = grpc.method_handlers_generic_handler("tensorflow.serving.ModelService", {
            "GetModelStatus": unary(self.get_model_status, get_model_status_pb2.GetModelStatusRequest,
                                    get_model_status_pb2.GetModelStatusResponse),
            "HandleReloadConfigRequest": unary(self.reload_config, model_management_pb2.ReloadConfigRequest,
                                               model_management_pb2.ReloadConfigResponse),
        })
        return [model, prediction]


def profiler_handler() -> grpc.GenericRpcHandler:
    """tensorflow.ProfilerService (tsl/profiler/protobuf/profiler_service.proto), registered but not profiling."""

    def refuse(request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "TF Serving stand-in: the profiler service is registered but does not profile")

    return grpc.method_handlers_generic_handler("tensorflow.ProfilerService", {
        name: grpc.unary_unary_rpc_method_handler(refuse) for name in ("Profile", "Terminate", "Monitor")})


def start(standin, flags) -> tuple[grpc.Server, Health | None, ThreadQuota]:
    """The ServerBuilder part of Server::BuildAndStart."""
    if flags.grpc_max_threads < 1:
        # ThreadManager::Initialize cannot reserve its one poller.
        log.error("src/cpp/thread_manager/thread_manager.cc", "No thread quota available to even create the minimum required polling "
                                                             "threads (i.e 1). Unable to start the thread manager")
        os.abort()
    user = channel_arguments(flags.grpc_channel_arguments)
    sizes = ("grpc.max_receive_message_length", "grpc.max_send_message_length")
    options = [(k, v) for k, v in user if k not in sizes] + [(k, INT32_MAX) for k in sizes]
    quota = ThreadQuota(flags.grpc_max_threads)
    # Enough workers that a refusal or a health check never waits behind the N - 1 capped calls.
    executor = ThreadPoolExecutor(max(flags.grpc_max_threads - 1, 0) + 8, thread_name_prefix="grpcpp_sync_server")
    server = grpc.server(executor, interceptors=[quota], options=options)
    for handler in Services(standin).handlers():
        server.add_generic_rpc_handlers((handler,))
    if flags.enable_profiler:
        server.add_generic_rpc_handlers((profiler_handler(),))
        log.info(_SERVER, "Profiler service is enabled")
    health = None
    if flags.enable_grpc_healthcheck_service:
        health = Health()
        server.add_generic_rpc_handlers((health.handler(),))
    if flags.use_alts_credentials:
        log.info(_SERVER, "Using ALTS credentials")
        credentials = grpc.alts_server_credentials()
    else:
        log.info(_SERVER, "Using InsecureServerCredentials")
        credentials = None
    ports = []
    if flags.port != 0:
        ports.append(f"0.0.0.0:{flags.port}")
    if flags.grpc_socket_path:
        ports.append(f"unix:{flags.grpc_socket_path}")
    for address in ports:
        if credentials is None:
            server.add_insecure_port(address)
        else:
            server.add_secure_port(address, credentials)
    server.start()
    if health is not None:
        health.set("ModelService", True)
        health.set("PredictionService", True)
    return server, health, quota
