"""The shared demo model: real SavedModels whose versions answer differently, with warmup records."""

from __future__ import annotations

import pytest

from tfserving_harness import demo_model

tf = pytest.importorskip("tensorflow", reason="the `model` extra (tensorflow-cpu) is installed by `make setup`")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / demo_model.MODEL_NAME
    return base, demo_model.build(base, versions=(1, 2))


def test_each_version_answers_its_own_formula(built):
    _, folders = built
    for folder in folders:
        version = int(folder.name)
        serve = tf.saved_model.load(str(folder)).signatures[demo_model.SIGNATURE]
        y = serve(**{demo_model.INPUT: tf.constant([[1.0], [4.0]])})[demo_model.OUTPUT].numpy().ravel().tolist()
        assert y == [demo_model.expected_output(version, 1.0), demo_model.expected_output(version, 4.0)], folder


def test_signature_has_the_documented_names_and_dtypes(built):
    _, folders = built
    signature = tf.saved_model.load(str(folders[0])).signatures[demo_model.SIGNATURE]
    (spec,) = signature.structured_input_signature[1].values()
    assert spec.name == demo_model.INPUT and spec.dtype == tf.float32 and spec.shape.as_list() == [None, 1]
    assert list(signature.structured_outputs) == [demo_model.OUTPUT]


def test_warmup_records_are_prediction_logs_for_the_model(built):
    from tensorflow_serving.apis import prediction_log_pb2

    _, folders = built
    records = list(tf.data.TFRecordDataset(str(folders[1] / demo_model.WARMUP_FILE)).as_numpy_iterator())
    assert len(records) == 1
    log = prediction_log_pb2.PredictionLog.FromString(records[0])
    assert log.predict_log.request.model_spec.name == demo_model.MODEL_NAME
    assert demo_model.INPUT in log.predict_log.request.inputs


def test_rebuild_replaces_a_version_whole_and_leaves_no_staging_folder(built):
    base, _ = built
    demo_model.build(base, versions=(2,), warmup=False)
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    assert not (base / "2" / demo_model.WARMUP_FILE).exists()


def test_version_zero_is_refused(tmp_path):
    with pytest.raises(ValueError, match="positive integers"):
        demo_model.build(tmp_path, versions=(0,))


# ---- the chart's built-in demo (modelStorage.source: demo) ----

CHART_INPUTS = [1.0, 2.0, 5.0]
CHART_ANSWERS = [2.5, 3.0, 4.5]  # TF Serving's own half_plus_two: {"instances": [1.0, 2.0, 5.0]} -> {"predictions": [2.5, 3.0, 4.5]}


@pytest.fixture(scope="module")
def mounted_demo(tmp_path_factory):
    """The version folder a default install's pod sees: the rendered demo ConfigMap, laid out under
    the mount path as the kubelet does, from the rendered Deployment's `items`."""
    from tfserving_harness import helm
    from tfserving_harness.manifests import configmap_volume_files, one, pod_template, write_like_kubelet

    docs = helm.render_chart()
    volume = next(v for v in pod_template(one(docs, "Deployment"))["spec"]["volumes"] if v["name"] == "models")
    files = configmap_volume_files(one(docs, "ConfigMap", volume["configMap"]["name"]), volume)
    root = tmp_path_factory.mktemp("mounted") / "models"
    root.mkdir()
    write_like_kubelet(root, files)
    return root / demo_model.MODEL_NAME / str(demo_model.CHART_DEMO_VERSION)


def test_the_charts_demo_is_what_the_script_builds_byte_for_byte(tmp_path):
    """Drift: the files under charts/tf-serving/files/demo-model are exactly what
    `scripts/build_demo_model.py --chart` writes today (a new TensorFlow may write other bytes)."""
    import subprocess
    import sys

    from tfserving_harness.paths import REPO_ROOT, chart_dir

    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_demo_model.py"), "--chart", "--dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    version = f"{demo_model.MODEL_NAME}/{demo_model.CHART_DEMO_VERSION}"
    built = demo_model.version_folder_files(tmp_path / version)
    shipped = demo_model.version_folder_files(chart_dir() / demo_model.CHART_DEMO_SUBDIR / version)
    differ = sorted(name for name in built.keys() | shipped.keys() if built.get(name) != shipped.get(name))
    assert not differ, (f"the chart's demo model differs from a fresh build in {differ} (TensorFlow {tf.__version__}): "
                        "run `.venv/bin/python scripts/build_demo_model.py --chart` and commit charts/tf-serving/files/demo-model")
    assert [p.name for p in (tmp_path / demo_model.MODEL_NAME).iterdir()] == [str(demo_model.CHART_DEMO_VERSION)]


def test_the_mounted_demo_answers_tf_servings_half_plus_two_contract(mounted_demo):
    serve = tf.saved_model.load(str(mounted_demo)).signatures[demo_model.SIGNATURE]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.shape.as_list() == [None], "one float per REST instance, like TF Serving's own half_plus_two"
    y = serve(**{demo_model.INPUT: tf.constant(CHART_INPUTS)})[demo_model.OUTPUT].numpy().tolist()
    assert y == CHART_ANSWERS


def test_the_mounted_demo_runs_in_a_session_by_its_signature_def_and_replays_its_warmup(mounted_demo):
    """As TF Serving runs it: a graph loaded into a Session under the `serve` tag, fed and fetched by
    the tensor names of the `serving_default` SignatureDef; then the warmup record's own request."""
    from tensorflow_serving.apis import prediction_log_pb2

    (record,) = tf.data.TFRecordDataset(str(mounted_demo / demo_model.WARMUP_FILE)).as_numpy_iterator()
    request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
    assert (request.model_spec.name, request.model_spec.signature_name) == (demo_model.MODEL_NAME, demo_model.SIGNATURE)
    warmup = tf.make_ndarray(request.inputs[demo_model.INPUT])
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(mounted_demo))
        signature = meta_graph.signature_def[demo_model.SIGNATURE]
        x, y = signature.inputs[demo_model.INPUT].name, signature.outputs[demo_model.OUTPUT].name
        assert session.run(y, {x: CHART_INPUTS}).tolist() == CHART_ANSWERS
        assert session.run(y, {x: warmup}).tolist() == [demo_model.expected_output(1, v) for v in warmup.tolist()]


def test_a_default_install_passes_tfs_rollout_validate_model_on_its_mount(mounted_demo, tmp_path):
    """The project's pre-rollout check on the mount path of a default install, against its values
    (none): the models.config base path holds numeric version folders, the `serve` tag, the
    signature, every op registered in the chart's TF Serving release (appVersion), warmup records
    that are PredictionLogs for the signature, a prediction."""
    from tfserving_harness.paths import chart_dir
    from tfserving_harness.rollout import cli
    from tfserving_harness.rollout.validate import validate_model

    values = tmp_path / "default-values.yaml"
    values.write_text("{}\n")
    mount_path = mounted_demo.parent.parent
    report = validate_model(mount_path, values_file=str(values), serving_version=cli.chart_app_version(chart_dir()), timeout=300)
    assert report.ok and not report.failed(), "\n".join(c.line() for c in report.checks)
    assert {c.name for c in report.checks} >= {"version 1 ops", "version 1 warmup", "version 1 prediction"}


def test_the_mounted_demos_fingerprint_reads_and_has_no_random_uuid(mounted_demo):
    fingerprint = tf.saved_model.experimental.read_fingerprint(str(mounted_demo))
    assert fingerprint.saved_model_checksum and fingerprint.singleprint()
    from tensorflow.core.protobuf import fingerprint_pb2

    assert fingerprint_pb2.FingerprintDef.FromString((mounted_demo / demo_model.FINGERPRINT_FILE).read_bytes()).uuid == ""


def test_the_chart_build_refuses_a_process_that_already_imported_tensorflow(tmp_path):
    """Function names in saved_model.pb come from a process-wide counter: only a fresh process
    writes the committed bytes, so the builder refuses to run anywhere else."""
    assert "tensorflow" in __import__("sys").modules
    with pytest.raises(RuntimeError, match="fresh Python process"):
        demo_model.build_chart_demo(tmp_path)
