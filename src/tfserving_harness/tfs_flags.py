"""The tensorflow_model_server flags the chart may emit.

An unknown flag makes the binary exit at start, so every rendered argument is checked against this
list (from model_servers/main.cc; see shared/reference/tf-serving.md). `server.extraArgs` is the
documented escape hatch and is not checked.
"""

from __future__ import annotations

KNOWN_FLAGS = frozenset(
    {
        "port",
        "rest_api_port",
        "rest_api_num_threads",
        "rest_api_timeout_in_ms",
        "model_config_file",
        "model_config_file_poll_wait_seconds",
        "model_name",
        "model_base_path",
        "file_system_poll_wait_seconds",
        "enable_batching",
        "batching_parameters_file",
        "enable_per_model_batching_parameters",
        "allow_version_labels_for_unavailable_models",
        "monitoring_config_file",
        "tensorflow_intra_op_parallelism",
        "tensorflow_inter_op_parallelism",
        "tensorflow_session_parallelism",
        "grpc_max_threads",
        "grpc_channel_arguments",
        "enable_model_warmup",
        "enable_grpc_healthcheck_service",
        "num_load_threads",
        "max_num_load_retries",
        "load_retry_interval_micros",
        "ssl_config_file",
        "platform_config_file",
        "saved_model_tags",
        "per_process_gpu_memory_fraction",
        "xla_cpu_compilation_enabled",
        "mixed_precision",
    }
)
