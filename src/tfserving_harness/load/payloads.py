"""Signatures, payloads and response checks for TF Serving's Predict API (REST and gRPC).

A `Signature` comes from the model's metadata (REST `GET /v1/models/NAME[/versions/N]/metadata`,
gRPC `GetModelMetadata`; both carry a `SignatureDefMap`). A `Payload` is one request in both wire
forms: the REST JSON body and a gRPC `PredictRequest`. It is generated from the signature (each
input gets a tensor of its dtype and shape, `-1` dimensions set to the batch size) or read from a
file: TF Serving's REST JSON (`instances` or `inputs`) or a `PredictRequest` in protobuf text format.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import protos


class PayloadError(ValueError):
    """A payload that cannot be built or read; the message says what, where and what to do."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # TF's enum name, e.g. DT_FLOAT
    shape: tuple[int, ...] | None  # None: unknown rank


@dataclass(frozen=True)
class Signature:
    model: str
    name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    version: str | None = None


#: dtype -> (TensorProto value field, value generated for every element, JSON value for REST)
_DTYPES: dict[str, tuple[str, Any, Any]] = {
    "DT_FLOAT": ("float_val", 1.0, 1.0),
    "DT_DOUBLE": ("double_val", 1.0, 1.0),
    "DT_HALF": ("half_val", 0x3C00, 1.0),  # half_val holds the IEEE 754 binary16 bits of 1.0
    "DT_INT8": ("int_val", 1, 1),
    "DT_INT16": ("int_val", 1, 1),
    "DT_INT32": ("int_val", 1, 1),
    "DT_UINT8": ("int_val", 1, 1),
    "DT_UINT16": ("int_val", 1, 1),
    "DT_UINT32": ("uint32_val", 1, 1),
    "DT_INT64": ("int64_val", 1, 1),
    "DT_UINT64": ("uint64_val", 1, 1),
    "DT_BOOL": ("bool_val", True, True),
    "DT_STRING": ("string_val", b"a", "a"),
}
SUPPORTED_DTYPES = tuple(_DTYPES)


def _spec(name: str, info: Mapping[str, Any]) -> TensorSpec:
    shape_info = info.get("tensor_shape", info.get("tensorShape", {})) or {}
    if shape_info.get("unknown_rank", shape_info.get("unknownRank", False)):
        shape = None
    else:
        shape = tuple(int(dim.get("size", 0)) for dim in shape_info.get("dim", []))
    return TensorSpec(name, str(info.get("dtype", "DT_INVALID")), shape)


def signature_from_metadata(metadata: Mapping[str, Any], signature_name: str = "serving_default") -> Signature:
    """The signature `signature_name` from REST metadata JSON (or gRPC metadata as a dict)."""
    spec = metadata.get("model_spec", metadata.get("modelSpec", {}))
    model = spec.get("name", "?")
    try:
        signatures = metadata["metadata"]["signature_def"]
        signatures = signatures.get("signature_def", signatures.get("signatureDef", {}))
    except (KeyError, TypeError, AttributeError):
        raise PayloadError(f"metadata of model {model!r} has no metadata.signature_def: {json.dumps(metadata)[:300]}") from None
    if signature_name not in signatures:
        raise PayloadError(
            f"signature {signature_name!r} is not in model {model!r}; it has {sorted(signatures)}: set --signature to one of them"
        )
    sig = signatures[signature_name]
    return Signature(
        model=model,
        name=signature_name,
        inputs={name: _spec(name, info) for name, info in sig.get("inputs", {}).items()},
        outputs={name: _spec(name, info) for name, info in sig.get("outputs", {}).items()},
        version=str(spec["version"]) if spec.get("version") not in (None, "") else None,
    )


def signature_from_grpc_metadata(response, signature_name: str = "serving_default") -> Signature:
    """The signature from a gRPC GetModelMetadataResponse (its `signature_def` Any holds a SignatureDefMap)."""
    from google.protobuf import json_format

    api = protos.apis()
    signature_map = api.get_model_metadata_pb2.SignatureDefMap()
    if "signature_def" not in response.metadata or not response.metadata["signature_def"].Unpack(signature_map):
        raise PayloadError(f"GetModelMetadata for {response.model_spec.name!r} returned no signature_def")
    as_dict = {
        "model_spec": {"name": response.model_spec.name, "version": str(response.model_spec.version.value or "")},
        "metadata": {"signature_def": json_format.MessageToDict(signature_map, preserving_proto_field_name=True)},
    }
    return signature_from_metadata(as_dict, signature_name)


@dataclass
class Payload:
    """One predict request in both wire forms. `tensors` maps input name -> (dtype, shape, nested values)."""

    signature_name: str
    tensors: dict[str, tuple[str, tuple[int, ...], Any]]
    rest_format: str = "inputs"  # "inputs" (columnar) or "instances" (row); decides the response layout
    rest_body: bytes = field(default=b"", repr=False)

    def __post_init__(self):
        if not self.rest_body:
            columns = {name: values for name, (_, _, values) in self.tensors.items()}
            self.rest_body = json.dumps({"signature_name": self.signature_name, "inputs": columns}).encode()

    @property
    def batch_size(self) -> int:
        sizes = {shape[0] for _, shape, _ in self.tensors.values() if shape}
        return sizes.pop() if len(sizes) == 1 else 0

    def grpc_request(self, model: str, version: int | None = None, label: str | None = None):
        api = protos.apis()
        request = api.predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = self.signature_name
        if version is not None:
            request.model_spec.version.value = version
        elif label:
            request.model_spec.version_label = label
        for name, (dtype, shape, values) in self.tensors.items():
            request.inputs[name].CopyFrom(tensor_proto(dtype, shape, values))
        return request


def _nested(shape: tuple[int, ...], value: Any) -> Any:
    if not shape:
        return value
    return [_nested(shape[1:], value) for _ in range(shape[0])]


def _flatten(values: Any) -> list:
    if isinstance(values, list):
        return [item for value in values for item in _flatten(value)]
    return [values]


def _shape_of(values: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(values, list):
        shape.append(len(values))
        values = values[0] if values else None
    return tuple(shape)


def tensor_proto(dtype: str, shape: tuple[int, ...], values: Any):
    api = protos.apis()
    if dtype not in _DTYPES:
        raise PayloadError(f"dtype {dtype} is not supported for generated payloads (supported: {', '.join(SUPPORTED_DTYPES)})")
    value_field, _, _ = _DTYPES[dtype]
    tensor = api.tensor_pb2.TensorProto(dtype=api.types_pb2.DataType.Value(dtype))
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    flat = _flatten(values)
    if dtype == "DT_STRING":
        flat = [v.encode() if isinstance(v, str) else v for v in flat]
    elif dtype == "DT_HALF":
        flat = [_DTYPES["DT_HALF"][1] if v == 1.0 else _half_bits(v) for v in flat]
    getattr(tensor, value_field).extend(flat)
    return tensor


def _half_bits(value: float) -> int:
    import struct

    return struct.unpack("<H", struct.pack("<e", value))[0]


def generate(signature: Signature, batch_size: int = 1) -> Payload:
    """A payload for every input of `signature`; `-1` dimensions become `batch_size`."""
    if batch_size < 1:
        raise PayloadError(f"--batch-size must be at least 1, got {batch_size}")
    if not signature.inputs:
        raise PayloadError(f"signature {signature.name!r} of model {signature.model!r} has no inputs")
    tensors = {}
    for name, spec in signature.inputs.items():
        where = f"input {name!r} of signature {signature.name!r} (model {signature.model!r})"
        if spec.dtype not in _DTYPES:
            raise PayloadError(
                f"{where} has dtype {spec.dtype}, which cannot be generated (supported: {', '.join(SUPPORTED_DTYPES)}): "
                "give a request with --payload-file"
            )
        if spec.shape is None:
            raise PayloadError(f"{where} has an unknown rank, so no shape can be generated: give a request with --payload-file")
        shape = tuple(batch_size if size == -1 else size for size in spec.shape)
        tensors[name] = (spec.dtype, shape, _nested(shape, _DTYPES[spec.dtype][2]))
    return Payload(signature.name, tensors)


def load_file(path: str | Path, signature: Signature | None = None, signature_name: str = "serving_default") -> Payload:
    """A payload from TF Serving REST JSON (`instances` or `inputs`) or a PredictRequest in text format
    (`.pbtxt`/`.txt`). JSON needs the signature for the dtypes of its gRPC form."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise PayloadError(f"--payload-file {path}: {error.strerror}") from None
    if path.suffix in (".pbtxt", ".txt", ".textproto"):
        return _from_text_proto(path, text)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(f"--payload-file {path} is not JSON ({error}); a PredictRequest in text format needs a .pbtxt suffix") from None
    if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
        raise PayloadError(f"--payload-file {path}: TF Serving's REST body needs exactly one of `instances` (row) or `inputs` (columnar)")
    name = body.get("signature_name", signature_name)
    specs = signature.inputs if signature else {}

    def dtype(input_name: str, values: Any) -> str:
        if input_name in specs:
            return specs[input_name].dtype
        sample = _flatten(values)[0] if _flatten(values) else 0.0
        return {bool: "DT_BOOL", int: "DT_INT64", str: "DT_STRING"}.get(type(sample), "DT_FLOAT")

    if "inputs" in body:
        inputs = body["inputs"]
        if not isinstance(inputs, dict):
            if len(specs) != 1:
                raise PayloadError(f"--payload-file {path}: unnamed `inputs` needs a signature with exactly one input")
            inputs = {next(iter(specs)): inputs}
        tensors = {k: (dtype(k, v), _shape_of(v), v) for k, v in inputs.items()}
        return Payload(name, tensors, "inputs", text.encode())
    rows = body["instances"]
    if not isinstance(rows, list) or not rows:
        raise PayloadError(f"--payload-file {path}: `instances` must be a non-empty list")
    if isinstance(rows[0], dict):
        columns = {key: [row[key] for row in rows] for key in rows[0]}
    elif len(specs) == 1 or not specs:
        columns = {next(iter(specs), "inputs"): rows}
    else:
        raise PayloadError(f"--payload-file {path}: `instances` of plain values need a signature with one input, it has {sorted(specs)}")
    tensors = {k: (dtype(k, v), _shape_of(v), v) for k, v in columns.items()}
    return Payload(name, tensors, "instances", text.encode())


def _from_text_proto(path: Path, text: str) -> Payload:
    from google.protobuf import text_format

    api = protos.apis()
    request = api.predict_pb2.PredictRequest()
    try:
        text_format.Parse(text, request)
    except text_format.ParseError as error:
        raise PayloadError(f"--payload-file {path} is not a PredictRequest in text format: {error}") from None
    tensors = {}
    for name, tensor in request.inputs.items():
        dtype = api.types_pb2.DataType.Name(tensor.dtype)
        if dtype not in _DTYPES:
            raise PayloadError(f"--payload-file {path}: input {name!r} has dtype {dtype} (supported: {', '.join(SUPPORTED_DTYPES)})")
        shape = tuple(dim.size for dim in tensor.tensor_shape.dim)
        flat = list(getattr(tensor, _DTYPES[dtype][0]))
        if dtype == "DT_STRING":
            flat = [v.decode(errors="replace") for v in flat]
        count = math.prod(shape)
        if len(flat) == 1 and count > 1:
            flat = flat * count  # TF's proto convention: one value fills the tensor
        if len(flat) != count:
            raise PayloadError(f"--payload-file {path}: input {name!r} has {len(flat)} values for shape {list(shape)}")
        tensors[name] = (dtype, shape, _reshape(flat, shape))
    return Payload(request.model_spec.signature_name or "serving_default", tensors)


def _reshape(flat: list, shape: tuple[int, ...]) -> Any:
    if not shape:
        return flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


# --- Response checks: None when the response is a success, else the reason -------------------


def _expected_batch(spec: TensorSpec, batch_size: int) -> int | None:
    if not spec.shape:
        return None
    return batch_size if spec.shape[0] == -1 else spec.shape[0]


def check_rest(status: int, body: bytes | str, signature: Signature | None, payload: Payload) -> str | None:
    """Why a REST predict response is a failure (HTTP status, `error`, outputs vs signature), or None."""
    try:
        doc = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and "error" in doc:
        return f"HTTP {status}: error: {str(doc['error'])[:200]}"
    if status != 200:
        return f"HTTP {status}: {str(body[:200])}"
    if not isinstance(doc, dict):
        return "HTTP 200 but the body is not a JSON object"
    key = "predictions" if payload.rest_format == "instances" else "outputs"
    if key not in doc:
        return f"response has no `{key}` (keys: {sorted(doc)})"
    if signature is None:
        return None
    outputs = doc[key]
    expected = sorted(signature.outputs)
    if len(expected) == 1:
        columns = {expected[0]: outputs}
    elif key == "outputs":
        if not isinstance(outputs, dict) or sorted(outputs) != expected:
            got = sorted(outputs) if isinstance(outputs, dict) else "one unnamed tensor"
            return f"outputs {got} do not match the signature's {expected}"
        columns = outputs
    else:
        if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict) or sorted(outputs[0]) != expected:
            return f"predictions do not carry the signature's outputs {expected}"
        columns = {name: [row[name] for row in outputs] for name in expected}
    for name, values in columns.items():
        want = _expected_batch(signature.outputs[name], payload.batch_size)
        got = len(values) if isinstance(values, list) else 0
        if want is not None and got != want:
            return f"output {name!r} has batch dimension {got}, the signature and batch size say {want}"
    return None


def check_grpc(response, signature: Signature | None, payload: Payload) -> str | None:
    """Why a gRPC PredictResponse does not match the signature (output names, batch dimension), or None."""
    if signature is None:
        return None
    got, expected = sorted(response.outputs), sorted(signature.outputs)
    if got != expected:
        return f"outputs {got} do not match the signature's {expected}"
    for name in expected:
        want = _expected_batch(signature.outputs[name], payload.batch_size)
        dims = response.outputs[name].tensor_shape.dim
        size = dims[0].size if dims else 0
        if want is not None and size != want:
            return f"output {name!r} has batch dimension {size}, the signature and batch size say {want}"
    return None
