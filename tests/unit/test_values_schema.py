"""values.schema.json is strict: typos, wrong types and out-of-range numbers fail with the value path;
_validate.tpl catches what a schema cannot express."""

from __future__ import annotations

import json

import pytest

from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import render_error


@pytest.mark.parametrize(
    ("values", "path", "message"),
    [
        ({"replicaCont": 2}, "(root)", "Additional property replicaCont is not allowed"),
        ({"image": {"tags": "2.19.1"}}, "image", "Additional property tags is not allowed"),
        ({"server": {"grpcPort": "8500"}}, "server.grpcPort", "Invalid type. Expected: integer, given: string"),
        ({"server": {"restPort": 70000}}, "server.restPort", "Must be less than or equal to 65535"),
        ({"replicaCount": -1}, "replicaCount", "Must be greater than or equal to 0"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy", "must be one of the following"),
        ({"image": {"digest": "abc"}}, "image.digest", "Does not match pattern"),
        ({"models": []}, "models", "Array must have at least 1 items"),
        ({"models": [{"name": "m"}]}, "models.0", "basePath is required"),
        ({"models": [{"name": "m", "basePath": "models/m"}]}, "models.0.basePath", "Does not match pattern"),
        ({"models": [{"name": "m", "basePath": "/m", "platfrom": "tensorflow"}]}, "models.0", "Additional property platfrom is not allowed"),
        ({"service": {"type": "Ingress"}}, "service.type", "must be one of the following"),
        ({"server": {"extraArgs": ["enable_batching"]}}, "server.extraArgs.0", "Does not match pattern"),
        ({"commonLabels": {"app.kubernetes.io/name": "x"}}, "commonLabels", "Must not validate the schema"),
        ({"podLabels": {"team": 5}}, "podLabels.team", "Invalid type. Expected: string, given: integer"),
    ],
)
def test_schema_rejects_bad_values_naming_the_path(values, path, message):
    stderr = render_error(values)
    assert f"- {path}: " in stderr and message in stderr, stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"models": [{"name": "a", "basePath": "/a"}, {"name": "a", "basePath": "/b"}]},
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
