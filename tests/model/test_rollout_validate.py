"""`tfs-rollout validate-model` on real SavedModels built here with TensorFlow.

"An op missing from the serving version" has a stated stand-in: TensorFlow 2.21 (installed here)
and 2.20 (the serving image) share every op the small models below use, so the test renames one
op of a real SavedModel's graph to a name no TensorFlow registers. The check and the server's
"Op type not registered" failure see exactly that: a node whose op is not in the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tfserving_harness import demo_model
from tfserving_harness.paths import chart_dir
from tfserving_harness.rollout import cli, serving_ops
from tfserving_harness.rollout.validate import Report, check_values, validate_model

tf = pytest.importorskip("tensorflow", reason="the `model` extra (tensorflow-cpu) is installed by `make setup`")

SERVING = cli.chart_app_version(chart_dir())
MISSING_OP = "TfsRolloutStandInMissingOp"


def _save(folder, *, signatures=None, body=None):
    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def serve(self, x):
            return {"y": body(x) if body else x * 2.0}

    model = Model()
    tf.saved_model.save(model, str(folder), signatures=signatures(model) if signatures else {"serving_default": model.serve})


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    good = root / "half_plus_two"
    demo_model.build(good, versions=(1, 2))
    _save(root / "no_version")  # the SavedModel sits in the base path itself
    _save(root / "named" / "v2")
    _save(root / "no_signature" / "1", signatures=lambda m: {"predict_images": m.serve})
    _save(root / "fails" / "1", body=lambda x: tf.debugging.check_numerics(x / 0.0, "division by zero"))
    shutil.copytree(good / "1", root / "missing_op" / "1")
    pb = root / "missing_op" / "1" / "saved_model.pb"
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    renamed = 0
    for function in proto.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            if node.op == "AddV2":
                node.op = MISSING_OP
                renamed += 1
    assert renamed, "the demo model's graph has an AddV2 node to rename"
    pb.write_bytes(proto.SerializeToString())
    shutil.copytree(good / "1", root / "bad_warmup" / "1")
    with tf.io.TFRecordWriter(str(root / "bad_warmup" / "1" / demo_model.WARMUP_FILE)) as writer:
        writer.write(b"\xff\x00 not a PredictionLog")
    shutil.copytree(good / "1", root / "warmup_wrong_input" / "1")
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.inputs["z"].CopyFrom(tf.make_tensor_proto([[1.0]], dtype=tf.float32))
    with tf.io.TFRecordWriter(str(root / "warmup_wrong_input" / "1" / demo_model.WARMUP_FILE)) as writer:
        writer.write(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
    return root


def run(path, **kwargs) -> Report:
    return validate_model(path, serving_version=SERVING, timeout=300, **kwargs)


def lines(report: Report) -> str:
    return "\n".join(c.line() for c in report.checks)


def test_good_model_passes_every_check_and_predicts_each_version(models):
    report = run(models / "half_plus_two")
    assert report.ok, lines(report)
    names = [c.name for c in report.checks]
    for version in (1, 2):
        for check in ("SavedModel", "signature", "ops", "warmup", "prediction"):
            assert f"version {version} {check}" in names, lines(report)
    predictions = [c.detail for c in report.checks if c.name.endswith("prediction")]
    assert "[[2.5]]" in predictions[0] and "[[3.5]]" in predictions[1], predictions  # y = 0.5 x + version + 1 at x = 1
    assert "x DT_FLOAT[-1,1]" in lines(report) and "y DT_FLOAT[-1,1]" in lines(report)


@pytest.mark.parametrize("model, check, says", [
    ("no_version", "version folders", "has no numeric version folder"),
    ("named", "non-version folders", "['v2'] are not positive integers; TF Serving ignores them"),
    ("no_version", "version folders", "(the SavedModel is in the base path itself)"),
    ("no_signature", "version 1 signature", "no signature 'serving_default' (has ['predict_images'])"),
    ("fails", "version 1 prediction", "division by zero"),
    ("missing_op", "version 1 ops", f"not registered in TF Serving {SERVING}: {MISSING_OP}"),
    ("bad_warmup", "version 1 warmup", "record 1 is not a PredictionLog"),
    ("warmup_wrong_input", "version 1 warmup", "record 1 feeds inputs ['z'], signature serving_default takes ['x']"),
])
def test_broken_models_fail_the_check_that_names_the_problem(models, model, check, says):
    report = run(models / model)
    assert not report.ok
    failed = {c.name: c.detail for c in report.failed()}
    assert check in failed and says in failed[check], lines(report)


def _values_file(tmp_path, model: dict) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"models": [model], "server": {"allowVersionLabelsForUnavailableModels": True},
                                    "modelStorage": {"source": "existingClaim", "existingClaim": {"claimName": "models"}}}))
    return str(path)


def test_values_that_match_the_folders_pass(models, tmp_path):
    report = Report()
    check_values(models / "half_plus_two", _values_file(tmp_path, {
        "name": "half_plus_two", "basePath": "/models/half_plus_two",
        "versionPolicy": {"specific": {"versions": [1, 2]}}, "versionLabels": {"stable": 1, "canary": 2}}), report)
    assert report.ok and len(report.checks) == 1, lines(report)
    assert "base_path /models/half_plus_two" in report.checks[0].detail


def test_values_naming_versions_or_labels_not_on_disk_fail(models, tmp_path):
    report = Report()
    check_values(models / "half_plus_two", _values_file(tmp_path, {
        "name": "half_plus_two", "basePath": "/models/half_plus_two",
        "versionPolicy": {"specific": {"versions": [2, 3]}}, "versionLabels": {"stable": 2, "canary": 3}}), report)
    assert not report.ok
    assert "version policy loads [3]" in lines(report) and "label canary -> 3" in lines(report), lines(report)


def test_values_whose_base_paths_are_elsewhere_fail(models, tmp_path):
    report = Report()
    check_values(models / "half_plus_two", _values_file(tmp_path, {"name": "resnet", "basePath": "/models/resnet"}), report)
    assert not report.ok and "base paths ['/models/resnet']" in lines(report), lines(report)


def test_cli_exit_codes(models, capsys):
    assert cli.main(["validate-model", str(models / "no_signature")]) == cli.FAILED
    assert "FAIL  version 1 signature" in capsys.readouterr().out
    assert cli.main(["validate-model", str(models / "half_plus_two" / "missing"), "--input", "[1]"]) == cli.ERROR


def test_a_prediction_that_never_returns_is_killed(models):
    report = validate_model(models / "half_plus_two", serving_version=SERVING, timeout=0.5)
    failed = [c for c in report.failed() if c.name.endswith("prediction")]
    assert failed and "no answer within 0.5s (the prediction process was killed)" in failed[0].detail, lines(report)


def test_op_list_exists_for_the_charts_app_version_and_names_its_source():
    """Drift: bumping appVersion without generating its op list fails here."""
    path = serving_ops.op_list_path(SERVING)
    assert path.is_file(), f"no op list for appVersion {SERVING}: run scripts/gen_serving_ops.py --serving-version {SERVING}"
    text = path.read_text().splitlines()
    assert text[0].startswith(f"# Ops registered in TensorFlow {SERVING}"), text[0]
    ops = [line for line in text if not line.startswith("#")]
    assert ops == sorted(set(ops)) and len(ops) > 1500, len(ops)


def test_op_list_generator_lists_the_registry_of_a_real_tensorflow(tmp_path, models):
    """The generator's listing, run against the TensorFlow installed here, contains every op a real
    SavedModel uses (so the method sees the registry, not a guess)."""
    from tensorflow.core.protobuf import saved_model_pb2

    lister = serving_ops.LISTER
    result = subprocess.run([sys.executable, "-c", lister], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    listing = json.loads(result.stdout.strip().splitlines()[-1])
    proto = saved_model_pb2.SavedModel.FromString((models / "half_plus_two" / "1" / "saved_model.pb").read_bytes())
    used = set(serving_ops.graph_ops(proto))
    assert used <= set(listing["ops"]), used - set(listing["ops"])
    assert used <= serving_ops.serving_ops(SERVING), used - serving_ops.serving_ops(SERVING)


def test_committed_op_list_matches_a_fresh_listing(tmp_path):
    """The real drift check, where an interpreter with the serving version's TensorFlow exists
    (TFS_SERVING_OPS_PYTHON, e.g. a venv with tensorflow-cpu==2.20.0 and tensorflow-text)."""
    python = os.environ.get("TFS_SERVING_OPS_PYTHON")
    if not python:
        pytest.skip(f"set TFS_SERVING_OPS_PYTHON to a python with tensorflow-cpu=={SERVING} (and tensorflow-text) to regenerate "
                    "and compare the op list (scripts/gen_serving_ops.py)")
    result = subprocess.run([python, "-c", serving_ops.LISTER, "tensorflow_text"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    fresh = set(json.loads(result.stdout.strip().splitlines()[-1])["ops"])
    committed = set(serving_ops.serving_ops(SERVING))
    assert fresh == committed, {"only fresh": sorted(fresh - committed)[:20], "only committed": sorted(committed - fresh)[:20]}
