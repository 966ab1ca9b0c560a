"""values.schema.json is strict: typos, wrong types and out-of-range numbers fail with the value path;
_validate.tpl catches what a schema cannot express."""

from __future__ import annotations

import json

import pytest

from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_refused, at, render_error


@pytest.mark.parametrize(
    ("values", "path", "rule"),
    [
        ({"replicaCont": 2}, "replicaCont", "additionalProperties"),
        ({"image": {"tags": "2.19.1"}}, "image.tags", "additionalProperties"),
        ({"server": {"grpcPort": "8500"}}, "server.grpcPort", "type"),
        ({"server": {"restPort": 70000}}, "server.restPort", "maximum"),
        ({"replicaCount": -1}, "replicaCount", "minimum"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy", "enum"),
        ({"image": {"digest": "abc"}}, "image.digest", "pattern"),
        ({"models": []}, "models", "minItems"),
        ({"models": [{"name": "m"}]}, "models.0.basePath", "required"),
        ({"models": [{"name": "m", "basePath": "models/m"}]}, "models.0.basePath", "pattern"),
        ({"models": [{"name": "m", "basePath": "/m", "platfrom": "tensorflow"}]}, "models.0.platfrom", "additionalProperties"),
        ({"models": [{"name": "m", "basePath": "/m", "versionLabels": {"ca-nary": 1}}]}, "models.0.versionLabels.ca-nary", "additionalProperties"),
        ({"service": {"type": "Ingress"}}, "service.type", "enum"),
        ({"server": {"extraArgs": ["enable_batching"]}}, "server.extraArgs.0", "pattern"),
        ({"server": {"grpcChannelArguments": {"max_connection_age_ms": 1}}}, "server.grpcChannelArguments.max_connection_age_ms", "additionalProperties"),
        ({"commonLabels": {"app.kubernetes.io/name": "x"}}, "commonLabels.app.kubernetes.io/name", "not"),
        ({"podLabels": {"team": 5}}, "podLabels.team", "type"),
        ({"podLabels": {"bad key": "x"}}, "podLabels.bad key", "additionalProperties"),
        ({"tracks": {"Stable": {}}}, "tracks.Stable", "additionalProperties"),
        ({"tracks": {"metrics": {}}}, "tracks.metrics", "not"),
        ({"monitoring": {"prometheusRule": {"alertLabels": {"severity": "page"}}}}, "monitoring.prometheusRule.alertLabels.severity", "not"),
    ],
)
def test_schema_rejects_bad_values_naming_the_path(values, path, rule):
    """Asserted as (value path, JSON Schema keyword), which both Helm 3 and Helm 4 report."""
    assert_refused(values, at(path, rule))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"models": [{"name": "a", "basePath": "/a"}, {"name": "a", "basePath": "/b"}], "modelStorage": {"source": "none"}},
            'models[1].name "a" is already used by models[0]',
        ),
        ({"server": {"grpcPort": 9000, "restPort": 9000}}, "server.grpcPort and server.restPort are both 9000"),
    ],
)
def test_cross_field_checks_name_the_value_path(values, message):
    assert message in render_error(values)


def _objects(schema, path="(root)"):
    """Every object schema the chart owns (has `properties`), with its path."""
    if isinstance(schema, dict):
        if "properties" in schema and schema.get("type") == "object":
            yield path, schema
        for key, value in schema.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _objects(value, f"{path}[{index}]")


def test_every_object_the_chart_owns_is_closed():
    schema = json.loads((chart_dir() / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    open_objects = [path for path, obj in _objects(schema) if obj.get("additionalProperties") is not False]
    assert open_objects == []
