"""`validate-model PATH`: is this model folder what TF Serving will load and serve?

Checks, each reported on its own line: numeric version folders (the server ignores the rest:
sources/storage_path/file_system_storage_path_source.cc ParseVersionNumber); a SavedModel in
each; the serving signature with its inputs and outputs; every op of the graph registered in the
TensorFlow of the serving image (serving_ops); warmup records that are PredictionLogs of a kind
the server replays (servables/tensorflow/saved_model_warmup.cc), at most 1000
(saved_model_warmup_util.h kMaxNumRecords); one prediction on an input generated from the
signature. The prediction runs in a child Python process with TensorFlow (no server) that is
killed after a timeout, so the command always ends. With `--values`, the chart's rendered
models.config is compared with the folders.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from .serving_ops import graph_ops, serving_ops

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000
WARMUP_KINDS = ("regress_log", "classify_log", "predict_log", "multi_inference_log")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> Check:
        check = Check(name, ok, detail)
        self.checks.append(check)
        return check

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def version_folders(base: Path, report: Report) -> list[int]:
    if not base.is_dir():
        report.add("base path", False, f"{base} is not a directory")
        return []
    versions, strays = [], []
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        (versions if child.name.isdigit() and int(child.name) > 0 else strays).append(child.name)
    if strays:
        report.add("non-version folders", False, f"{base}: {strays} are not positive integers; TF Serving ignores them "
                   "(a version folder is named by its version number: 1, 2, ...)")
    if not versions:
        inside = " (the SavedModel is in the base path itself)" if (base / "saved_model.pb").exists() else ""
        report.add("version folders", False, f"{base} has no numeric version folder{inside}: put the SavedModel in {base}/1/")
        return []
    numbers = sorted(int(v) for v in versions)
    report.add("version folders", True, f"{base}: versions {numbers}")
    return numbers


def _load_saved_model(folder: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    if (folder / "saved_model.pb").is_file():
        proto.ParseFromString((folder / "saved_model.pb").read_bytes())
    elif (folder / "saved_model.pbtxt").is_file():
        from google.protobuf import text_format

        text_format.Parse((folder / "saved_model.pbtxt").read_text(), proto)
    else:
        return None
    return proto


def _serving_meta_graph(proto, tag: str = "serve"):
    return next((mg for mg in proto.meta_graphs if tag in mg.meta_info_def.tags), None)


def _tensor_info(info) -> str:
    from tensorflow.core.framework import types_pb2

    dims = "?" if info.tensor_shape.unknown_rank else "[" + ",".join(str(d.size) for d in info.tensor_shape.dim) + "]"
    return f"{types_pb2.DataType.Name(info.dtype)}{dims}"


def check_version(folder: Path, report: Report, *, signature: str, serving_version: str) -> bool:
    """The checks that need no prediction; True when the version can be predicted."""
    label = f"version {folder.name}"
    proto = _load_saved_model(folder)
    if proto is None:
        report.add(f"{label} SavedModel", False, f"no saved_model.pb in {folder}")
        return False
    meta_graph = _serving_meta_graph(proto)
    if meta_graph is None:
        tags = [list(mg.meta_info_def.tags) for mg in proto.meta_graphs]
        report.add(f"{label} SavedModel", False, f"no meta graph tagged 'serve' (TF Serving loads tag 'serve'; has {tags})")
        return False
    report.add(f"{label} SavedModel", True, f"{folder / 'saved_model.pb'}, tags {list(meta_graph.meta_info_def.tags)}")
    sig = meta_graph.signature_def.get(signature)
    if sig is None:
        names = sorted(n for n in meta_graph.signature_def if n != "__saved_model_init_op")
        report.add(f"{label} signature", False, f"no signature {signature!r} (has {names}): requests that name no "
                   "signature use serving_default; pass --signature NAME if your clients name another")
    else:
        inputs = ", ".join(f"{k} {_tensor_info(v)}" for k, v in sorted(sig.inputs.items()))
        outputs = ", ".join(f"{k} {_tensor_info(v)}" for k, v in sorted(sig.outputs.items()))
        report.add(f"{label} signature", True, f"{signature} ({sig.method_name}): inputs {inputs}; outputs {outputs}")
    check_ops(proto, report, label=label, serving_version=serving_version)
    check_warmup(folder, report, label=label,
                 signature_inputs={name: set(d.inputs) for name, d in meta_graph.signature_def.items()})
    return sig is not None


def check_ops(proto, report: Report, *, label: str, serving_version: str) -> None:
    try:
        known = serving_ops(serving_version)
    except FileNotFoundError as error:
        report.add(f"{label} ops", False, str(error))
        return
    used = graph_ops(proto)
    missing = sorted(op for op in used if op not in known)
    if missing:
        where = "; ".join(f"{op} (in {', '.join(sorted(used[op]))})" for op in missing)
        report.add(f"{label} ops", False, f"{len(missing)} op(s) not registered in TF Serving {serving_version}: {where}. "
                   "The server would fail to load it with \"Op type not registered\": export with the TensorFlow "
                   f"{serving_version} line, or serve with an image whose TensorFlow has these ops")
    else:
        report.add(f"{label} ops", True, f"all {len(used)} ops exist in TF Serving {serving_version}")


def check_warmup(folder: Path, report: Report, *, label: str, signature_inputs: dict[str, set[str]]) -> None:
    path = folder / WARMUP_FILE
    if not path.exists():
        return
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    problems, count = [], 0
    try:
        for count, record in enumerate(tf.data.TFRecordDataset(str(path)).as_numpy_iterator(), 1):
            log = prediction_log_pb2.PredictionLog()
            try:
                log.ParseFromString(record)
            except Exception as error:  # protobuf's DecodeError and friends
                problems.append(f"record {count} is not a PredictionLog ({error})")
                continue
            kind = log.WhichOneof("log_type")
            if kind not in WARMUP_KINDS:
                problems.append(f"record {count} is a {kind or 'empty'} log; warmup replays only {', '.join(WARMUP_KINDS)}")
            elif kind == "predict_log":
                request = log.predict_log.request
                name = request.model_spec.signature_name or "serving_default"
                given = set(request.inputs)
                if name not in signature_inputs:
                    problems.append(f"record {count} calls signature {name!r}, which the model does not have")
                elif given != signature_inputs[name]:
                    problems.append(f"record {count} feeds inputs {sorted(given)}, signature {name} takes {sorted(signature_inputs[name])}")
    except tf.errors.OpError as error:
        problems.append(f"not a readable TFRecord file: {error.message}")
    if count > MAX_WARMUP_RECORDS:
        problems.append(f"{count} records; the server refuses more than {MAX_WARMUP_RECORDS}")
    if problems:
        report.add(f"{label} warmup", False, f"{path}: " + "; ".join(problems[:5]))
    else:
        report.add(f"{label} warmup", True, f"{count} PredictionLog record(s) in {WARMUP_FILE}")


def check_predictions(folders: Sequence[Path], report: Report, *, signature: str, given_input: dict | None,
                      timeout: float, python: str = sys.executable) -> None:
    """One child process predicts every folder (TensorFlow imported once), killed after `timeout`."""
    if not folders:
        return
    command = [python, "-m", "tfserving_harness.rollout.predict", signature, json.dumps(given_input), *map(str, folders)]
    answers: dict[str, dict] = {}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        stdout, stderr = result.stdout, result.stderr
    except subprocess.TimeoutExpired as expired:
        stdout = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        stderr = f"no answer within {timeout:g}s (the prediction process was killed)"
    for line in stdout.splitlines():
        if line.startswith("{"):
            answer = json.loads(line)
            answers[answer["folder"]] = answer
    for folder in folders:
        label = f"version {folder.name}"
        answer = answers.get(str(folder))
        if answer is None:
            report.add(f"{label} prediction", False, stderr.strip()[-800:] or "the prediction process ended without an answer")
        elif "error" in answer:
            report.add(f"{label} prediction", False, f"on {answer.get('input')}: {answer['error']}")
        else:
            report.add(f"{label} prediction", True, f"input {answer['input']} -> {answer['output']}")


# ---- models.config from the chart vs the folders ----------------------------------------------


def local_base(path: Path, base_path: str) -> Path | None:
    """The local folder standing for a models.config base_path: PATH itself when it has the
    same last name (`./export/resnet` for `/models/resnet`), else PATH/<that name>."""
    name = PurePosixPath(base_path.rstrip("/")).name
    for candidate in (path, path / name):
        if candidate.name == name and candidate.is_dir():
            return candidate
    return None


def check_values(path: Path, values_file: str, report: Report) -> None:
    from .. import helm, tfs_config

    try:
        docs = helm.render_chart(values_files=[values_file], use_cache=False)
    except helm.RenderError as error:
        report.add("values", False, f"{values_file} does not render: {error.stderr.strip()[:500]}")
        return
    configs = [(d["metadata"]["name"], d["data"]["models.config"]) for d in docs
               if d.get("kind") == "ConfigMap" and "models.config" in (d.get("data") or {})]
    matched = False
    for configmap, text in configs:
        config = tfs_config.parse_model_server_config(text)
        for model in config.model_config_list.config:
            where = f"{configmap}: model {model.name}"
            local = local_base(path, model.base_path)
            if local is None:
                continue
            matched = True
            on_disk = {int(c.name) for c in local.iterdir() if c.is_dir() and c.name.isdigit()}
            policy = model.model_version_policy
            kind = policy.WhichOneof("policy_choice")
            wanted = set(policy.specific.versions) if kind == "specific" else set()
            problems = [f"version policy loads {sorted(wanted - on_disk)}, not in {local}"] if wanted - on_disk else []
            if kind == "latest" and policy.latest.num_versions > len(on_disk):
                problems.append(f"latest {{num_versions: {policy.latest.num_versions}}} but {local} has {len(on_disk)} version(s)")
            for label, version in sorted(model.version_labels.items()):
                if version not in on_disk:
                    problems.append(f"label {label} -> {version}, not a folder in {local}")
            detail = (f"base_path {model.base_path} = {local}, policy {kind or 'latest 1 (default)'}, "
                      f"labels {dict(model.version_labels) or 'none'}")
            report.add(f"models.config {where}", not problems, "; ".join(problems) if problems else detail)
    if not matched:
        bases = [m.base_path for _, t in configs for m in tfs_config.parse_model_server_config(t).model_config_list.config]
        report.add("models.config", False, f"no model in the rendered models.config has a base_path named like {path} "
                   f"(or a folder in it): base paths {sorted(set(bases))}")


def validate_model(path: str | Path, *, values_file: str | None = None, signature: str = "serving_default",
                   serving_version: str, given_input: dict | None = None, timeout: float = 300.0) -> Report:
    report = Report()
    base = Path(path)
    model_dirs = [base]
    if values_file and base.is_dir() and not any(c.is_dir() and c.name.isdigit() for c in base.iterdir()):
        # With --values, PATH may be the folder of model folders, as mounted at modelStorage.mountPath.
        model_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) or [base]
    for model_dir in model_dirs:
        predictable = [model_dir / str(v) for v in version_folders(model_dir, report)
                       if check_version(model_dir / str(v), report, signature=signature, serving_version=serving_version)]
        check_predictions(predictable, report, signature=signature, given_input=given_input, timeout=timeout)
    if values_file:
        check_values(base, values_file, report)
    return report


def finite(value: Any) -> bool:
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def _json_ready(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def sample_inputs_for(structured: Sequence[Any]) -> dict:
    from .smoke import sample_tensor

    _, kwargs = structured
    return {name: sample_tensor(spec.dtype.name, spec.shape.as_list() if spec.shape.rank is not None else [])
            for name, spec in kwargs.items()}
