"""The stand-in's command line follows tensorflow_model_server's (main.cc, tensorflow::Flags),
without starting anything: flag table, value parsing, unknown arguments, channel arguments."""

from __future__ import annotations

import pytest

from tfserving_harness import tfs_flags
from tfserving_harness.standin import flags
from tfserving_harness.standin.grpc_service import channel_arguments

CHART_ARGS = [  # what templates/_container.tpl renders for the defaults on a 2-CPU limit
    "--port=8500", "--rest_api_port=8501", "--model_config_file=/etc/tf-serving/models.config",
    "--monitoring_config_file=/etc/tf-serving/monitoring.config", "--model_config_file_poll_wait_seconds=60",
    "--allow_version_labels_for_unavailable_models=true", "--file_system_poll_wait_seconds=1",
    "--tensorflow_intra_op_parallelism=2", "--tensorflow_inter_op_parallelism=2", "--rest_api_num_threads=8",
    "--grpc_max_threads=8", "--rest_api_timeout_in_ms=30000",
    "--grpc_channel_arguments=grpc.max_connection_age_grace_ms=10000,grpc.max_connection_age_ms=30000",
    "--enable_model_warmup=true", "--max_num_load_retries=5", "--load_retry_interval_micros=60000000", "--num_load_threads=0",
    "--enable_batching=true", "--batching_parameters_file=/etc/tf-serving/batching.config", "--enable_grpc_healthcheck_service=true",
]


def test_the_flag_table_is_the_one_the_chart_checks_against():
    """Every flag main.cc declares at 2.20.0 (tfs_flags, read from the source) and nothing else."""
    names = set(flags.parse(["tensorflow_model_server"]).values)
    assert names == set(tfs_flags.KNOWN_FLAGS)


def test_the_flags_the_chart_renders_all_parse():
    parsed = flags.parse(["tensorflow_model_server", *CHART_ARGS])
    assert parsed.ok and not parsed.unknown and not parsed.errors
    assert (parsed.port, parsed.model_config_file_poll_wait_seconds, parsed.allow_version_labels_for_unavailable_models) == (
        8500, 60, True)
    assert parsed.load_retry_interval_micros == 60_000_000 and parsed.grpc_max_threads == 8


def test_defaults_follow_server_options():
    parsed = flags.parse(["tensorflow_model_server"], cpus=3)
    assert (parsed.port, parsed.rest_api_port, parsed.rest_api_timeout_in_ms) == (8500, 0, 30000)
    assert (parsed.grpc_max_threads, parsed.rest_api_num_threads) == (12, 12)  # 4 x NumSchedulableCPUs
    assert (parsed.file_system_poll_wait_seconds, parsed.model_config_file_poll_wait_seconds) == (1, 0)
    assert (parsed.enable_model_warmup, parsed.enable_profiler, parsed.enable_grpc_healthcheck_service) == (True, True, False)
    assert (parsed.max_num_load_retries, parsed.model_name, parsed.saved_model_tags) == (5, "default", "serve")


def test_an_unknown_flag_is_kept_aside_and_the_rest_still_parses():
    parsed = flags.parse(["tensorflow_model_server", "--port=9000", "--rest_api_prot=8501", "--model_name", "m", "--", "--port=1"])
    assert parsed.ok
    assert parsed.port == 9000  # `--` ends parsing: the flag after it is not read
    # `--model_name m` is not `--model_name=m`: both words are unknown; the binary prints the first one.
    assert parsed.unknown == ["--rest_api_prot=8501", "--model_name", "m", "--", "--port=1"]


@pytest.mark.parametrize(("arg", "value"), [
    ("--port= 9000", 9000), ("--port=+9000", 9000), ("--port=-1", -1), ("--port=4294967297", 1),  # sscanf %d into an int32
    ("--load_retry_interval_micros=99999999999", 99999999999), ("--enable_batching", True), ("--enable_batching=TRUE", True),
    ("--enable_batching=0", False), ("--per_process_gpu_memory_fraction=0.5", 0.5), ("--model_name=", ""),
])
def test_values_parse_like_tensorflow_flags(arg, value):
    parsed = flags.parse(["tensorflow_model_server", arg])
    name = arg[2:].split("=", 1)[0]
    assert parsed.ok and parsed.values[name] == value


@pytest.mark.parametrize("arg", ["--port=abc", "--port=8500x", "--port=", "--port=1.5", "--enable_batching=yes", "--grpc_max_threads= 8 "])
def test_a_bad_value_for_a_known_flag_fails_the_parse(arg):
    parsed = flags.parse(["tensorflow_model_server", arg])
    assert not parsed.ok
    assert parsed.errors == [f"Couldn't interpret value {arg.split('=', 1)[1]} for flag {arg[2:].split('=', 1)[0]}."]


def test_a_flag_whose_name_extends_another_is_not_taken_by_the_shorter_one():
    parsed = flags.parse(["tensorflow_model_server", "--model_config_file_poll_wait_seconds=5", "--enable_batching_x=1"])
    assert parsed.model_config_file_poll_wait_seconds == 5 and parsed.model_config_file == ""
    assert parsed.unknown == ["--enable_batching_x=1"]


def test_help_as_the_first_leftover_fails_the_parse():
    assert not flags.parse(["tensorflow_model_server", "--help"]).ok
    assert flags.parse(["tensorflow_model_server", "--bogus", "--help"]).ok


def test_usage_lists_every_flag_with_its_default_and_type():
    text = flags.usage("tensorflow_model_server", cpus=2)
    assert text.startswith("usage: tensorflow_model_server\nFlags:\n")
    assert "\t--port=8500                      \tint32\t" in text
    assert '\t--model_name="default"' in text and "\t--enable_model_warmup=true" in text


def test_grpc_channel_arguments_are_ints_when_simple_atoi_reads_them():
    assert channel_arguments("grpc.max_connection_age_ms=30000,grpc.max_connection_age_grace_ms=10000,grpc.x=abc,grpc.y= 7 ") == [
        ("grpc.max_connection_age_ms", 30000), ("grpc.max_connection_age_grace_ms", 10000), ("grpc.x", "abc"), ("grpc.y", 7)]
    assert channel_arguments("grpc.big=4294967296") == [("grpc.big", "4294967296")]  # past int32: passed as a string
    assert channel_arguments("") == []
    with pytest.raises(SystemExit, match="has no '='"):
        channel_arguments("grpc.max_connection_age_ms")
