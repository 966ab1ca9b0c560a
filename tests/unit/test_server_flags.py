"""server.*: the tuning flags the chart emits (TensorFlow's op pools sized to the container's CPU
limit, fixed gRPC and REST threads), and only known flags."""

from __future__ import annotations

import pytest

from tfserving_harness import checks
from tfserving_harness.frozen import thaw
from tfserving_harness.manifests import one, server_container, server_flags
from tfserving_harness.testing import assert_no_problems, assert_refused, at, render_error
from tfserving_harness.tfs_flags import KNOWN_FLAGS

# The flags each server-config feature adds to the command line (another area may add its own).
FEATURE_FLAGS = {
    "hot reload": ({"server": {"modelConfigPollWaitSeconds": 30}}, {"model_config_file_poll_wait_seconds"}),
    "version labels": ({"server": {"allowVersionLabelsForUnavailableModels": True}}, {"allow_version_labels_for_unavailable_models"}),
    "batching": ({"batching": {"enabled": True}}, {"enable_batching", "batching_parameters_file"}),
    "per-model batching": (
        {"batching": {"enabled": True, "perModelParameters": True}},
        {"enable_batching", "batching_parameters_file", "enable_per_model_batching_parameters"},
    ),
    "metrics": ({"metrics": {"enabled": True}}, {"monitoring_config_file"}),
}
FEATURES_OFF = {"metrics": {"enabled": False}}
# Emitted whenever there is a CPU limit (or request) to size them from.
CPU_DERIVED_FLAGS = {"tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism"}
# Always emitted, so the pod spec shows the effective setting rather than the binary's default.
EXPLICIT_FLAGS = {
    "port",
    "rest_api_port",
    "model_config_file",
    "file_system_poll_wait_seconds",
    "rest_api_num_threads",
    "grpc_max_threads",
    "enable_profiler",
    "rest_api_timeout_in_ms",
    "enable_model_warmup",
    "max_num_load_retries",
    "load_retry_interval_micros",
    "num_load_threads",
}
ALL_ON = {
    "server": {"modelConfigPollWaitSeconds": 30, "allowVersionLabelsForUnavailableModels": True},
    "batching": {"enabled": True, "perModelParameters": True},
}


def flags_of(docs) -> dict[str, str]:
    return server_flags(server_container(one(docs, "Deployment")))


def test_every_flag_the_chart_may_emit_is_a_real_flag():
    chart_flags = EXPLICIT_FLAGS | CPU_DERIVED_FLAGS | {"grpc_channel_arguments"}
    for _, flags in FEATURE_FLAGS.values():
        chart_flags |= flags
    assert chart_flags <= KNOWN_FLAGS, chart_flags - KNOWN_FLAGS


@pytest.mark.parametrize("feature", list(FEATURE_FLAGS))
def test_each_feature_adds_exactly_its_flags(render, feature):
    values, expected = FEATURE_FLAGS[feature]
    off = set(flags_of(render(FEATURES_OFF)))
    on = set(flags_of(render({**FEATURES_OFF, **values})))
    assert on - off == expected
    assert off - on == set()


def test_everything_on_renders_only_known_flags_and_passes_every_check(render):
    docs = render(ALL_ON)
    flags = flags_of(docs)
    assert set(flags) <= KNOWN_FLAGS
    assert EXPLICIT_FLAGS | CPU_DERIVED_FLAGS | {"grpc_channel_arguments"} <= set(flags)
    assert_no_problems(docs)


def test_defaults_size_op_threads_to_the_cpu_limit_not_the_node(default_docs):
    """values.yaml limits the container to 2 CPUs: 2 op threads."""
    flags = flags_of(default_docs)
    assert flags["tensorflow_intra_op_parallelism"] == "2"
    assert flags["tensorflow_inter_op_parallelism"] == "2"


@pytest.mark.parametrize("cpu", ["2", "500m", "16"])
def test_grpc_and_rest_threads_do_not_follow_the_cpu_limit(render, cpu):
    """A gRPC call beyond --grpc_max_threads - 1 in flight is refused (RESOURCE_EXHAUSTED "Server
    Threadpool Exhausted", gRPC's ThreadManager), not queued; REST calls and the metrics scrape queue
    for the REST pool. Both mostly wait for TensorFlow, so the CPU limit is no measure for them."""
    flags = flags_of(render({"resources": {"limits": {"cpu": cpu}, "requests": {"cpu": "250m"}}}))
    assert (flags["grpc_max_threads"], flags["rest_api_num_threads"]) == ("256", "64")


def test_the_profiler_service_is_off_unless_asked_for(default_docs, render):
    """server.h defaults enable_profiler to true: anyone reaching the gRPC port could run profiles."""
    assert flags_of(default_docs)["enable_profiler"] == "false"
    assert flags_of(render({"server": {"enableProfiler": True}}))["enable_profiler"] == "true"


def test_explicit_thread_values_win_over_the_cpu_limit(render):
    flags = flags_of(render({"server": {"tensorflowIntraOpParallelism": 3, "tensorflowInterOpParallelism": 1, "restApiNumThreads": 5, "grpcMaxThreads": 6}}))
    assert [flags[f] for f in ("tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism", "rest_api_num_threads", "grpc_max_threads")] == ["3", "1", "5", "6"]


def test_millicore_limit_rounds_up(render):
    flags = flags_of(render({"resources": {"limits": {"cpu": "2500m"}}}))
    assert (flags["tensorflow_intra_op_parallelism"], flags["tensorflow_inter_op_parallelism"]) == ("3", "3")


def test_without_a_cpu_figure_thread_flags_are_omitted(render):
    flags = flags_of(render({"resources": {"limits": None, "requests": None}}))
    assert not CPU_DERIVED_FLAGS & set(flags)


def test_track_resources_size_that_tracks_threads(render):
    docs = render({"tracks": {"small": {}, "big": {"resources": {"limits": {"cpu": "8"}}}}})
    threads = {d["metadata"]["name"]: server_flags(server_container(d))["tensorflow_intra_op_parallelism"] for d in docs if d["kind"] == "Deployment"}
    assert threads == {"tfs-tf-serving-big": "8", "tfs-tf-serving-small": "2"}


def test_numbers_render_as_integers(render):
    """Helm holds YAML numbers as floats; 60000000 must not reach the binary as 6e+07."""
    flags = flags_of(render({"server": {"loadRetryIntervalMicros": 120000000, "restApiTimeoutInMs": 2500000},
                             "probes": {"startup": {"budgetSeconds": 900}}, "shutdown": {"terminationGracePeriodSeconds": 2510}}))
    assert flags["load_retry_interval_micros"] == "120000000"
    assert flags["rest_api_timeout_in_ms"] == "2500000"


def test_grpc_channel_arguments_default_to_a_max_connection_age_and_its_grace(default_docs):
    assert flags_of(default_docs)["grpc_channel_arguments"] == "grpc.max_connection_age_grace_ms=10000,grpc.max_connection_age_ms=30000"


def test_grpc_channel_arguments_split_as_the_server_splits_them(render):
    """The server splits on ',' then on '=' and reads the second part (no '=' would crash it)."""
    values = {"server": {"grpcChannelArguments": {"grpc.max_connection_age_ms": 120000, "grpc.max_connection_age_grace_ms": 30000, "grpc.primary_user_agent": "tfs"}},
              "shutdown": {"terminationGracePeriodSeconds": 172}}
    flags = flags_of(render(values))
    pairs = [argument.split("=") for argument in flags["grpc_channel_arguments"].split(",")]
    assert all(len(pair) == 2 for pair in pairs)
    assert dict(pairs) == {"grpc.max_connection_age_ms": "120000", "grpc.max_connection_age_grace_ms": "30000", "grpc.primary_user_agent": "tfs"}


@pytest.mark.parametrize(
    ("arguments", "key", "got"),
    [
        (None, "grpc.max_connection_age_ms", "nothing"),
        ({"grpc.max_connection_age_grace_ms": None}, "grpc.max_connection_age_grace_ms", "nothing"),
        ({"grpc.max_connection_age_ms": "30s"}, "grpc.max_connection_age_ms", "30s"),
        ({"grpc.max_connection_age_grace_ms": 0}, "grpc.max_connection_age_grace_ms", "0"),
    ],
    ids=["no-arguments", "no-grace", "not-milliseconds", "zero-grace"],
)
def test_a_connection_age_and_its_grace_are_required(arguments, key, got):
    """gRPC's max-age filter defaults both to infinite, and TF Serving sends GOAWAY at nothing else."""
    assert_refused({"server": {"grpcChannelArguments": arguments}},
                   f"tf-serving: server.grpcChannelArguments.{key} must be a positive number of milliseconds, got {got}")


def test_warmup_and_load_settings_reach_the_flags(render):
    flags = flags_of(render({"server": {"enableModelWarmup": False, "maxNumLoadRetries": 0, "numLoadThreads": 4, "fileSystemPollWaitSeconds": 60}}))
    assert (flags["enable_model_warmup"], flags["max_num_load_retries"], flags["num_load_threads"], flags["file_system_poll_wait_seconds"]) == ("false", "0", "4", "60")


@pytest.mark.parametrize(
    ("server", "path"),
    [
        ({"grpcChannelArguments": {"grpc.max_connection_age_ms": "1,grpc.x=2"}}, "server.grpcChannelArguments"),
        ({"grpcChannelArguments": {"max_connection_age_ms": 1}}, "server.grpcChannelArguments.max_connection_age_ms"),
        ({"grpcMaxThreads": -1}, "server.grpcMaxThreads"),
        ({"fileSystemPollWaitSeconds": -1}, "server.fileSystemPollWaitSeconds"),
        ({"restApiTimeoutInMs": 0}, "server.restApiTimeoutInMs"),
        ({"modelConfigPollWaitSecond": 30}, "server.modelConfigPollWaitSecond"),
    ],
    ids=["comma-in-value", "not-a-grpc-arg", "negative-threads", "negative-poll", "zero-timeout", "typo"],
)
def test_schema_rejects_bad_server_values_with_their_path(render, server, path):
    assert_refused({"server": server}, at(path))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--enable_batching=false", "--batching_parameters_file=/etc/tf-serving/models.config"], "--batching_parameters_file without --enable_batching=true"),
        (["--enable_per_model_batching_parameters=true"], "--enable_per_model_batching_parameters without --enable_batching=true"),
        (["--tensorflow_session_parallelism=2"], "--tensorflow_session_parallelism together with intra- and inter-op parallelism"),
        (["--grpc_channel_arguments=grpc.max_connection_age_ms"], "'grpc.max_connection_age_ms' is not one key=value pair"),
    ],
    ids=["batching-file-without-batching", "per-model-without-batching", "three-parallelisms", "channel-arg-without-value"],
)
def test_harness_flags_combinations_the_server_refuses(default_docs, extra, expected):
    """The harness check behind every scenario: a broken variant of the default render is reported."""
    docs = [thaw(doc) for doc in default_docs]
    container = server_container(one(docs, "Deployment"))
    container["args"] = [arg for arg in container["args"] if not arg.startswith("--grpc_channel_arguments")] + extra
    messages = [problem.message for problem in checks.server_problems(docs)]
    assert any(expected in message for message in messages), messages
    assert not checks.server_problems(default_docs)


# ---- server.extraArgs / server.extraEnv: what the server ignores or refuses is refused, with the value path ----


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"server": {"extraArgs": ["--saved_model_tags=serve", "--enable_modle_warmup=false"]}},
         'server.extraArgs[1] "--enable_modle_warmup=false": tensorflow_model_server 2.20.0 has no flag --enable_modle_warmup (model_servers/main.cc); it would print "unknown argument" and start without it'),
        ({"image": {"tag": "2.18.1"}, "server": {"extraArgs": ["--enable_serialization_as_tensor_content=true"]}},
         "tensorflow_model_server 2.18.1 has no flag --enable_serialization_as_tensor_content"),
        ({"server": {"extraArgs": ["--rest_api_port=9001"]}}, "the chart already sets --rest_api_port (the last of two equal flags wins, so one would be ignored); set server.restPort instead"),
        ({"server": {"extraArgs": ["--monitoring_config_file=/m.config"]}}, "set metrics.enabled / metrics.path instead"),
        ({"server": {"extraArgs": ["--enable_grpc_healthcheck_service=true"]}}, "set probes.grpcHealthCheck.enabled instead"),
        ({"server": {"extraArgs": ["--model_name=resnet"]}}, "ignores --model_name next to the --model_config_file the chart passes; list the model in models"),
        ({"server": {"extraArgs": ["--model_base_path=/models/resnet"]}}, "ignores --model_base_path next to the --model_config_file"),
        ({"server": {"extraArgs": ["--version=true"]}}, "--version prints the version and exits"),
        ({"server": {"extraArgs": ["--xla_cpu_compilation_enabled"]}}, 'server.extraArgs[0] "--xla_cpu_compilation_enabled": write --xla_cpu_compilation_enabled=VALUE'),
        ({"server": {"extraArgs": ["--enable_profiler=true"]}}, "the chart already sets --enable_profiler (the last of two equal flags wins, so one would be ignored); set server.enableProfiler instead"),
        ({"server": {"extraArgs": ["--saved_model_tags=serve", "--saved_model_tags=serve,gpu"]}}, 'server.extraArgs[1] "--saved_model_tags=serve,gpu": --saved_model_tags is also server.extraArgs[0]'),
        ({"server": {"extraArgs": ["--tensorflow_session_parallelism=4"]}}, "server.extraArgs has --tensorflow_session_parallelism, but the chart sets intra- and inter-op parallelism"),
        ({"server": {"extraArgs": ["--ssl_config_file=/etc/ssl.config"]}},
         'server.extraArgs[0] "--ssl_config_file=/etc/ssl.config": --ssl_config_file makes the gRPC port speak TLS (BuildServerCredentials, model_servers/server.cc), but the kubelet\'s gRPC probe'),
        ({"server": {"extraArgs": ["--use_alts_credentials=TRUE"]}}, "--use_alts_credentials makes the gRPC port speak ALTS"),
        ({"tracks": {"a": {"image": {"tag": "2.14.1"}}, "b": {}}, "server": {"extraArgs": ["--mixed_precision=bfloat16"]}},
         'server.extraArgs[0] "--mixed_precision=bfloat16": tensorflow_model_server 2.14.1 has no flag --mixed_precision'),
    ],
    ids=["typo", "newer-than-image", "chart-port", "chart-monitoring", "chart-health", "model-name", "model-base-path",
         "version", "bare", "chart-profiler", "twice", "session-parallelism", "tls", "alts", "per-track-image"],
)
def test_extra_args_the_server_would_ignore_or_refuse_are_refused(values, expected):
    assert expected in render_error(values)


@pytest.mark.parametrize(
    "args",
    [["--saved_model_tags=serve,gpu"], ["--xla_cpu_compilation_enabled=true", "--rest_api_enable_cors_support=true"],
     ["--tensorflow_session_config_file=/etc/s.config"], ["--use_alts_credentials=false", "--ssl_config_file="]],
)
def test_extra_args_the_server_uses_pass(render, args):
    docs = render({"server": {"extraArgs": args}})
    assert server_container(one(docs, "Deployment"))["args"][-len(args):] == args
    assert_no_problems(docs)


def test_known_flags_follow_the_image_version(render):
    """--enable_per_model_batching_parameters first appears in main.cc at 2.11.0: a 2.10 image would ignore it."""
    assert "has no flag --mixed_precision" in render_error({"image": {"tag": "2.14.1"}, "server": {"extraArgs": ["--mixed_precision=bfloat16"]}})
    assert render({"image": {"tag": "2.15.1"}, "server": {"extraArgs": ["--mixed_precision=bfloat16"]}})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("MODEL_NAME", "server.extraEnv[0] MODEL_NAME does nothing: only the image's entrypoint script reads it"),
        ("MODEL_BASE_PATH", "server.extraEnv[0] MODEL_BASE_PATH does nothing"),
        ("TF_SERVING_ENABLE_BATCHING", "server.extraEnv[0] TF_SERVING_ENABLE_BATCHING does nothing: TF Serving reads its settings from flags, not TF_SERVING_* variables; batching is batching.*"),
        ("TF_SERVING_BATCHING_CONFIG", "TF_SERVING_BATCHING_CONFIG does nothing"),
    ],
)
def test_tutorial_env_vars_are_refused_with_what_to_set(name, expected):
    assert expected in render_error({"server": {"extraEnv": [{"name": name, "value": "x"}]}})


def test_real_env_vars_pass(render):
    env = server_container(one(render({"server": {"extraEnv": [{"name": "TF_CPP_MIN_LOG_LEVEL", "value": "1"}]}}), "Deployment"))["env"]
    assert {"name": "TF_CPP_MIN_LOG_LEVEL", "value": "1"} in env


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "MINIO_ROOT_PASSWORD", "API_KEY", "db_password", "GOOGLE_CREDENTIALS", "CLIENT_SECRET"])
def test_a_secret_looking_literal_is_refused_with_the_secret_key_ref_to_use(name):
    values = {"server": {"extraEnv": [{"name": "TF_CPP_MIN_LOG_LEVEL", "value": "1"}, {"name": name, "value": "s3cr3t"}]}}
    assert_refused(values, f"server.extraEnv[1].value is a literal for {name}, which looks like a secret")
    assert_refused(values, f"valueFrom: {{secretKeyRef: {{name: NAME, key: {name}}}}}")


@pytest.mark.parametrize(
    "item",
    [
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "secret"}}},
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
        {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        {"name": "HF_TOKEN", "value": ""},
    ],
    ids=["secret-key-ref", "path-to-a-token", "key-id", "word-containing-token", "empty"],
)
def test_references_locations_and_look_alikes_pass(render, item):
    env = server_container(one(render({"server": {"extraEnv": [item]}}), "Deployment"))["env"]
    assert item in env


def test_the_download_container_env_is_checked_too():
    init = {"source": "initContainer", "initContainer": {"image": {"repository": "amazon/aws-cli", "tag": "2.17.0"}, "command": ["true"], "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]}}
    assert_refused({"modelStorage": init}, "modelStorage.initContainer.env[0].value is a literal for AWS_SECRET_ACCESS_KEY")


def test_flag_table_is_read_from_main_cc():
    from tfserving_harness import tfs_flags

    snippet = 'tensorflow::Flag("port", &options.grpc_port, "Port"),\n      tensorflow::Flag(\n          "enable_per_model_batching_parameters",\n'
    assert tfs_flags.declared_flags(snippet) == {"port", "enable_per_model_batching_parameters"}
    assert "enable_grpc_healthcheck_service" in tfs_flags.flags_for("2.15.0") - tfs_flags.flags_for("2.14.1")
    assert "use_tflite_model" in tfs_flags.flags_for("2.2.0") and "use_tflite_model" not in tfs_flags.flags_for("2.3.0")
    assert tfs_flags.flags_for(None) == tfs_flags.flags_for("2.99.0") == tfs_flags.KNOWN_FLAGS


def test_chart_flag_table_is_generated_from_tfs_flags():
    import subprocess
    import sys

    from tfserving_harness.paths import REPO_ROOT

    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen_server_flags.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"image": {"tag": "2.10.1"}, "batching": {"enabled": True, "perModelParameters": True}},
         'image.tag "2.10.1": tensorflow_model_server 2.10.1 has no flag --enable_per_model_batching_parameters'),
        ({"image": {"tag": "2.4.0"}}, "tensorflow_model_server 2.4.0 has no flag --grpc_max_threads"),
        ({"tracks": {"old": {"image": {"tag": "2.4.0"}}, "new": {}}}, 'tracks.old.image.tag "2.4.0"'),
    ],
    ids=["per-model-batching-before-2.11", "thread-flags-before-2.5", "per-track"],
)
def test_chart_flags_an_older_image_would_ignore_are_refused(values, expected):
    assert expected in render_error(values)


def test_an_older_image_gets_no_flag_it_lacks(render):
    """2.14.1: no gRPC health flag (TCP probes instead), every other chart flag is in its main.cc."""
    from tfserving_harness import tfs_flags

    flags = set(server_flags(server_container(one(render({"image": {"tag": "2.14.1"}}), "Deployment"))))
    assert "enable_grpc_healthcheck_service" not in flags
    assert flags <= tfs_flags.flags_for("2.14.1")
