"""A small, deterministic SavedModel with versions whose outputs differ, built with TensorFlow.

One model serves the demo (`make demo`), the kind tier, the load tier's stand-in and the rollout
tool's tests, so all of them agree on what a prediction must return:

    version N:  y = 0.5 * x + (N + 1)      (version 1 is TF Serving's own `half_plus_two`)

The signature is `serving_default`, input `x` float32 [-1, 1], output `y` float32 [-1, 1], the
names TF Serving's `half_plus_two` test model uses; REST row format sends one `[x]` per instance.
Each version carries warmup records in `assets.extra/tf_serving_warmup_requests` (a TFRecord of
PredictionLog), which the server replays before it marks the version AVAILABLE.

The chart ships version 1 as its built-in demo (`modelStorage.source: demo`), built by
`build_chart_demo` with scalar instances (input `x` float32 [-1]), so TF Serving's documented
request `{"instances": [1.0, 2.0, 5.0]}` answers `{"predictions": [2.5, 3.0, 4.5]}`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

MODEL_NAME = "half_plus_two"
SIGNATURE = "serving_default"
INPUT = "x"
OUTPUT = "y"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
FINGERPRINT_FILE = "fingerprint.pb"
#: The demo the chart ships: DIR/half_plus_two/1 under charts/tf-serving/CHART_DEMO_SUBDIR.
CHART_DEMO_SUBDIR = Path("files") / "demo-model"
CHART_DEMO_VERSION = 1


def expected_output(version: int, x: float) -> float:
    """What `version` of the demo model answers for input `x`."""
    return 0.5 * x + (version + 1)


def build(base_path: str | os.PathLike, versions: Iterable[int] = (1, 2), *, model_name: str = MODEL_NAME,
          warmup: bool = True, scalar_instances: bool = False) -> list[Path]:
    """Write one SavedModel per version under `base_path/<version>/`; returns the version folders.

    An existing version folder is replaced whole (written beside it, then renamed), so a
    half-written folder is never left where a server polling `base_path` could load it.
    `scalar_instances`: input `x` of shape [-1] (one float per REST instance, TF Serving's own
    half_plus_two contract) instead of [-1, 1].
    """
    import tensorflow as tf  # imported here: 1-2 s, and only model-building callers pay it

    base = Path(base_path)
    base.mkdir(parents=True, exist_ok=True)
    folders = []
    for version in versions:
        if int(version) < 1:
            raise ValueError(f"version folders are positive integers (TF Serving ignores others), got {version!r}")
        module = _half_plus(tf, offset=float(version + 1), instance_shape=[] if scalar_instances else [1])
        staging = base / f".{version}.partial"
        tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
        if warmup:
            inputs = [1.0, 2.0] if scalar_instances else [[1.0], [2.0]]
            _write_warmup(tf, staging / WARMUP_FILE, model_name=model_name, inputs=inputs)
        final = base / str(version)
        if final.exists():
            _remove_tree(final)
        staging.rename(final)
        folders.append(final)
    return folders


def build_chart_demo(base_path: str | os.PathLike) -> Path:
    """Write the chart's built-in demo, `base_path/<CHART_DEMO_VERSION>/`, reproducibly: the same
    TensorFlow writes the same bytes on every run (the drift test compares the chart's copy with a
    fresh build). Returns the version folder.

    Must run in a fresh interpreter that has not imported TensorFlow: saved_model.pb names each
    traced function `__inference_<name>_<N>` with N from a process-wide counter, so a process that
    traced anything before writes other names (and reorders the function library). Run it through
    scripts/build_demo_model.py --chart.
    """
    if "tensorflow" in sys.modules:
        raise RuntimeError("build_chart_demo must run in a fresh Python process (TensorFlow is already imported, and the "
                           "function names it writes into saved_model.pb depend on what the process traced before): "
                           "run scripts/build_demo_model.py --chart")
    (folder,) = build(base_path, versions=(CHART_DEMO_VERSION,), scalar_instances=True)
    _normalise_fingerprint(folder)
    # tf.saved_model.save writes an empty assets/ (this model has no assets): git does not keep
    # empty folders and a ConfigMap holds only files, so the chart's copy has none.
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return folder


def version_folder_files(folder: str | os.PathLike) -> dict[str, bytes]:
    """Every file of a version folder, by path relative to it ('variables/variables.index'). Empty
    directories (tf.saved_model.save writes an empty `assets/`) are not files and carry nothing."""
    root = Path(folder)
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _normalise_fingerprint(folder: Path) -> None:
    """fingerprint.pb carries a random `uuid` per save (TensorFlow 2.21 writes one; 2.14 did not), the
    one field that differs between two saves of the same model: the others are hashes of the other
    files and a format version. The uuid is cleared, as TensorFlow 2.14 wrote the file (TF Serving
    2.20.0's own test model saved_model_half_plus_two_tf2_cpu has such a fingerprint.pb). TensorFlow reads the file for its
    load metrics (a missing one is logged, and loading continues), and TF Serving's tests also serve
    version folders without one."""
    from tensorflow.core.protobuf import fingerprint_pb2

    path = folder / FINGERPRINT_FILE
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    fingerprint.ClearField("uuid")
    path.write_bytes(fingerprint.SerializeToString(deterministic=True))


def _half_plus(tf, *, offset: float, instance_shape: list[int]):
    class HalfPlus(tf.Module):
        def __init__(self):
            super().__init__()
            self.slope = tf.Variable(0.5, dtype=tf.float32, name="slope")
            self.offset = tf.Variable(offset, dtype=tf.float32, name="offset")

        @tf.function(input_signature=[tf.TensorSpec([None, *instance_shape], tf.float32, name=INPUT)])
        def serve(self, x):
            return {OUTPUT: self.slope * x + self.offset}

    return HalfPlus()


def _write_warmup(tf, path: Path, *, model_name: str, inputs: list) -> None:
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE
    request.inputs[INPUT].CopyFrom(tf.make_tensor_proto(inputs, dtype=tf.float32))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
