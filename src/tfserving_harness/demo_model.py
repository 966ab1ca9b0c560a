"""A small, deterministic SavedModel with versions whose outputs differ, built with TensorFlow.

One model serves the demo (`make demo`), the kind tier, the load tier's stand-in and the rollout
tool's tests, so all of them agree on what a prediction must return:

    version N:  y = 0.5 * x + (N + 1)      (version 1 is TF Serving's own `half_plus_two`)

The signature is `serving_default`, input `x` float32 [-1, 1], output `y` float32 [-1, 1], the
same names TF Serving's `half_plus_two` test model uses, so REST `{"instances": [1.0, 2.0]}` works
unchanged. Each version carries warmup records in `assets.extra/tf_serving_warmup_requests`
(a TFRecord of PredictionLog), which the server replays before it marks the version AVAILABLE.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

MODEL_NAME = "half_plus_two"
SIGNATURE = "serving_default"
INPUT = "x"
OUTPUT = "y"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def expected_output(version: int, x: float) -> float:
    """What `version` of the demo model answers for input `x`."""
    return 0.5 * x + (version + 1)


def build(base_path: str | os.PathLike, versions: Iterable[int] = (1, 2), *, model_name: str = MODEL_NAME,
          warmup: bool = True) -> list[Path]:
    """Write one SavedModel per version under `base_path/<version>/`; returns the version folders.

    An existing version folder is replaced whole (written beside it, then renamed), so a
    half-written folder is never left where a server polling `base_path` could load it.
    """
    import tensorflow as tf  # imported here: 1-2 s, and only model-building callers pay it

    base = Path(base_path)
    base.mkdir(parents=True, exist_ok=True)
    folders = []
    for version in versions:
        if int(version) < 1:
            raise ValueError(f"version folders are positive integers (TF Serving ignores others), got {version!r}")
        module = _half_plus(tf, offset=float(version + 1))
        staging = base / f".{version}.partial"
        tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
        if warmup:
            _write_warmup(tf, staging / WARMUP_FILE, model_name=model_name)
        final = base / str(version)
        if final.exists():
            _remove_tree(final)
        staging.rename(final)
        folders.append(final)
    return folders


def _half_plus(tf, *, offset: float):
    class HalfPlus(tf.Module):
        def __init__(self):
            super().__init__()
            self.slope = tf.Variable(0.5, dtype=tf.float32, name="slope")
            self.offset = tf.Variable(offset, dtype=tf.float32, name="offset")

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name=INPUT)])
        def serve(self, x):
            return {OUTPUT: self.slope * x + self.offset}

    return HalfPlus()


def _write_warmup(tf, path: Path, *, model_name: str) -> None:
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SIGNATURE
    request.inputs[INPUT].CopyFrom(tf.make_tensor_proto([[1.0], [2.0]], dtype=tf.float32))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
