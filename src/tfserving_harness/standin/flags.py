"""tensorflow_model_server's command line, parsed the way the binary parses it.

Sources (tensorflow/serving 2.20.0 and the TensorFlow it builds with):
- `model_servers/main.cc`: the flag list, in order (the first flag that accepts an argument wins),
  `Flags::Parse` failing -> usage on stdout and exit status 255 (`return -1`), `--version`, and
  `unknown argument: <first one>` + usage on stdout for arguments no flag took, after which the
  server starts anyway.
- `model_servers/server.h` (`Server::Options`): each flag's type and default; thread counts
  default to 4 x `port::NumSchedulableCPUs()` (the CPUs the process may be scheduled on: the node's
  in a container, not its CPU limit).
- `xla/tsl/util/command_line_flags.cc` (tensorflow::Flags): `--name=value` only (no `--name value`);
  a bool also as bare `--name`, values true/false (any case) or 1/0; ints through
  `sscanf("%d%c")` (so leading blanks and a sign are accepted, anything after the number is not);
  `--` ends parsing and everything after it is unknown; `Couldn't interpret value V for flag N.`
  is logged for a bad value of a known flag, and the parse then fails.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any

#: The release this stand-in follows.
VERSION = "2.20.0"


def schedulable_cpus() -> int:
    """port::NumSchedulableCPUs(): the CPUs in the process's affinity mask."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str  # int32, int64, float, bool, string
    default: Any


def _flag_list(cpus: int) -> list[Flag]:
    """main.cc's flag_list, in its order, with Server::Options defaults (server.h)."""
    f = Flag
    return [
        f("port", "int32", 8500), f("grpc_socket_path", "string", ""), f("rest_api_port", "int32", 0),
        f("rest_api_num_threads", "int32", 4 * cpus), f("rest_api_timeout_in_ms", "int32", 30000),
        f("rest_api_enable_cors_support", "bool", False), f("enable_batching", "bool", False),
        f("allow_version_labels_for_unavailable_models", "bool", False), f("batching_parameters_file", "string", ""),
        f("enable_per_model_batching_parameters", "bool", False), f("model_config_file", "string", ""),
        f("model_config_file_poll_wait_seconds", "int32", 0), f("model_name", "string", "default"),
        f("model_base_path", "string", ""), f("num_load_threads", "int32", 0), f("num_unload_threads", "int32", 0),
        f("max_num_load_retries", "int32", 5), f("load_retry_interval_micros", "int64", 60 * 1000 * 1000),
        f("file_system_poll_wait_seconds", "int32", 1), f("flush_filesystem_caches", "bool", True),
        f("tensorflow_session_parallelism", "int64", 0), f("tensorflow_session_config_file", "string", ""),
        f("tensorflow_intra_op_parallelism", "int64", 0), f("tensorflow_inter_op_parallelism", "int64", 0),
        f("use_alts_credentials", "bool", False), f("ssl_config_file", "string", ""), f("platform_config_file", "string", ""),
        f("per_process_gpu_memory_fraction", "float", 0.0), f("saved_model_tags", "string", "serve"),
        f("grpc_channel_arguments", "string", ""), f("grpc_max_threads", "int32", 4 * cpus),
        f("enable_model_warmup", "bool", True), f("num_request_iterations_for_warmup", "int32", 0), f("version", "bool", False),
        f("monitoring_config_file", "string", ""), f("remove_unused_fields_from_bundle_metagraph", "bool", True),
        f("prefer_tflite_model", "bool", False), f("num_tflite_pools", "int32", cpus), f("num_tflite_interpreters_per_pool", "int32", 1),
        f("enable_signature_method_name_check", "bool", False), f("xla_cpu_compilation_enabled", "bool", False),
        f("xla_gpu_compilation_enabled", "bool", False), f("enable_profiler", "bool", True),
        f("thread_pool_factory_config_file", "string", ""), f("mixed_precision", "string", ""),
        f("skip_initialize_tpu", "bool", False), f("enable_grpc_healthcheck_service", "bool", False),
        f("enable_serialization_as_tensor_content", "bool", False),
    ]


_INT = re.compile(r"^[ \t\n\v\f\r]*([+-]?[0-9]+)$")
_FLOAT = re.compile(r"^[ \t\n\v\f\r]*([+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan))$",
                    re.IGNORECASE)


def _scan_int(text: str, bits: int) -> int | None:
    """sscanf("%d%c") / ("%" SCNd64 "%c") == 1: glibc reads the number with strtol (clamped to the
    64-bit range) and stores it in the flag's width (int32 wraps)."""
    match = _INT.match(text)
    if not match:
        return None
    value = max(-(2**63), min(2**63 - 1, int(match.group(1))))
    if bits == 32:
        value = (value + 2**31) % 2**32 - 2**31
    return value


def _scan_float(text: str) -> float | None:
    match = _FLOAT.match(text)
    if not match:
        return None
    value = float(match.group(1))
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        return struct.unpack("f", struct.pack("f", value))[0]  # stored in a C float
    except OverflowError:
        return math.copysign(math.inf, value)  # strtof overflows to infinity


class BadFlagValue(Exception):
    """A known flag with a value tensorflow::Flags cannot read."""


def _parse_one(flag: Flag, arg: str) -> tuple[bool, Any]:
    """Flag::Parse: (was_found, value); raises BadFlagValue when the flag matched but its value is bad."""
    prefix = f"--{flag.name}"
    if not arg.startswith(prefix):
        return False, None
    rest = arg[len(prefix):]
    if flag.kind == "bool":
        if rest == "":
            return True, True
        if not rest.startswith("="):
            return False, None  # another flag whose name starts with this one
        value = rest[1:]
        if value.lower() == "true" or value == "1":
            return True, True
        if value.lower() == "false" or value == "0":
            return True, False
        raise BadFlagValue(value)
    if not rest.startswith("="):
        return False, None
    value = rest[1:]
    if flag.kind == "string":
        return True, value
    parsed = _scan_float(value) if flag.kind == "float" else _scan_int(value, 32 if flag.kind == "int32" else 64)
    if parsed is None:
        raise BadFlagValue(value)
    return True, parsed


@dataclass
class ParsedFlags:
    values: dict[str, Any]
    unknown: list[str] = field(default_factory=list)
    ok: bool = True
    errors: list[str] = field(default_factory=list)  # the LOG(ERROR) lines of bad values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def parse(argv: list[str], *, cpus: int | None = None) -> ParsedFlags:
    """Flags::Parse over argv[1:]."""
    flags = _flag_list(cpus or schedulable_cpus())
    parsed = ParsedFlags(values={f.name: f.default for f in flags})
    args = argv[1:]
    for index, arg in enumerate(args):
        if arg == "--":
            parsed.unknown.extend(args[index:])
            break
        for flag in flags:
            try:
                found, value = _parse_one(flag, arg)
            except BadFlagValue as error:
                parsed.ok = False
                parsed.errors.append(f"Couldn't interpret value {error.args[0]} for flag {flag.name}.")
                break
            if found:
                parsed.values[flag.name] = value
                break
        else:
            parsed.unknown.append(arg)
    if parsed.unknown and parsed.unknown[0] == "--help":
        parsed.ok = False
    return parsed


def usage(program: str, *, cpus: int | None = None) -> str:
    """Flags::Usage's layout ("usage: PROGRAM", "Flags:", one tab-separated line per flag: the flag
    with its default, its type, then its help text). The help texts are left out (see the docs)."""
    lines = [f"usage: {program}", "Flags:"]
    for flag in _flag_list(cpus or schedulable_cpus()):
        if flag.kind == "bool":
            shown = f"--{flag.name}={'true' if flag.default else 'false'}"
        elif flag.kind == "string":
            shown = f'--{flag.name}="{flag.default}"'
        elif flag.kind == "float":
            shown = f"--{flag.name}={flag.default:f}"
        else:
            shown = f"--{flag.name}={flag.default}"
        lines.append(f"\t{shown:<33}\t{flag.kind}\t")
    return "\n".join(lines) + "\n"


def simple_atoi(text: str, bits: int = 64) -> int | None:
    """absl::SimpleAtoi (base 10): surrounding ASCII blanks allowed, an optional sign, digits only;
    None on anything else or overflow. Used for version folder names, REST versions and
    --grpc_channel_arguments values."""
    stripped = text.strip(" \t\n\v\f\r")
    if not re.fullmatch(r"[+-]?[0-9]+", stripped):
        return None
    value = int(stripped)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return value if low <= value <= high else None
