"""TF Serving's API protos without running TensorFlow's `__init__`.

tensorflow-serving-api's generated modules import `tensorflow.core.framework.*_pb2`, which lives in
the tensorflow wheel; importing it the normal way runs TensorFlow's package `__init__` (10+ s and
hundreds of MB per Locust process and per stand-in). The load tools need only the generated protos,
so when TensorFlow is not imported yet the package is registered for the duration of the import
without executing its `__init__`, then removed again: a later `import tensorflow` in the same
process runs the real `__init__` and reuses the already loaded proto modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import cache


@cache
def apis() -> types.SimpleNamespace:
    """predict_pb2, get_model_metadata_pb2, get_model_status_pb2, model_pb2, the two gRPC stub modules,
    tensor_pb2 and types_pb2."""
    stub = None
    if "tensorflow" not in sys.modules:
        spec = importlib.util.find_spec("tensorflow")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("tensorflow is not installed: the TF Serving API protos live in it (run `make setup`)")
        stub = types.ModuleType("tensorflow")
        stub.__path__ = list(spec.submodule_search_locations)
        stub.__spec__ = spec
        sys.modules["tensorflow"] = stub
    try:
        names = {
            "predict_pb2": "tensorflow_serving.apis.predict_pb2",
            "get_model_metadata_pb2": "tensorflow_serving.apis.get_model_metadata_pb2",
            "get_model_status_pb2": "tensorflow_serving.apis.get_model_status_pb2",
            "model_pb2": "tensorflow_serving.apis.model_pb2",
            "prediction_service_pb2_grpc": "tensorflow_serving.apis.prediction_service_pb2_grpc",
            "model_service_pb2_grpc": "tensorflow_serving.apis.model_service_pb2_grpc",
            "tensor_pb2": "tensorflow.core.framework.tensor_pb2",
            "types_pb2": "tensorflow.core.framework.types_pb2",
            "meta_graph_pb2": "tensorflow.core.protobuf.meta_graph_pb2",
        }
        return types.SimpleNamespace(**{key: importlib.import_module(module) for key, module in names.items()})
    finally:
        if stub is not None and sys.modules.get("tensorflow") is stub:
            del sys.modules["tensorflow"]
