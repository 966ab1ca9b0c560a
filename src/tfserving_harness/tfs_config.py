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
