"""The chart's PrometheusRule evaluated by Prometheus' own rule engine: `promtool check rules` and
`promtool test rules` (Debian's `prometheus` package ships promtool; `.ci/run` installs it).

prometheus-operator writes a PrometheusRule's `spec.groups` unchanged into the rules file it mounts
into Prometheus, so `{groups: spec.groups}` is exactly what Prometheus evaluates.

A `RuleTest` is one promtool test group: input series, in promtool's expanding notation
(`0+60x30` is 0, 60, 120, ... 31 samples one `interval` apart; `_` is a missing sample), and
expectations at evaluation times: the alerts *firing* then, with their labels and annotations
exactly (a pending alert is not firing), or the samples an expression returns. promtool evaluates
the rule groups every minute from 0 up to the last time asked about, in the file's order, so the
alerts read what the recording rules wrote at the same step. (Prometheus runs each group on its own
timer, so there an alert on a recorded series may start one evaluation later.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from . import promql, yamlio
from .frozen import thaw

INSTALL_HINT = "install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`), as .ci/run does"

#: promtool's evaluation step, and the step of every input series (promtool's default is also 1m).
MINUTE = 60

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def seconds(duration: str) -> float:
    """A Prometheus duration (`1h30m`, `90s`, `0m`) in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def find_promtool() -> str | None:
    return shutil.which("promtool")


class PromtoolError(RuntimeError):
    """promtool could not run, or refused the files it was given (the message holds its output)."""


def _promtool(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    binary = find_promtool()
    if binary is None:
        raise PromtoolError(f"promtool not found on PATH: {INSTALL_HINT}")
    # GOGC=off: a run lives ~0.2 s and peaks near 150 MB; Go's collector was a sixth of its CPU.
    env = {**os.environ, "GOGC": "off"}
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def rules_file(prometheus_rule: Mapping) -> dict:
    """The Prometheus rules file a PrometheusRule becomes."""
    return {"groups": thaw(prometheus_rule["spec"]["groups"])}


def check_rules(prometheus_rule: Mapping) -> str:
    """`promtool check rules` on the rule file; its report, or PromtoolError with it."""
    with tempfile.TemporaryDirectory(prefix="tfs-promtool-") as folder:
        Path(folder, "rules.yaml").write_text(yamlio.dump(rules_file(prometheus_rule), sort_keys=False))
        result = _promtool(["check", "rules", "rules.yaml"], Path(folder))
    if result.returncode != 0:
        raise PromtoolError(f"promtool check rules refused {prometheus_rule['metadata']['name']}:\n{result.stdout}{result.stderr}")
    return result.stdout


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(name: str, labels: Mapping[str, str]) -> str:
    """`name{label="value",...}`: how promtool names an input series or an expected sample."""
    return name + "{" + ",".join(f"{key}={_quote(str(value))}" for key, value in labels.items()) + "}"


@dataclass(frozen=True)
class Series:
    """One input series: its metric name, all its labels, and its values (promtool's notation)."""

    name: str
    labels: Mapping[str, str]
    values: str

    def promtool(self) -> dict:
        return {"series": selector(self.name, self.labels), "values": self.values}


@dataclass(frozen=True)
class Alert:
    """A firing alert as promtool reports it: every label (the rule's and the expression's, without
    `alertname`) and every annotation, templates expanded."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class AlertsAt:
    """Exactly these alerts of `alertname` fire at `at` seconds (none: it is silent then)."""

    alertname: str
    at: float
    firing: tuple[Alert, ...]

    def promtool(self) -> dict:
        return {
            "eval_time": f"{self.at:g}s",
            "alertname": self.alertname,
            "exp_alerts": [{"exp_labels": dict(a.labels), "exp_annotations": dict(a.annotations)} for a in self.firing],
        }


@dataclass(frozen=True)
class SamplesAt:
    """`expr` returns exactly these samples at `at` seconds: (metric name or "", labels) -> value."""

    expr: str
    at: float
    samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]

    def promtool(self) -> dict:
        return {
            "expr": self.expr,
            "eval_time": f"{self.at:g}s",
            "exp_samples": [{"labels": selector(name, dict(labels)), "value": value} for (name, labels), value in self.samples.items()],
        }


def fires(alertname: str, at: float, *alerts: Alert) -> AlertsAt:
    return AlertsAt(alertname, at, alerts)


def silent(alertname: str, at: float) -> AlertsAt:
    return AlertsAt(alertname, at, ())


def returns(expr: str, at: float, samples: Sequence[tuple[str, Mapping[str, str], float]]) -> SamplesAt:
    """`returns(expr, at, [(name, labels, value), ...])`; an empty list: `expr` returns nothing."""
    return SamplesAt(expr, at, {(name, tuple(labels.items())): value for name, labels, value in samples})


@dataclass(frozen=True)
class RuleTest:
    """One promtool test group: a title saying what it shows, its input series, its expectations."""

    title: str
    series: tuple[Series, ...]
    expect: tuple[AlertsAt | SamplesAt, ...]
    interval: float = MINUTE

    def promtool(self) -> dict:
        return {
            "interval": f"{self.interval:g}s",
            "input_series": [s.promtool() for s in self.series],
            "alert_rule_test": [e.promtool() for e in self.expect if isinstance(e, AlertsAt)],
            "promql_expr_test": [e.promtool() for e in self.expect if isinstance(e, SamplesAt)],
        }


@dataclass(frozen=True)
class Failure:
    test: RuleTest
    report: str

    def __str__(self) -> str:
        return f"--- {self.test.title}\n{self.report.strip()}"


def rules_read(rules: Mapping, test: RuleTest) -> dict:
    """The part of a rules file `test` reads: the alerting rules whose alerts it expects, and the
    recording rules whose series those rules or its expressions select, directly or through other
    recording rules; groups and rules in their order. promtool evaluates every rule of its file at
    every step of every test, and a rule's result depends only on the series it selects, so the
    others change nothing the test is shown, and cost most of its evaluation. The whole file when
    an expression selects what no name says (no metric name, or `ALERTS`, which every alerting rule
    writes) or does not parse (promtool's own error says why)."""
    alertnames = {e.alertname for e in test.expect if isinstance(e, AlertsAt)}
    everything = [rule for group in rules["groups"] for rule in group["rules"]]
    recorders: dict[str, list[Mapping]] = {}
    for rule in everything:
        if "record" in rule:
            recorders.setdefault(rule["record"], []).append(rule)
    kept = [rule for rule in everything if rule.get("alert") in alertnames]
    pending = [str(rule["expr"]) for rule in kept] + [e.expr for e in test.expect if isinstance(e, SamplesAt)]
    while pending:
        try:
            names = {selector.name for selector in promql.selectors(pending.pop())}
        except promql.PromQLError:
            return rules
        if None in names or names & {"ALERTS", "ALERTS_FOR_STATE"}:
            return rules
        for name in names:
            for rule in recorders.pop(name, ()):
                kept.append(rule)
                pending.append(str(rule["expr"]))
    kept_ids = {id(rule) for rule in kept}
    groups = [{**group, "rules": [rule for rule in group["rules"] if id(rule) in kept_ids]} for group in rules["groups"]]
    return {"groups": [group for group in groups if group["rules"]]}


def _write(folder: Path, rules: Mapping, tests: Sequence[RuleTest]) -> list[str]:
    """One rules file per distinct part of `rules` the tests read (rules_read) and its test file;
    the test files' names, for one `promtool test rules` run."""
    by_rules: dict[str, list[RuleTest]] = {}
    for test in tests:
        by_rules.setdefault(yamlio.dump(rules_read(rules, test), sort_keys=False, width=1000), []).append(test)
    names = []
    for index, (rules_text, group) in enumerate(by_rules.items()):
        Path(folder, f"rules-{index}.yaml").write_text(rules_text)
        part = yamlio.load(rules_text)
        # Without group_eval_order promtool evaluates the groups in a random order at each step; with it,
        # a group reads what the groups before it recorded at the same step.
        document = {"rule_files": [f"rules-{index}.yaml"], "evaluation_interval": f"{MINUTE}s",
                    "group_eval_order": [g["name"] for g in part["groups"]], "tests": [t.promtool() for t in group]}
        Path(folder, f"tests-{index}.yaml").write_text(yamlio.dump(document, sort_keys=False, width=1000))
        names.append(f"tests-{index}.yaml")
    return names


def run(prometheus_rule: Mapping, tests: Sequence[RuleTest]) -> list[Failure]:
    """Run `tests` against the PrometheusRule with `promtool test rules`, each against the rules it
    reads (rules_read): one run for all of them, and when that fails one run per test, so each
    failure carries its test and promtool's report (expected and got). PromtoolError, with
    promtool's reason, when it cannot load the rules or a test."""
    rules = rules_file(prometheus_rule)
    with tempfile.TemporaryDirectory(prefix="tfs-promtool-") as directory:
        folder = Path(directory)
        if _promtool(["test", "rules", *_write(folder, rules, tests)], folder).returncode == 0:
            return []
        failures = []
        for index, test in enumerate(tests):
            alone = Path(folder, f"alone-{index}")
            alone.mkdir()
            result = _promtool(["test", "rules", *_write(alone, rules, [test])], alone)
            report = result.stdout + result.stderr
            if result.returncode != 0 and re.search(r"^rules-\d+\.yaml:", report, flags=re.M):  # a load error, the same for every test
                raise PromtoolError(f"promtool could not evaluate {prometheus_rule['metadata']['name']}:\n{report}")
            if result.returncode != 0:
                failures.append(Failure(test, report))
    if not failures:
        raise PromtoolError("promtool failed on the tests together but passed each alone; run them together by hand to see why")
    return failures
