"""The flags of tensorflow_model_server, per release, from the source.

`model_servers/main.cc` declares every flag as `tensorflow::Flag("name", ...)` in one list. A flag
that is not in that list does **not** stop the binary: `tensorflow::Flags::Parse` leaves it in argv,
main() prints `unknown argument: <first one>` plus the usage text, and starts the server without it
(main.cc at 2.20.0, after `Flags::Parse`). A known flag with a value it cannot parse (`--port=abc`)
does make it exit. So the chart refuses flags the image's version does not know
(the flag table at the end of templates/_container.tpl is generated from FLAGS by scripts/gen_server_flags.py).

FLAGS maps each flag to (first tag, last tag) of the tensorflow/serving release tags whose main.cc
declares it, read from every release tag 0.5.0 ... 2.20.0 of the tensorflow/serving git history
(`scripts/gen_server_flags.py --git-dir DIR` recomputes it and reports drift). Versions are compared
by major.minor: a flag first seen at 2.15.1 counts for every 2.15 image.
"""

from __future__ import annotations

import re

#: The newest release tag FLAGS was read from; image tags past it are checked against its flags.
NEWEST_TAG = "2.20.0"

#: flag -> (first release tag with it in main.cc, last release tag with it)
FLAGS: dict[str, tuple[str, str]] = {
    "enable_batching": ("0.5.0", "2.20.0"),
    "file_system_poll_wait_seconds": ("0.5.0", "2.20.0"),
    "model_base_path": ("0.5.0", "2.20.0"),
    "model_name": ("0.5.0", "2.20.0"),
    "model_version_policy": ("0.5.0", "0.6.0"),
    "platform_config_file": ("0.5.0", "2.20.0"),
    "port": ("0.5.0", "2.20.0"),
    "tensorflow_session_parallelism": ("0.5.0", "2.20.0"),
    "use_saved_model": ("0.5.0", "0.6.0"),
    "model_config_file": ("0.5.1", "2.20.0"),
    "batching_parameters_file": ("0.6.0", "2.20.0"),
    "per_process_gpu_memory_fraction": ("1.5.0", "2.20.0"),
    "flush_filesystem_caches": ("1.6.0", "2.20.0"),
    "grpc_channel_arguments": ("1.6.0", "2.20.0"),
    "saved_model_tags": ("1.6.0", "2.20.0"),
    "rest_api_num_threads": ("1.8.0", "2.20.0"),
    "rest_api_port": ("1.8.0", "2.20.0"),
    "rest_api_timeout_in_ms": ("1.8.0", "2.20.0"),
    "enable_model_warmup": ("1.9.0", "2.20.0"),
    "ssl_config_file": ("1.10.0", "2.20.0"),
    "version": ("1.10.0", "2.20.0"),
    "load_retry_interval_micros": ("1.11.0", "2.20.0"),
    "max_num_load_retries": ("1.11.0", "2.20.0"),
    "monitoring_config_file": ("1.11.0", "2.20.0"),
    "grpc_socket_path": ("1.13.0", "2.20.0"),
    "tensorflow_inter_op_parallelism": ("1.13.0", "2.20.0"),
    "tensorflow_intra_op_parallelism": ("1.13.0", "2.20.0"),
    "allow_version_labels_for_unavailable_models": ("1.15.0", "2.20.0"),
    "model_config_file_poll_wait_seconds": ("1.15.0", "2.20.0"),
    "remove_unused_fields_from_bundle_metagraph": ("1.15.0", "2.20.0"),
    "use_tflite_model": ("1.15.0", "2.2.3"),
    "prefer_tflite_model": ("2.3.0", "2.20.0"),
    "enable_signature_method_name_check": ("2.4.0", "2.20.0"),
    "enable_profiler": ("2.5.1", "2.20.0"),
    "grpc_max_threads": ("2.5.1", "2.20.0"),
    "num_load_threads": ("2.5.1", "2.20.0"),
    "num_tflite_interpreters_per_pool": ("2.5.1", "2.20.0"),
    "num_tflite_pools": ("2.5.1", "2.20.0"),
    "num_unload_threads": ("2.5.1", "2.20.0"),
    "rest_api_enable_cors_support": ("2.5.1", "2.20.0"),
    "xla_cpu_compilation_enabled": ("2.5.1", "2.20.0"),
    "thread_pool_factory_config_file": ("2.6.0", "2.20.0"),
    "use_alts_credentials": ("2.6.0", "2.20.0"),
    "num_request_iterations_for_warmup": ("2.8.0", "2.20.0"),
    "tensorflow_session_config_file": ("2.8.0", "2.20.0"),
    "enable_per_model_batching_parameters": ("2.11.0", "2.20.0"),
    "enable_grpc_healthcheck_service": ("2.15.1", "2.20.0"),
    "mixed_precision": ("2.15.1", "2.20.0"),
    "skip_initialize_tpu": ("2.15.1", "2.20.0"),
    "xla_gpu_compilation_enabled": ("2.18.0", "2.20.0"),
    "enable_serialization_as_tensor_content": ("2.19.0", "2.20.0"),
}

_FLAG_DECLARATION = re.compile(r'Flag\(\s*"([a-z0-9_]+)"')


def declared_flags(main_cc: str) -> set[str]:
    """The flag names a main.cc declares (`tensorflow::Flag("name", ...)`, the name possibly on the next line)."""
    return set(_FLAG_DECLARATION.findall(main_cc))


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = version.split(".")
    return int(major), int(minor_)


def image_version(tag: str) -> str | None:
    """`2.19.1-gpu` -> `2.19.1`; None for a tag without a version (`nightly`, `latest`)."""
    match = re.match(r"^(\d+\.\d+\.\d+)", tag)
    return match[1] if match else None


def flags_for(version: str | None) -> frozenset[str]:
    """The flags an image of this version knows; None (no version in the tag) or a version newer
    than NEWEST_TAG means the newest known release."""
    if version is None or minor(version) > minor(NEWEST_TAG):
        version = NEWEST_TAG
    return frozenset(f for f, (first, last) in FLAGS.items() if minor(first) <= minor(version) <= minor(last))


#: The flags of the chart's appVersion image.
KNOWN_FLAGS = flags_for(NEWEST_TAG)
