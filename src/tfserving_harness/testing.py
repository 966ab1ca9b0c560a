"""Assertions shared by the test tiers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from . import checks, helm
from .paths import chart_dir, ci_values_files

#: Renders already checked against the schemas, by id (the entry keeps the documents alive, so the
#: id is never reused): a cache hit costs a dict lookup, not another pass over its objects.
_checked: dict[tuple[int, str], tuple] = {}


def render(values: dict | None = None, *, validate: bool = True, **kwargs) -> tuple:
    """The tests' one way to render (the `render` fixture): helm.render_chart (cached, frozen), then
    every object against the strict Kubernetes schemas and the closed CRD schemas for the render's
    Kubernetes version. values.schema.json is checked by the renderer itself on every render (Helm 3
    and Helm 4 alike), so values it refuses raise helm.RenderError before any object exists.
    `validate=False` returns the documents unchecked, for a test about what the schemas report."""
    docs = helm.render_chart(values, **kwargs)
    kube_version = kwargs.get("kube_version", helm.NEWEST_KUBE_VERSION)
    if validate and (id(docs), kube_version) not in _checked:
        problems = checks.schema_problems(docs, kube_version)
        assert not problems, (
            f"{len(problems)} schema problem(s) in the render of values={values} {kwargs} "
            "(render(..., validate=False) returns the documents unchecked):\n" + "\n".join(map(str, problems))
        )
        _checked[(id(docs), kube_version)] = docs
    return docs


def scenario_file(name: str | Path) -> Path:
    """charts/tf-serving/ci/<name>-values.yaml; a path (a `ci_scenarios()` param) is taken as it is."""
    if isinstance(name, Path):
        return name
    path = chart_dir() / "ci" / f"{name}-values.yaml"
    if not path.is_file():
        known = [p.name.removesuffix("-values.yaml") for p in ci_values_files()]
        raise LookupError(f"no ci/ scenario {name!r} ({path}); the chart has: {', '.join(known)}")
    return path


def scenario(name: str | Path, values: dict | None = None, **kwargs) -> tuple:
    """A ci/ scenario rendered like `render` (the `scenario` fixture), with optional values on top."""
    return render(values, values_files=[scenario_file(name), *kwargs.pop("values_files", ())], **kwargs)


def assert_no_problems(docs: Sequence[Mapping], kube_version: str = helm.NEWEST_KUBE_VERSION, **kwargs) -> None:
    """Fail with every problem listed (object, field, message), not just the first."""
    problems = checks.check_documents(docs, kube_version, **kwargs)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(str(p) for p in problems)


def render_error(values: dict | None = None, **kwargs) -> str:
    """helm's stderr for values the chart must refuse; fails the test when the chart renders them."""
    try:
        helm.render_chart(values, **kwargs)
    except helm.RenderError as error:
        return error.stderr
    raise AssertionError(f"the chart rendered values it should refuse: {values}")


@dataclass(frozen=True)
class SchemaAt:
    """A schema violation expected at `path` (or below it), optionally of one JSON Schema keyword."""

    path: str
    rule: str | None = None

    def found_in(self, violations) -> bool:
        return any(
            (v.path == self.path or v.path.startswith(self.path + ".")) and self.rule in (None, v.rule) for v in violations
        )


def at(path: str, rule: str | None = None) -> SchemaAt:
    """`assert_refused(values, at("server.grpcPort", "type"))`: refused by values.schema.json there."""
    return SchemaAt(path, rule)


def assert_refused(values: dict | None, expected: str | SchemaAt, **kwargs) -> None:
    """The chart refuses `values`: `expected` is the chart's own `fail` message (a substring), or
    `at(path[, rule])` for a schema violation. Both hold under Helm 3 and Helm 4, whose wording of
    schema errors differs (helm.schema_violations reads either)."""
    stderr = render_error(values, **kwargs)
    if isinstance(expected, SchemaAt):
        violations = helm.schema_violations(stderr)
        found = sorted({(v.path, v.rule) for v in violations})
        assert expected.found_in(violations), f"expected a schema violation {expected}, found {found}:\n{stderr}"
    else:
        assert expected in helm.chart_message(stderr), stderr


def renderers() -> list:
    """helm.RENDERERS as pytest params: the helm 3.17 binary's marked `helm3`, so `-m helm3` runs
    the reference renderer's half alone (`make test-helm3`) and `-m "not helm3"` leaves it out."""
    import pytest

    return [pytest.param(r, id=r, marks=[pytest.mark.helm3] if r == "binary" else []) for r in helm.RENDERERS]


def ci_scenarios() -> list:
    """The chart's ci/*-values.yaml as pytest params, named without the suffix."""
    import pytest

    return [pytest.param(path, id=path.name.removesuffix("-values.yaml")) for path in ci_values_files()]


def scenario_directives(values_file) -> dict[str, str]:
    """`# key: value` lines of a ci/ scenario's leading comment block that the tests act on:
    `min-kube-version: 1.31.0` (the scenario renders only from that version on; below it the
    chart must fail with a message), `pod-security-exception: <why>` (the scenario cannot meet
    the `restricted` Pod Security Standard, and says why) and `needs: Kind/name, ...` (objects the
    scenario expects to exist in the cluster; the cluster tier creates them, see
    `tfserving_harness.cluster.scenario_prerequisites`)."""
    from pathlib import Path

    directives: dict[str, str] = {}
    for line in Path(values_file).read_text().splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("# ").partition(":")
        if sep and key in ("min-kube-version", "pod-security-exception", "needs"):
            directives[key] = value.strip()
    return directives


def kube_version_tuple(version: str) -> tuple[int, int, int]:
    """`v1.31.2-gke.100`, `1.29.14+k3s1`, `1.37.0` -> (major, minor, patch), for comparisons."""
    import re

    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return int(match[1]), int(match[2]), int(match[3] or 0)
