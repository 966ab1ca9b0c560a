"""TF Serving's config files, parsed with the server's own message definitions.

`tensorflow-serving-api` ships ModelServerConfig. It does not ship BatchingParameters
(tensorflow_serving/servables/tensorflow/session_bundle_config.proto) nor MonitoringConfig
(tensorflow_serving/config/monitoring_config.proto), so those two are declared here from the
upstream field tables, with the same package, names, numbers and types. `text_format.Parse` then
accepts exactly what the server accepts.
"""

from __future__ import annotations

from typing import Callable

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from google.protobuf.message import Message
from tensorflow_serving.config import model_server_config_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, type_: int, *, type_name: str = "", repeated: bool = False) -> _F:
    field = _F(name=name, number=number, type=type_, json_name=name)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name
    return field


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)

    batching = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = batching.message_type.add(name="BatchingParameters")
    int64, string, boolean = ".google.protobuf.Int64Value", ".google.protobuf.StringValue", ".google.protobuf.BoolValue"
    message.field.extend(
        [
            _field("max_batch_size", 1, _F.TYPE_MESSAGE, type_name=int64),
            _field("batch_timeout_micros", 2, _F.TYPE_MESSAGE, type_name=int64),
            _field("max_enqueued_batches", 3, _F.TYPE_MESSAGE, type_name=int64),
            _field("num_batch_threads", 4, _F.TYPE_MESSAGE, type_name=int64),
            _field("thread_pool_name", 5, _F.TYPE_MESSAGE, type_name=string),
            _field("allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True),
            _field("pad_variable_length_inputs", 7, _F.TYPE_BOOL),
            _field("enable_large_batch_splitting", 8, _F.TYPE_MESSAGE, type_name=boolean),
            _field("max_execution_batch_size", 9, _F.TYPE_MESSAGE, type_name=int64),
        ]
    )
    pool.Add(batching)

    monitoring = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto", package="tensorflow.serving", syntax="proto3"
    )
    prometheus = monitoring.message_type.add(name="PrometheusConfig")
    prometheus.field.extend([_field("enable", 1, _F.TYPE_BOOL), _field("path", 2, _F.TYPE_STRING)])
    config = monitoring.message_type.add(name="MonitoringConfig")
    config.field.extend(
        [_field("prometheus_config", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.serving.PrometheusConfig")]
    )
    pool.Add(monitoring)
    return pool


_POOL = _build_pool()
BatchingParameters: type[Message] = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
)
MonitoringConfig: type[Message] = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
)
ModelServerConfig: type[Message] = model_server_config_pb2.ModelServerConfig


def parse_model_server_config(text: str) -> Message:
    return text_format.Parse(text, ModelServerConfig())


def parse_batching_parameters(text: str) -> Message:
    return text_format.Parse(text, BatchingParameters())


def parse_monitoring_config(text: str) -> Message:
    return text_format.Parse(text, MonitoringConfig())


#: Which parser reads the file each flag points at.
CONFIG_FILE_FLAGS: dict[str, Callable[[str], Message]] = {
    "model_config_file": parse_model_server_config,
    "batching_parameters_file": parse_batching_parameters,
    "monitoring_config_file": parse_monitoring_config,
}


#: Batcher::QueueOptions().input_batch_size_limit, the max_batch_size of a file that sets none.
DEFAULT_MAX_BATCH_SIZE = 1000


def batching_load_problems(params: Message) -> list[str]:
    """What the model server refuses when it loads a model with these BatchingParameters (the
    saved_model_bundle_factory.cc path; each failed check fails the load, and a failed initial load
    makes the server exit).

    - WrapSessionForBatching (servables/tensorflow/bundle_factory_util.cc): a non-empty
      allowed_batch_sizes must end at max_batch_size, with or without large batch splitting.
    - GetQueueOptions (bundle_factory_util.h) + SharedBatchScheduler::AddQueue (TensorFlow,
      core/kernels/batching_util/shared_batch_scheduler.h): with splitting on, max_execution_batch_size
      (default: max_batch_size) must not exceed max_batch_size, and max_enqueued_batches must not be 0;
      max_batch_size must be positive, batch_timeout_micros not negative.
    """
    problems: list[str] = []
    max_size = params.max_batch_size.value if params.HasField("max_batch_size") else DEFAULT_MAX_BATCH_SIZE
    sizes = list(params.allowed_batch_sizes)
    if sizes and sizes[-1] != max_size:
        problems.append(f"last entry of allowed_batch_sizes {sizes} is not max_batch_size {max_size}")
    if max_size <= 0:
        problems.append(f"max_batch_size must be positive, got {max_size}")
    if params.HasField("batch_timeout_micros") and params.batch_timeout_micros.value < 0:
        problems.append(f"batch_timeout_micros must be non-negative, got {params.batch_timeout_micros.value}")
    if params.HasField("enable_large_batch_splitting") and params.enable_large_batch_splitting.value:
        execution = params.max_execution_batch_size.value if params.HasField("max_execution_batch_size") else max_size
        if execution > max_size:
            problems.append(f"max_execution_batch_size {execution} is above max_batch_size {max_size}")
        if params.HasField("max_enqueued_batches") and params.max_enqueued_batches.value == 0:
            problems.append("max_enqueued_batches is 0 with large batch splitting on")
    return problems
