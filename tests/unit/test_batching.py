"""batching.*: --enable_batching with a BatchingParameters file, its defaults and its cross-field checks."""

from __future__ import annotations

import pytest

from tfserving_harness import helm, tfs_config
from tfserving_harness.manifests import one, pod_template, server_container, server_flags
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_no_problems, assert_refused, at, render_error

SCENARIO = chart_dir() / "ci" / "batching-values.yaml"


def batching_file(docs):
    """(flags, parsed BatchingParameters) after following --batching_parameters_file to its ConfigMap key."""
    deployment = one(docs, "Deployment")
    flags = server_flags(server_container(deployment))
    mount_dir, _, key = flags["batching_parameters_file"].rpartition("/")
    mount = next(m for m in server_container(deployment)["volumeMounts"] if m["mountPath"] == mount_dir)
    volume = next(v for v in pod_template(deployment)["spec"]["volumes"] if v["name"] == mount["name"])
    configmap = one(docs, "ConfigMap", volume["configMap"]["name"])
    return flags, tfs_config.parse_batching_parameters(configmap["data"][key])


def test_batching_is_off_by_default(default_docs):
    flags = server_flags(server_container(one(default_docs, "Deployment")))
    assert not {"enable_batching", "batching_parameters_file", "enable_per_model_batching_parameters"} & set(flags)
    assert "batching.config" not in one(default_docs, "ConfigMap", "tfs-tf-serving-config")["data"]


def test_scenario_file_has_every_field_as_given(scenario):
    """Wrapper fields parse as `{ value: N }`, allowed_batch_sizes/pad_variable_length_inputs as plain fields."""
    docs = scenario(SCENARIO)
    flags, params = batching_file(docs)
    assert flags["enable_batching"] == "true"
    assert params.max_batch_size.value == 128
    assert params.batch_timeout_micros.value == 2000
    assert params.thread_pool_name.value == "tfs_batch_threads"
    assert list(params.allowed_batch_sizes) == [8, 16, 32, 64, 128]
    assert params.pad_variable_length_inputs is True
    assert params.HasField("enable_large_batch_splitting") and params.enable_large_batch_splitting.value is True
    assert params.max_execution_batch_size.value == 64
    # Derived from the scenario's 4-CPU limit: one batch thread per core, as many queued batches.
    assert params.num_batch_threads.value == 4
    assert params.max_enqueued_batches.value == 4
    assert_no_problems(docs)


@pytest.mark.parametrize(
    ("resources", "threads"),
    [
        ({"limits": {"cpu": "2"}}, 2),
        ({"limits": {"cpu": 3}}, 3),
        ({"limits": {"cpu": "1500m"}}, 2),
        ({"limits": {"cpu": "250m"}, "requests": {"cpu": "100m"}}, 1),
        ({"limits": {"cpu": 0.5}, "requests": {"cpu": "100m"}}, 1),
        ({"limits": {"cpu": "2.5"}}, 3),
        ({"limits": {"cpu": "1e1"}}, 10),
        ({"limits": None, "requests": {"cpu": "6"}}, 6),
    ],
    ids=["string", "int", "millis-round-up", "millis-min-1", "fraction", "decimal-round-up", "exponent", "request-when-no-limit"],
)
def test_num_batch_threads_follows_the_cpu_limit(render, resources, threads):
    flags, params = batching_file(render({"batching": {"enabled": True}, "resources": resources}))
    assert params.num_batch_threads.value == threads
    assert params.max_enqueued_batches.value == threads, "online-serving folklore: max_enqueued_batches ~ num_batch_threads"
    assert flags["tensorflow_intra_op_parallelism"] == str(threads), "threading and batching derive from the same CPU count"


def test_without_any_cpu_figure_thread_fields_are_left_to_the_server(render):
    """`null` removes the chart's default resources (Helm merges maps, so `{}` would keep them)."""
    _, params = batching_file(render({"batching": {"enabled": True}, "resources": {"limits": None, "requests": None}}))
    assert not params.HasField("num_batch_threads") and not params.HasField("max_enqueued_batches")
    assert params.max_batch_size.value == 32


def test_explicit_thread_and_queue_values_win(render):
    _, params = batching_file(render({"batching": {"enabled": True, "numBatchThreads": 7, "maxEnqueuedBatches": 100}}))
    assert (params.num_batch_threads.value, params.max_enqueued_batches.value) == (7, 100)


def test_per_model_parameters_add_the_flag(render):
    flags, _ = batching_file(render({"batching": {"enabled": True, "perModelParameters": True}}))
    assert flags["enable_per_model_batching_parameters"] == "true"


@pytest.mark.parametrize(
    ("batching", "expected"),
    [
        ({"allowedBatchSizes": [8, 8, 32]}, "tf-serving: batching.allowedBatchSizes must be strictly increasing, got [8 8 32]"),
        ({"allowedBatchSizes": [16, 8, 32]}, "tf-serving: batching.allowedBatchSizes must be strictly increasing"),
        ({"allowedBatchSizes": [8, 16]}, "tf-serving: batching.allowedBatchSizes must end with batching.maxBatchSize (32), got [8 16]"),
        ({"maxExecutionBatchSize": 16}, "tf-serving: batching.maxExecutionBatchSize (16) only applies with large batch splitting"),
        ({"enableLargeBatchSplitting": True, "maxExecutionBatchSize": 64}, "tf-serving: batching.maxExecutionBatchSize (64) must be at most batching.maxBatchSize (32)"),
    ],
    ids=["duplicate", "unsorted", "last-not-max", "execution-without-splitting", "execution-above-max"],
)
def test_bad_combinations_fail_with_the_value_path(render, batching, expected):
    with pytest.raises(helm.RenderError) as error:
        render({"batching": {"enabled": True, **batching}})
    assert expected in error.value.stderr


SPLITTING = {"enabled": True, "maxBatchSize": 128, "enableLargeBatchSplitting": True, "maxExecutionBatchSize": 64}


def test_splitting_sizes_must_still_end_at_max_batch_size():
    """WrapSessionForBatching (bundle_factory_util.cc) checks the last size against max_batch_size whether
    or not splitting is on; a list ending at max_execution_batch_size makes every model load fail."""
    stderr = render_error({"batching": {**SPLITTING, "allowedBatchSizes": [8, 16, 32, 64]}})
    assert "tf-serving: batching.allowedBatchSizes must end with batching.maxBatchSize (128), got [8 16 32 64]" in stderr
    assert "with or without large batch splitting" in stderr


def test_splitting_sizes_ending_at_max_batch_size_are_accepted(render):
    """{8, 64, 128} with max 128 and execution size 64: the config the server accepts (batches <= 64 pad to 8 or 64)."""
    docs = render({"batching": {**SPLITTING, "allowedBatchSizes": [8, 64, 128]}})
    _, params = batching_file(docs)
    assert (list(params.allowed_batch_sizes), params.max_execution_batch_size.value, params.max_batch_size.value) == ([8, 64, 128], 64, 128)
    assert tfs_config.batching_load_problems(params) == []
    assert_no_problems(docs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_batch_size { value: 128 } allowed_batch_sizes: 8 allowed_batch_sizes: 128", []),
        ("max_batch_size { value: 128 } enable_large_batch_splitting { value: true } max_execution_batch_size { value: 64 } allowed_batch_sizes: 64 allowed_batch_sizes: 128", []),
        ("allowed_batch_sizes: 1000", []),
        ("max_batch_size { value: 128 } enable_large_batch_splitting { value: true } max_execution_batch_size { value: 64 } allowed_batch_sizes: 64", ["last entry of allowed_batch_sizes [64] is not max_batch_size 128"]),
        ("allowed_batch_sizes: 32", ["last entry of allowed_batch_sizes [32] is not max_batch_size 1000"]),
        ("max_batch_size { value: 32 } enable_large_batch_splitting { value: true } max_execution_batch_size { value: 64 }", ["max_execution_batch_size 64 is above max_batch_size 32"]),
        ("max_batch_size { value: 32 } enable_large_batch_splitting { value: true } max_enqueued_batches { value: 0 }", ["max_enqueued_batches is 0 with large batch splitting on"]),
        ("max_batch_size { value: 32 } max_enqueued_batches { value: 0 }", []),
    ],
    ids=["ends-at-max", "splitting-ends-at-max", "default-max", "splitting-ends-at-execution", "default-max-not-last", "execution-above-max", "splitting-zero-queue", "zero-queue-rewritten"],
)
def test_the_load_time_rule_of_the_server(text, expected):
    """The harness's copy of the server's checks, which every rendered batching.config goes through (checks.py)."""
    assert tfs_config.batching_load_problems(tfs_config.parse_batching_parameters(text)) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"batching": {"perModelParameters": True}}, "tf-serving: batching.perModelParameters needs batching.enabled=true"),
        ({"batching": {"enabled": True}, "server": {"extraArgs": ["--platform_config_file=/etc/p.config"]}}, "tf-serving: batching.enabled=true has no effect with --platform_config_file"),
        ({"batching": {"enabled": True, "maxBatchSize": 0}}, at("batching.maxBatchSize", "minimum")),
        ({"batching": {"enabled": True, "allowedBatchSizes": [0, 32]}}, at("batching.allowedBatchSizes.0", "minimum")),
        ({"batching": {"enabled": True, "maxBatchSizes": 8}}, at("batching.maxBatchSizes", "additionalProperties")),
    ],
    ids=["per-model-without-batching", "platform-config", "zero-max", "zero-size", "typo"],
)
def test_other_bad_values_fail_with_the_value_path(values, expected):
    assert_refused(values, expected)


# ---- gRPC threads: a batch is filled by requests in flight, each holding one gRPC thread ----


@pytest.mark.parametrize(
    ("batching", "threads", "path", "batch"),
    [
        ({"maxBatchSize": 256}, 256, "batching.maxBatchSize", 256),
        ({"maxBatchSize": 32}, 32, "batching.maxBatchSize", 32),
        ({"maxBatchSize": 128, "enableLargeBatchSplitting": True, "maxExecutionBatchSize": 64, "allowedBatchSizes": [64, 128]}, 64,
         "batching.maxExecutionBatchSize", 64),
    ],
    ids=["default-threads", "equal", "splitting-batches-are-execution-size"],
)
def test_grpc_threads_that_cannot_fill_a_batch_are_refused(batching, threads, path, batch):
    """gRPC's sync server keeps one thread polling and refuses the call that would take it, so at most
    grpcMaxThreads - 1 requests wait in a batch (ThreadManager::MainWorkLoop, thread_manager.cc)."""
    values = {"batching": {"enabled": True, **batching}, "server": {"grpcMaxThreads": threads}}
    assert_refused(values, f"tf-serving: server.grpcMaxThreads ({threads}) cannot fill a batch of {path} ({batch})")
    assert_refused(values, f"set server.grpcMaxThreads to at least {batch + 1}")


def test_one_thread_more_than_the_batch_passes_and_per_model_batching_is_not_checked(render):
    """Per-model batching reads max_batch_size from each SavedModel, which the chart cannot see."""
    assert render({"batching": {"enabled": True, "maxBatchSize": 32}, "server": {"grpcMaxThreads": 33}})
    assert render({"batching": {"enabled": True, "perModelParameters": True, "maxBatchSize": 512}, "server": {"grpcMaxThreads": 16}})
    assert render({"batching": {"enabled": False, "maxBatchSize": 512}, "server": {"grpcMaxThreads": 16}})
