"""REST JSON <-> tensors, as `util/json_tensor.cc` (tensorflow/serving 2.20.0) does it.

- Requests: `{"instances": [...]}` (row format: a plain list for a single-input signature, or a list
  of objects naming every input) or `{"inputs": ...}` (columnar), optional `"signature_name"`;
  values checked against the signature's dtypes (a float needs a JSON number, an int32 an integer
  that fits, a string a JSON string or `{"b64": ...}`), every row of one shape, leaves at one depth;
  the messages of FillTensorProto / AddInstanceItem / FillPredictRequestFromJson.
- Responses: rapidjson's PrettyWriter (4-space indent) with kFormatSingleLineArray around each row,
  so a row response reads `{\\n    "predictions": [[2.5], [3.0]\\n    ]\\n}`; floats written as
  absl::StrCat (6 significant digits) unless that does not round-trip (then %.9g / %.17g), with
  `.0` added to whole numbers; NaN/Infinity as bare tokens; `*_bytes` string outputs as {"b64": ...}.
- Errors: `{\\n    "error": "message"\\n}` (MakeJsonFromStatus).
- Parsing: rapidjson with kParseNanAndInfFlag and kParseStopWhenDoneFlag (text after the top-level
  value is ignored); the parse-error wording is rapidjson's for the common cases only.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from typing import Any

import numpy as np

from .servable import dtype_name
from .status import Status, invalid_argument

_NUMPY = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 7: object, 9: np.int64, 10: np.bool_,
          22: np.uint32, 23: np.uint64}


class PrettyWriter:
    """rapidjson::PrettyWriter<StringBuffer> with the default 4-space indent."""

    def __init__(self, single_line_arrays: bool = False, limit: int | None = None):
        self.out: list[str] = []
        self.size = 0
        self.stack: list[list] = []  # [in_array, value_count]
        self.single = single_line_arrays
        self.limit = limit

    def _put(self, text: str) -> bool:
        if self.limit is not None and self.size >= self.limit:
            return False
        self.out.append(text)
        self.size += len(text.encode("utf-8", "surrogateescape"))
        return True

    def _indent(self) -> None:
        self._put(" " * 4 * len(self.stack))

    def _prefix(self) -> None:
        if not self.stack:
            return
        level = self.stack[-1]
        if level[0]:
            if level[1] > 0:
                self._put(", " if self.single else ",")
            if not self.single:
                self._put("\n")
                self._indent()
        else:
            if level[1] > 0:
                self._put(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self._put("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def start_object(self) -> None:
        self._prefix()
        self._put("{")
        self.stack.append([False, 0])

    def end_object(self) -> None:
        count = self.stack.pop()[1]
        if count:
            self._put("\n")
            self._indent()
        self._put("}")

    def start_array(self) -> None:
        self._prefix()
        self._put("[")
        self.stack.append([True, 0])

    def end_array(self) -> None:
        count = self.stack.pop()[1]
        if count and not self.single:
            self._put("\n")
            self._indent()
        self._put("]")

    def string(self, text: str) -> None:
        self._prefix()
        self._put(_quote(text))

    key = string

    def raw(self, token: str) -> None:
        self._prefix()
        self._put(token)

    def value(self, value: Any) -> None:
        """A parsed JSON value (for debug strings)."""
        if isinstance(value, dict):
            self.start_object()
            for k, v in value.items():
                self.key(k)
                self.value(v)
            self.end_object()
        elif isinstance(value, list):
            self.start_array()
            for v in value:
                self.value(v)
            self.end_array()
        elif value is None:
            self.raw("null")
        elif isinstance(value, bool):
            self.raw("true" if value else "false")
        elif isinstance(value, int):
            self.raw(str(value))
        elif isinstance(value, float):
            self.raw(_double_token(value))
        else:
            self.string(value)

    def text(self) -> str:
        return "".join(self.out)


def _quote(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(escapes.get(c, f"\\u{ord(c):04X}" if ord(c) < 0x20 else c) for c in text) + '"'


def _double_token(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    return text if ("." in text or "e" in text) else text + ".0"


def debug_string(value: Any) -> str:
    """JsonValueToDebugString: single-line arrays, cut at 256 bytes."""
    writer = PrettyWriter(single_line_arrays=True, limit=256)
    writer.value(value)
    return writer.text()


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


# ---------------------------------------------------------------- requests

_RAPIDJSON_ERRORS = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Expecting ',' delimiter": "Missing a comma or '}' after an object member.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid control character at": "Invalid encoding in string.",
    "Invalid \\escape": "Invalid escape character in string.",
}


def parse_json(body: bytes) -> dict:
    """ParseJson: the document must be an object; text after it is ignored."""
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    text = body.decode("utf-8", "surrogateescape")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise invalid_argument(f"JSON Parse error: The document is empty. at offset: {start}")
    try:
        document, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as error:
        message = next((m for prefix, m in _RAPIDJSON_ERRORS.items() if error.msg.startswith(prefix)), error.msg)
        raise invalid_argument(f"JSON Parse error: {message} at offset: {error.pos}") from None
    if not isinstance(document, dict):
        raise invalid_argument(f"JSON Value: {debug_string(document)} Is not object")
    return document


def _type_error(value: Any, dtype: int) -> Status:
    return invalid_argument(f"JSON Value: {debug_string(value)} Type: {_json_type(value)} is not of expected type: {dtype_name(dtype)}")


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _scalar(value: Any, dtype: int) -> Any:
    """AddValueToTensor: the JSON types each dtype accepts."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        value = float(value)  # rapidjson reads integers past 64 bits as doubles
    if dtype in (1, 2):
        if not number:
            raise _type_error(value, dtype)
        return float(value)
    if dtype in (3, 5, 6, 4):
        if not (isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31):
            raise _type_error(value, dtype)
        return value
    if dtype == 9:
        if not (isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63):
            raise _type_error(value, dtype)
        return value
    if dtype == 22:
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32):
            raise _type_error(value, dtype)
        return value
    if dtype == 23:
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64):
            raise _type_error(value, dtype)
        return value
    if dtype == 10:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == 7:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", "surrogateescape")
    raise Status("UNIMPLEMENTED", f"Conversion of JSON Value: {debug_string(value)} to type: {dtype_name(dtype)}")


def _shape(value: Any) -> list[int]:
    """GetDenseTensorShape: the sizes along the first element at each depth."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, dtype: int, shape: list[int], out: list) -> None:
    """FillTensorProto."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(f"JSON Value: {debug_string(value)} found at incorrect level: {level + 1} in the JSON DOM. "
                                   f"Expected at level: {rank}")
        if isinstance(value, dict):
            if dtype != 7 or not _is_b64(value):
                raise _type_error(value, dtype) if dtype != 7 else invalid_argument(
                    f"JSON Value: {debug_string(value)} not formatted correctly for base64 data")
            try:
                out.append(base64.b64decode(value["b64"], validate=True))
            except (binascii.Error, ValueError):
                raise invalid_argument("Unable to base64 decode") from None
            return
        out.append(_scalar(value, dtype))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(f"Encountered list at unexpected size: {len(value)} at level: {level} expected size: {shape[level]}")
    for item in value:
        _fill(item, level + 1, dtype, shape, out)


def _array(values: list, shape: list[int], dtype: int) -> np.ndarray:
    numpy_type = _NUMPY.get(dtype)
    if numpy_type is None:
        raise Status("UNIMPLEMENTED", f"TF Serving stand-in: inputs of type {dtype_name(dtype)} are not converted from JSON")
    array = np.empty(len(values), dtype=numpy_type)
    array[:] = values
    return array.reshape(shape)


def _tensor(value: Any, dtype: int) -> tuple[list, list[int]]:
    shape = _shape(value)
    values: list = []
    _fill(value, 0, dtype, shape, values)
    return values, shape


def predict_inputs(document: dict, input_infos) -> tuple[dict[str, np.ndarray], str]:
    """FillTensorMapFromInstancesList / FillTensorMapFromInputsMap: (inputs by alias, "row"|"columnar")."""
    if not input_infos:
        return {}, "invalid"
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise invalid_argument(f"JSON Value: {debug_string(document)} Not formatted correctly expecting only one of 'inputs' or "
                               "'instances' keys to exist ")
    names = sorted(input_infos)
    if has_instances:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise invalid_argument(f"JSON Value: {debug_string(document)} Expecting 'instances' to be an list/array")
        if not instances:
            raise invalid_argument(f"JSON Value: {debug_string(document)} No values in 'instances' array")
        if not isinstance(instances[0], dict) and len(names) > 1:
            raise invalid_argument("instances is a plain list, but expecting list of objects as multiple input tensors required as "
                                   "per tensorinfo_map")
        objects = isinstance(instances[0], dict) and not _is_b64(instances[0])
        collected: dict[str, list] = {}
        shapes: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for index, item in enumerate(instances):
            if objects:
                if not (isinstance(item, dict) and not _is_b64(item)):
                    raise invalid_argument(f"Expecting object but got list at item {index} of input list")
                for name, value in item.items():
                    try:
                        _add_instance(value, name, input_infos, collected, shapes, sizes)
                    except Status as error:
                        raise invalid_argument(f"Failed to process element: {index} key: {name} of 'instances' list. Error: {error}") from None
                if set(item) != set(names):
                    raise invalid_argument(f"Failed to process element: {index} of 'instances' list. JSON object: "
                                           f"{debug_string(item)} keys must be equal to: {','.join(names)}")
            else:
                if isinstance(item, dict) and not _is_b64(item):
                    raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
                try:
                    _add_instance(item, names[0], input_infos, collected, shapes, sizes)
                except Status as error:
                    raise invalid_argument(f"Failed to process element: {index} of 'instances' list. Error: {error}") from None
        return {name: _array(values, [len(instances), *shapes[name]], input_infos[name].dtype)
                for name, values in collected.items()}, "row"
    if has_inputs:
        inputs = document["inputs"]
        result = {}
        if not isinstance(inputs, dict) or _is_b64(inputs):
            if len(names) > 1:
                raise invalid_argument("inputs is a plain value/list, but expecting an object as multiple input tensors required as "
                                       "per tensorinfo_map")
            values, shape = _tensor(inputs, input_infos[names[0]].dtype)
            return {names[0]: _array(values, shape, input_infos[names[0]].dtype)}, "columnar"
        for name in names:
            if name not in inputs:
                raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
            values, shape = _tensor(inputs[name], input_infos[name].dtype)
            result[name] = _array(values, shape, input_infos[name].dtype)
        return result, "columnar"
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def _add_instance(value: Any, name: str, input_infos, collected: dict, shapes: dict, sizes: dict) -> None:
    """AddInstanceItem: every row of an input has the first row's size and shape."""
    if name not in input_infos:
        raise invalid_argument(f"JSON object: does not have named input: {name}")
    values, shape = _tensor(value, input_infos[name].dtype)
    if name not in collected:
        collected[name], shapes[name], sizes[name] = values, shape, len(values)
        return
    if len(values) != sizes[name]:
        raise invalid_argument(f"Expecting tensor size: {sizes[name]} but got: {len(values)}")
    if shape != shapes[name]:
        raise invalid_argument(f"Expecting shape [{','.join(map(str, shapes[name]))}] but got: [{','.join(map(str, shape))}]")
    collected[name].extend(values)


# ---------------------------------------------------------------- responses


def _decimal(value: float, single: bool) -> str:
    """WriteDecimal<float|double>."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:.6g}"
    parsed = float(text)
    if single:
        parsed = struct.unpack("f", struct.pack("f", parsed))[0] if abs(parsed) < 3.5e38 else math.inf
    if parsed != value:
        text = f"{value:.9g}" if single else f"{value:.17g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _write_values(writer: PrettyWriter, array: np.ndarray, as_bytes: bool) -> None:
    """AddTensorValues for one tensor (or one row of it)."""
    if array.ndim == 0:
        _write_scalar(writer, array.item(), array.dtype, as_bytes)
        return
    writer.start_array()
    for item in array:
        if array.ndim == 1:
            _write_scalar(writer, item.item() if hasattr(item, "item") else item, array.dtype, as_bytes)
        else:
            _write_values(writer, item, as_bytes)
    writer.end_array()


def _write_scalar(writer: PrettyWriter, value: Any, dtype: np.dtype, as_bytes: bool) -> None:
    if dtype == np.float32:
        writer.raw(_decimal(float(value), True))
    elif dtype == np.float64:
        writer.raw(_decimal(float(value), False))
    elif dtype == np.bool_:
        writer.raw("true" if value else "false")
    elif dtype.kind in "iu":
        writer.raw(str(int(value)))
    elif dtype.kind in "OSU":
        data = value if isinstance(value, bytes) else str(value).encode()
        if as_bytes:
            writer.start_object()
            writer.key("b64")
            writer.string(base64.b64encode(data).decode())
            writer.end_object()
        else:
            writer.string(data.decode("utf-8", "surrogateescape"))
    else:
        raise invalid_argument(f"Failed to write JSON value for tensor type: {dtype}")


def outputs_json(outputs: dict[str, np.ndarray], layout: str) -> str:
    """MakeJsonFromTensors (row or columnar)."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    writer = PrettyWriter()
    writer.start_object()
    if layout == "row":
        batch = -1
        for name in names:
            if outputs[name].ndim == 0:
                raise invalid_argument(f"Tensor name: {name} has no shape information ")
            size = outputs[name].shape[0]
            if batch >= 0 and size != batch:
                raise invalid_argument(f"Tensor name: {name} has inconsistent batch size: {size} expecting: {batch}")
            batch = size
        writer.key("predictions")
        writer.start_array()
        objects = len(names) > 1
        for item in range(batch):
            if objects:
                writer.start_object()
            writer.single = True
            for name in names:
                if objects:
                    writer.key(name)
                _write_values(writer, outputs[name][item], _is_bytes(name, outputs[name]))
            writer.single = False
            if objects:
                writer.end_object()
        writer.end_array()
    else:
        writer.key("outputs")
        objects = len(names) > 1
        if objects:
            writer.start_object()
        for name in names:
            if objects:
                writer.key(name)
            _write_values(writer, outputs[name], _is_bytes(name, outputs[name]))
        if objects:
            writer.end_object()
    writer.end_object()
    return writer.text()


def _is_bytes(name: str, array: np.ndarray) -> bool:
    return array.dtype.kind in "OS" and name.endswith("_bytes")


def error_json(message: str) -> str:
    """MakeJsonFromStatus."""
    writer = PrettyWriter()
    writer.start_object()
    writer.key("error")
    writer.string(message)
    writer.end_object()
    return writer.text()
