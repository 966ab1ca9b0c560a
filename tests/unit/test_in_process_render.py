"""The in-process Helm 4 render skips Helm's per-render compile of values.schema.json: the schema is
compiled once with jsonschema-rs, values it accepts render on a copy of the chart without the schema,
and values it refuses are validated by Helm 4 itself, a folder of values files in one call
(helm._SdkChart). That is only sound while jsonschema-rs accepts nothing Helm 4 refuses: held here on
the defaults, every ci/ scenario, the bad-values corpus, and every pattern of the schema against every
string those values hold (with the endings where ECMA-262, Python and Go regular expressions part
ways); and a refusal answered from its folder's call must read as Helm 4's own validation of it."""

from __future__ import annotations

import gc
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from tfserving_harness import helm, yamlio
from tfserving_harness.paths import chart_dir, ci_values_files

jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="installed by `make setup`")
sdk = pytest.importorskip("helm_python", reason="helm-python-sdk (Helm 4) is installed by `make setup`")

CORPUS = [chart_dir() / "values.yaml", *ci_values_files(), *sorted((Path(__file__).parent / "bad_values").glob("*.yaml"))]
# Where regular expression dialects part ways: `$` before a final newline (Python), `\w` and `\d` on
# non-ASCII letters and digits, `\s` on Unicode spaces (ECMA-262 and Python), `.` on line breaks.
ENDINGS = ("\n", "\r", "é", "\u0661", "\u00a0", "\u2028", "\v")


def _schema() -> dict:
    return json.loads((chart_dir() / "values.schema.json").read_text())


def helm4_refusals(schema: dict, cases: dict[str, Any]) -> set[str]:
    """The value paths Helm 4's validator refuses in `cases` under any `schema` (`p3.17`: item 17 of p3)."""
    with tempfile.TemporaryDirectory(prefix="tfs-precheck-") as scratch:
        chart = Path(scratch, "precheck")
        chart.mkdir()
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: precheck\nversion: 0.1.0\n")
        (chart / "values.schema.json").write_text(json.dumps(schema))
        loaded = sdk.Chart.load(str(chart))
    try:
        sdk._native.call_status("helm_schema_validate", loaded._raw(), json.dumps(cases))
    except sdk.errors.HelmError as error:
        return {violation.path for violation in helm.schema_violations(str(error))}
    finally:
        loaded.close()
    return set()


def words(text: str) -> list:
    """A refusal's lines with their quoted words sorted: Helm 4 orders both as it likes."""
    return sorted((re.sub(r"'[^']*'", "''", line), sorted(re.findall(r"'[^']*'", line))) for line in text.splitlines())


def test_helm4_refuses_nothing_the_precheck_accepts_in_the_corpus():
    loaded = helm._sdk_charts.get(chart_dir())
    given = {path.name: yamlio.load(path.read_text()) or {} for path in CORPUS}
    precheck = jsonschema_rs.validator_for(_schema())
    accepted = {name for name, values in given.items() if precheck.is_valid(loaded.effective_values(json.dumps(values)))}
    refused_by_helm4 = {name for name, refusal in loaded.helm4_verdicts(given).items() if refusal}
    assert len(refused_by_helm4) >= 50, "the bad-values corpus breaks the schema in many ways; Helm 4 refused too few to be checking"
    wrongly_accepted = sorted(refused_by_helm4 & accepted)
    assert not wrongly_accepted, f"Helm 4 refuses values that jsonschema-rs accepts, so in-process renders would pass them: {wrongly_accepted}"


def test_a_refusal_answered_from_its_folder_reads_as_helm4_validating_it_alone():
    """helm4_verdicts asks about a whole folder of values files in one call; each answer must be
    what Helm 4 writes for that file alone (a sample of the corpus, every tenth file)."""
    loaded = helm._sdk_charts.get(chart_dir())
    sample = sorted((Path(__file__).parent / "bad_values").glob("*.yaml"))[::10]
    given = {path.name: yamlio.load(path.read_text()) or {} for path in sample}
    together = loaded.helm4_verdicts(given)
    alone = {name: loaded.helm4_verdicts({name: values})[name] for name, values in given.items()}
    assert sum(refusal is not None for refusal in alone.values()) >= 5, "too few schema refusals in the sample to be checking"
    assert {name: refusal and words(refusal) for name, refusal in together.items()} == {name: refusal and words(refusal) for name, refusal in alone.items()}


def test_a_refusal_of_several_violations_asked_with_others_reads_as_asked_alone():
    """Values asked about together (a folder, or the sets a test run announced: expect_values) whose
    refusal has several lines: together they hang under one node of the case, alone they do not."""
    loaded = helm._sdk_charts.get(chart_dir())
    given = {
        "two at the root": {"replicaCount": "x", "image": {"tag": 5}},
        "two in one model": {"models": [{"name": "m", "basePath": "/m", "platfrom": "tf", "x": 1}]},
        "one": {"tracks": {"stable": {"replicaCount": "x"}}},
        "none": {"replicaCount": 2},
    }
    together = loaded.helm4_verdicts(given)
    alone = {name: loaded.helm4_verdicts({name: values})[name] for name, values in given.items()}
    assert len(alone["two at the root"].splitlines()) == 4, "the case is meant to have two violations"
    assert {name: refusal and words(refusal) for name, refusal in together.items()} == {name: refusal and words(refusal) for name, refusal in alone.items()}


def _patterns(node: Any, in_properties: bool = False) -> Iterator[str]:
    """Every `pattern` and `patternProperties` key of the schema (not properties named so)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not in_properties and key == "pattern" and isinstance(value, str):
                yield value
            if not in_properties and key == "patternProperties":
                yield from value
            yield from _patterns(value, in_properties=key in ("properties", "patternProperties", "definitions", "$defs") and not in_properties)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def _strings(node: Any) -> Iterator[str]:
    """Every key and string value in a values document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def test_every_pattern_helm4_matches_whatever_the_precheck_matches():
    schema = _schema()
    patterns = sorted(set(_patterns(schema)))
    assert len(patterns) >= 20, "the schema's patterns were not found"
    corpus = {text for path in CORPUS for text in _strings(yamlio.load(path.read_text()))}
    # One array per pattern, of the strings jsonschema-rs lets through (and of them with each ending).
    case_schemas: dict[str, dict] = {}
    cases: dict[str, list[str]] = {}
    for index, pattern in enumerate(patterns):
        pattern_schema = {"type": "string", "pattern": pattern}
        precheck = jsonschema_rs.validator_for({"$schema": schema["$schema"], **pattern_schema})
        matched = {text for text in corpus if precheck.is_valid(text)}
        matched |= {text + ending for text in matched for ending in ENDINGS if precheck.is_valid(text + ending)}
        case_schemas[f"p{index}"], cases[f"p{index}"] = {"type": "array", "items": pattern_schema}, sorted(matched)
    assert sum(map(len, cases.values())) >= 500, "too few corpus strings match the schema's patterns to be checking them"
    refused = helm4_refusals({"$schema": schema["$schema"], "type": "object", "properties": case_schemas}, cases)
    mismatches = [path.split(".") for path in sorted(helm.deepest_paths([helm.SchemaViolation(path, "", "") for path in refused]))]
    assert not refused, "jsonschema-rs matches strings that Helm 4 does not:\n" + "\n".join(
        f"  {patterns[int(case[0][1:])]!r} ~ {cases[case[0]][int(case[1])]!r}" if len(case) > 1 else f"  {case[0]}" for case in mismatches)


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": "x", "image": {"tag": 5}},
        {"models": [{"name": "m", "basePath": "/m", "platfrom": "tf", "x": 1}]},
        {"tracks": {"stable": {"replicaCount": "x"}}},
    ],
    ids=lambda values: str(values)[:40],
)
def test_a_schema_refusal_reads_as_a_helm4_render_writes_it(values):
    """Refused without a render (helm_schema_validate), in a render's words (`words`)."""
    with pytest.raises(helm.RenderError) as refused:
        helm.render_chart(values, use_cache=False)
    loaded = helm._sdk_charts.get(chart_dir())
    options = json.dumps({"name": helm.DEFAULT_RELEASE, "namespace": helm.DEFAULT_NAMESPACE, "kube_version": helm.NEWEST_KUBE_VERSION, "api_versions": []})
    with pytest.raises(sdk.errors.HelmError) as rendered:
        sdk._native.call_string("helm_render", loaded.chart._raw(), json.dumps(values), options)
    assert refused.value.stderr.startswith(helm.HELM4_SCHEMA_REFUSAL) and str(rendered.value).startswith(helm.HELM4_SCHEMA_REFUSAL)
    assert words(refused.value.stderr) == words(str(rendered.value))


def test_values_the_schema_accepts_render_on_the_chart_without_it():
    loaded = helm._sdk_charts.get(chart_dir())
    assert loaded.chart.schema is not None and loaded.unchecked.schema is None
    assert loaded.for_values(json.dumps({"replicaCount": 3}), []) is loaded.unchecked
    # What the copy leaves out is only the schema: same templates, same files.
    assert sorted(t["name"] for t in loaded.unchecked.templates) == sorted(t["name"] for t in loaded.chart.templates)
    assert sorted(f["name"] for f in loaded.unchecked.files) == sorted(f["name"] for f in loaded.chart.files)


def test_xdist_workers_render_with_the_lighter_go_collector():
    """tests/conftest.py sets GOGC before xdist starts the workers, whose in-process Go reads it once."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("checks an xdist worker: `pytest` runs them by default (pyproject addopts: -n auto); this run has -n 0")
    assert os.environ.get("GOGC"), "the workers' Helm 4 runs with Go's default collector: tests/conftest.py sets GOGC too late or not at all"


def test_the_collector_walks_the_render_caches_rarely(pytestconfig):
    """tests/conftest.py: Python's collector thresholds raised, and what collection built frozen."""
    (conftest,) = [plugin for plugin in pytestconfig.pluginmanager.get_plugins() if hasattr(plugin, "GC_THRESHOLDS")]
    assert gc.get_threshold() == conftest.GC_THRESHOLDS
    assert gc.get_freeze_count() > 10_000, "tests/conftest.py's pytest_collection_finish froze nothing"


def test_the_run_announces_the_values_its_tests_are_parametrized_with(request):
    """tests/conftest.py hands them to helm.expect_values (whatever this run collected)."""
    parametrized = [item.callspec.params["values"] for item in request.session.items if "values" in getattr(getattr(item, "callspec", None), "params", {})]
    assert parametrized, "this run collected no test parametrized with values (this test's own module has some)"
    assert [v for v in parametrized if isinstance(v, dict) and json.dumps(v, sort_keys=True) not in helm._expected_values] == []


def test_the_first_refusal_among_announced_values_asks_helm4_about_all_of_them(monkeypatch):
    announced = [{"replicaCount": "one"}, {"replicaCount": "two", "image": {"tag": 3}}, {"replicaCount": 2}]
    monkeypatch.setattr(helm, "_expected_values", {})
    helm.expect_values([*announced, {"bad": float("nan")}, "not a values set"])
    assert len(helm._expected_values) == 3
    loaded = helm._SdkChart(chart_dir())
    asked = []
    monkeypatch.setattr(loaded, "helm4_verdicts", lambda cases: asked.append(sorted(cases)) or helm._SdkChart.helm4_verdicts(loaded, cases))
    monkeypatch.setattr(loaded, "_helm4_verdict", lambda given: pytest.fail(f"asked Helm 4 about {given} alone"))
    try:
        for values in announced[:2]:
            with pytest.raises(helm.RenderError, match="replicaCount"):
                loaded.for_values(json.dumps(values), [])
        assert loaded.for_values(json.dumps(announced[2]), []) is loaded.unchecked
    finally:
        loaded.close()
    assert asked == [sorted(json.dumps(v, sort_keys=True) for v in announced[:2])]
