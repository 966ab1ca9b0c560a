"""A loaded SavedModel version: loaded and run with real TensorFlow, the way TF Serving's
SavedModelBundle is (a TF1 Session over the MetaGraphDef whose tags match `--saved_model_tags`,
fed and fetched by the tensor names in its SignatureDefs).

Sources (tensorflow/serving 2.20.0 unless said):
- `servables/tensorflow/predict_util.cc`: signature lookup (FAILED_PRECONDITION `Serving signature
  key "S" not found.`), the method-name check (`--enable_signature_method_name_check`), the
  input-count message, output filters, runtime_latency{API="Predict",runtime="TF1"}, outputs as
  typed proto fields (tensor_content with `--enable_serialization_as_tensor_content`).
- `servables/tensorflow/saved_model_warmup.cc`, `saved_model_warmup_util.cc`: warmup replays
  `assets.extra/tf_serving_warmup_requests` (PredictionLog TFRecords) `--num_request_iterations_for_warmup`
  times each, at most 1000 records, before the version is AVAILABLE; a failed warmup fails the load;
  model_warmup_latency and model_warmup_records_read{model_path,status}.
- `servables/tensorflow/get_model_metadata_impl.cc`: every SignatureDef of the MetaGraphDef.
- TensorFlow `cc/saved_model/loader.cc` / `reader.cc`: load_attempt_count, load_latency, the
  not-found messages; `FunctionCallFrame::SetArgs`: `Expects arg[i] to be T but U is provided`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import log, metrics
from .status import Status, failed_precondition, internal, invalid_argument, not_found

_LOADER = "tensorflow/cc/saved_model/loader.cc"
_WARMUP = "tensorflow_serving/servables/tensorflow/saved_model_warmup_util.cc"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
MAX_WARMUP_RECORDS = 1000  # WarmupConsts::kMaxNumRecords
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")

#: DataTypeString (tensorflow/core/framework/types.cc) for the DataType enum numbers.
DTYPE_NAMES = {1: "float", 2: "double", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 9: "int64", 10: "bool",
               17: "uint16", 19: "half", 14: "bfloat16", 22: "uint32", 23: "uint64"}


def dtype_name(enum: int) -> str:
    return DTYPE_NAMES.get(enum, f"type{enum}")


@dataclass
class Options:
    tags: list[str]
    intra_op: int = 0
    inter_op: int = 0
    enable_warmup: bool = True
    warmup_iterations: int = 1
    method_name_check: bool = False
    tensor_content: bool = False


def _tf():
    import tensorflow as tf  # noqa: PLC0415 - 2 s; the flags are parsed (and refused) before it

    return tf


def status_from_tf(error: Exception) -> Status:
    tf = _tf()
    if isinstance(error, tf.errors.OpError):
        from tensorflow.core.lib.core import error_codes_pb2

        return Status(error_codes_pb2.Code.Name(error.error_code), error.message)
    return internal(str(error))


@dataclass
class Bundle:
    name: str
    version: int
    path: str
    session: Any
    meta_graph_def: Any
    options: Options
    _callables: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- running

    def signature(self, name: str):
        key = name or "serving_default"
        signature = self.meta_graph_def.signature_def.get(key)
        if key not in self.meta_graph_def.signature_def:
            raise failed_precondition(f'Serving signature key "{key}" not found.')
        return key, signature

    def _callable(self, feeds: tuple[str, ...], fetches: tuple[str, ...], timeout_ms: int):
        key = (feeds, fetches, timeout_ms)
        with self._lock:
            run = self._callables.get(key)
            if run is None:
                from tensorflow.core.protobuf import config_pb2

                options = config_pb2.CallableOptions(feed=list(feeds), fetch=list(fetches))
                if timeout_ms > 0:
                    options.run_options.timeout_in_ms = timeout_ms
                run = self._callables[key] = self.session._make_callable_from_options(options)
        return run

    def run(self, inputs: dict[str, np.ndarray], fetch_aliases: list[str], signature, timeout_ms: int = 0) -> dict[str, np.ndarray]:
        """Session::Run with the signature's tensor names; `inputs` by alias."""
        feeds = sorted((signature.inputs[alias].name, alias) for alias in inputs)
        for index, (_, alias) in enumerate(feeds):
            expected, given = signature.inputs[alias].dtype, _dtype_enum(inputs[alias].dtype)
            if expected != given:
                raise invalid_argument(f"Expects arg[{index}] to be {dtype_name(expected)} but {dtype_name(given)} is provided")
        fetches = tuple(signature.outputs[a].name for a in fetch_aliases)
        run = self._callable(tuple(name for name, _ in feeds), fetches, timeout_ms)
        started = time.perf_counter()
        try:
            values = run(*[inputs[alias] for _, alias in feeds])
        except Exception as error:  # noqa: BLE001 - TensorFlow's OpErrors become the request's status
            raise status_from_tf(error) from None
        finally:
            elapsed_us = int((time.perf_counter() - started) * 1e6)
            metrics.REGISTRY.increment(metrics.GRAPH_RUNS)
            metrics.REGISTRY.increment(metrics.GRAPH_RUN_TIME_USECS, by=elapsed_us)
        return dict(zip(fetch_aliases, values, strict=True))

    def predict(self, model_name: str, signature_name: str, inputs: dict[str, np.ndarray], output_filter: list[str],
                timeout_ms: int = 0) -> tuple[str, dict[str, np.ndarray]]:
        """internal::RunPredict from already converted inputs; returns (signature name, outputs by alias)."""
        key, signature = self.signature(signature_name)
        if self.options.method_name_check and signature.method_name not in (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD):
            raise internal(f"Expected prediction signature method_name to be one of {{{PREDICT_METHOD}, {CLASSIFY_METHOD}, "
                           f"{REGRESS_METHOD}}}. Was: {signature.method_name}")
        requested, declared = set(inputs), set(signature.inputs)
        if len(inputs) > len(declared) or (len(inputs) < len(declared) and not signature.defaults):
            raise invalid_argument(
                f"input size does not match signature: {len(inputs)}!={len(declared)} len({{{','.join(sorted(requested))}}}) != "
                f"len({{{','.join(sorted(declared))}}}). Sent extra: {{{','.join(sorted(requested - declared))}}}. Missing but "
                f"required: {{{','.join(sorted(declared - requested))}}}.")
        # saved_model::GetInputValues (TensorFlow cc/saved_model/util.cc), defaults from the signature.
        for alias in sorted(declared - requested):
            if alias not in signature.defaults:
                raise invalid_argument(
                    f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) not found in request and no default "
                    f"value provided. Inputs expected to be in the request {{{','.join(sorted(requested))}}}, or default input alias "
                    f"set: {','.join(sorted(signature.defaults))}")
            inputs = {**inputs, alias: _tf().make_ndarray(signature.defaults[alias])}
        if requested - declared:
            raise invalid_argument(f"Inputs contains invalid name. Used request inputs: {','.join(sorted(requested & declared))}, "
                                   f"request input: {','.join(sorted(requested))}")
        aliases: list[str] = []
        for alias in output_filter:
            if alias not in signature.outputs:
                raise invalid_argument(f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                                       f"{{{','.join(sorted(signature.outputs))}}}.")
            if alias in aliases:
                raise invalid_argument(f"duplicate output tensor alias: {alias}")
            aliases.append(alias)
        aliases = aliases or sorted(signature.outputs)
        started = time.perf_counter()
        outputs = self.run(inputs, aliases, signature, timeout_ms)
        metrics.REGISTRY.add(metrics.RUNTIME_LATENCY, (time.perf_counter() - started) * 1e6, model_name, "Predict", "TF1")
        return key, outputs

    def predict_proto(self, request, response, timeout_ms: int = 0) -> None:
        """RunPredict for a PredictRequest proto, filling a PredictResponse."""
        inputs = {}
        for alias, proto in request.inputs.items():
            try:
                inputs[alias] = _tf().make_ndarray(proto)
            except Exception:  # noqa: BLE001 - Tensor::FromProto failing
                raise invalid_argument(f"tensor parsing error: {alias}") from None
        key, outputs = self.predict(request.model_spec.name, request.model_spec.signature_name, inputs,
                                    list(request.output_filter), timeout_ms)
        response.model_spec.name = request.model_spec.name
        response.model_spec.signature_name = key
        response.model_spec.version.value = self.version
        for alias, value in outputs.items():
            to_proto(value, response.outputs[alias], tensor_content=self.options.tensor_content)

    def signature_def_map(self):
        from tensorflow_serving.apis import get_model_metadata_pb2

        result = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in self.meta_graph_def.signature_def.items():
            result.signature_def[key].CopyFrom(signature)
        return result


def _dtype_enum(dtype: np.dtype) -> int:
    return _tf().as_dtype(dtype).as_datatype_enum


def to_proto(value: np.ndarray, proto, *, tensor_content: bool) -> None:
    """Tensor::AsProtoField (typed repeated fields) or AsProtoTensorContent."""
    tf = _tf()
    if tensor_content or value.dtype.kind not in "fiubSOU":
        proto.CopyFrom(tf.make_tensor_proto(value))
        return
    proto.dtype = _dtype_enum(value.dtype)
    for size in value.shape:
        proto.tensor_shape.dim.add().size = size
    flat = value.ravel()
    kind = proto.dtype
    if kind == 1:
        proto.float_val.extend(flat.tolist())
    elif kind == 2:
        proto.double_val.extend(flat.tolist())
    elif kind in (3, 4, 5, 6):
        proto.int_val.extend(flat.tolist())
    elif kind == 9:
        proto.int64_val.extend(flat.tolist())
    elif kind == 10:
        proto.bool_val.extend(flat.tolist())
    elif kind == 7:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat.tolist())
    elif kind == 22:
        proto.uint32_val.extend(flat.tolist())
    elif kind == 23:
        proto.uint64_val.extend(flat.tolist())
    else:
        proto.CopyFrom(tf.make_tensor_proto(value))


# ---------------------------------------------------------------- loading


def load(name: str, version: int, path: str, options: Options) -> Bundle:
    """SavedModelBundleFactory::CreateSavedModelBundle then the warmup."""
    tf = _tf()
    started = time.perf_counter()
    local = path[len("file://"):] if path.startswith("file://") else path
    if not any(os.path.exists(os.path.join(local, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
        metrics.REGISTRY.increment(metrics.LOAD_ATTEMPT_COUNT, path, "fail")
        raise not_found(f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {path}. Check that the "
                        "directory exists and that you have the right permissions for accessing it.")
    log.info("tensorflow/cc/saved_model/reader.cc", f"Reading SavedModel from: {path}")
    graph = tf.Graph()
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=options.intra_op, inter_op_parallelism_threads=options.inter_op)
    session = tf.compat.v1.Session(graph=graph, config=config)
    try:
        with graph.as_default():
            meta_graph_def = tf.compat.v1.saved_model.load(session, options.tags, local)
    except RuntimeError as error:
        session.close()
        metrics.REGISTRY.increment(metrics.LOAD_ATTEMPT_COUNT, path, "fail")
        if "could not be found in SavedModel" in str(error):
            raise not_found(f"Could not find meta graph def matching supplied tags: {{ {' '.join(options.tags)} }}. To inspect "
                            "available tag-sets in the SavedModel, please use the SavedModel CLI: `saved_model_cli`") from None
        raise internal(str(error)) from None
    except Exception as error:  # noqa: BLE001 - any other TensorFlow failure is the load's status
        session.close()
        metrics.REGISTRY.increment(metrics.LOAD_ATTEMPT_COUNT, path, "fail")
        raise status_from_tf(error) from None
    elapsed_us = int((time.perf_counter() - started) * 1e6)
    metrics.REGISTRY.increment(metrics.LOAD_ATTEMPT_COUNT, path, "success")
    metrics.REGISTRY.increment(metrics.LOAD_LATENCY, path, by=elapsed_us)
    log.info(_LOADER, f"SavedModel load for tags {{ {' '.join(options.tags)} }}; Status: success: OK. Took {elapsed_us} microseconds.")
    bundle = Bundle(name, version, path, session, meta_graph_def, options)
    if options.enable_warmup:
        try:
            warm_up(bundle, options.warmup_iterations)
        except Status:
            session.close()
            raise
    return bundle


def unload(bundle: Bundle) -> None:
    bundle.session.close()


def warm_up(bundle: Bundle, iterations: int) -> None:
    """RunSavedModelWarmup: replays the version's warmup records (predict logs)."""
    local = bundle.path[len("file://"):] if bundle.path.startswith("file://") else bundle.path
    warmup_path = os.path.join(bundle.path, WARMUP_FILE)
    if not os.path.exists(os.path.join(local, WARMUP_FILE)):
        log.info(_WARMUP, f"No warmup data file found at {warmup_path}")
        return
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    tf = _tf()
    started = time.perf_counter()
    records, status = 0, None
    try:
        for record in tf.compat.v1.io.tf_record_iterator(os.path.join(local, WARMUP_FILE)):
            entry = prediction_log_pb2.PredictionLog()
            try:
                entry.ParseFromString(record)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError
                raise invalid_argument(f"Failed to parse warmup record: {record!r} from {warmup_path}") from None
            kind = entry.WhichOneof("log_type")
            for _ in range(max(iterations, 1)):
                if kind == "predict_log":
                    bundle.predict_proto(entry.predict_log.request, predict_pb2.PredictResponse())
                elif kind in ("classify_log", "regress_log", "multi_inference_log"):
                    raise Status("UNIMPLEMENTED", f"TF Serving stand-in: {kind} warmup records are not replayed (only predict_log)")
                elif kind in ("predict_streamed_log", "session_run_log"):
                    raise Status("UNIMPLEMENTED", f"Unsupported log_type for warmup: {entry.WhichOneof('log_type')}")
            records += 1
            if records > MAX_WARMUP_RECORDS:
                raise invalid_argument(f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {warmup_path}")
    except Status as error:
        status = error
    except Exception as error:  # noqa: BLE001 - a corrupt TFRecord file
        status = Status("DATA_LOSS", f"{status_from_tf(error).message}. Please verify your warmup data is in TFRecord format.")
    latency_us = (time.perf_counter() - started) * 1e6
    label = "OK" if status is None else str(status)
    metrics.REGISTRY.add(metrics.MODEL_WARMUP_LATENCY, latency_us, bundle.path, label)
    metrics.REGISTRY.increment(metrics.MODEL_WARMUP_RECORDS_READ, bundle.path, label, by=records)
    if status is not None:
        raise status
    log.info(_WARMUP, f"Finished reading warmup data for model at {warmup_path}. Number of warmup records read: {records}. "
                      f"Elapsed time (microseconds): {int(latency_us)}.")
