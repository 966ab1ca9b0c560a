"""models[]: models.config as TF Serving parses it, version policies, version labels and their checks."""

from __future__ import annotations

import pytest

from tfserving_harness import tfs_config
from tfserving_harness.manifests import one, server_container, server_flags
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import assert_no_problems, assert_refused, at, render_error
from tfserving_harness.values import effective_values

LABELS_SCENARIO = chart_dir() / "ci" / "multi-model-labels-values.yaml"
ALLOW_LABELS = {"allowVersionLabelsForUnavailableModels": True}
#: Models of one's own come from model storage (here: none, in the image); the default demo serves only its own.
NO_STORAGE = {"modelStorage": {"source": "none"}}


def models_config(docs, configmap: str = "tfs-tf-serving-config"):
    return tfs_config.parse_model_server_config(one(docs, "ConfigMap", configmap)["data"]["models.config"])


def test_default_model_has_no_policy_nor_labels(default_docs):
    """Without versionPolicy TF Serving's own default applies (the latest version only)."""
    (model,) = models_config(default_docs).model_config_list.config
    assert not model.HasField("model_version_policy")
    assert dict(model.version_labels) == {}
    assert "allow_version_labels_for_unavailable_models" not in server_flags(server_container(one(default_docs, "Deployment")))


def test_scenario_models_config_says_what_the_values_say(scenario):
    """Every model, policy and label of the multi-model scenario arrives in the parsed ModelServerConfig."""
    docs = scenario(LABELS_SCENARIO)
    values = effective_values([LABELS_SCENARIO])
    parsed = {m.name: m for m in models_config(docs).model_config_list.config}
    assert list(parsed) == [m["name"] for m in values["models"]]
    for model in values["models"]:
        config = parsed[model["name"]]
        assert config.base_path == model["basePath"]
        assert config.model_platform == "tensorflow"
        (kind,) = model["versionPolicy"]
        assert config.model_version_policy.WhichOneof("policy_choice") == kind, model["name"]
        assert dict(config.version_labels) == model.get("versionLabels", {}), model["name"]
    assert list(parsed["resnet"].model_version_policy.specific.versions) == [3, 4]
    assert parsed["text_classifier"].model_version_policy.latest.num_versions == 2
    assert server_flags(server_container(one(docs, "Deployment")))["allow_version_labels_for_unavailable_models"] == "true"
    assert_no_problems(docs)


def test_labels_without_the_unavailable_models_flag_fail(render):
    """A starting server applies labels before any version is loaded; without the flag it exits."""
    message = render_error({**NO_STORAGE, "models": [{"name": "m", "basePath": "/models/m", "versionLabels": {"stable": 1}}]})
    assert "tf-serving: models[0].versionLabels needs server.allowVersionLabelsForUnavailableModels=true" in message


def test_label_outside_a_specific_policy_fails_naming_the_label(render):
    values = {
        **NO_STORAGE,
        "server": ALLOW_LABELS,
        "models": [
            {"name": "a", "basePath": "/models/a"},
            {"name": "b", "basePath": "/models/b", "versionPolicy": {"specific": {"versions": [3, 4]}}, "versionLabels": {"stable": 3, "canary": 5}},
        ],
    }
    message = render_error(values)
    assert "tf-serving: models[1].versionLabels.canary points at version 5" in message
    assert "models[1].versionPolicy.specific.versions [3 4]" in message


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({}, "tf-serving: models[0].versionLabels point at 2 different versions [4 3], but TF Serving's default policy (no versionPolicy) keeps only the latest 1"),
        ({"versionPolicy": {"latest": {"numVersions": 1}}}, "but models[0].versionPolicy keeps only the latest 1"),
    ],
    ids=["default-policy", "latest-1"],
)
def test_more_labelled_versions_than_a_latest_policy_keeps_fail(render, policy, expected):
    model = {"name": "m", "basePath": "/models/m", "versionLabels": {"canary": 4, "stable": 3}, **policy}
    assert expected in render_error({**NO_STORAGE, "server": ALLOW_LABELS, "models": [model]})


def test_labels_sharing_a_version_fit_a_latest_policy(render):
    docs = render({**NO_STORAGE, "server": ALLOW_LABELS, "models": [{"name": "m", "basePath": "/models/m", "versionLabels": {"stable": 3, "default": 3}}]})
    (model,) = models_config(docs).model_config_list.config
    assert dict(model.version_labels) == {"stable": 3, "default": 3}


def test_track_models_are_checked_under_the_track_path(render):
    """A track that overrides models gets the same checks, and the message names the track's value path."""
    bad = [{"name": "m", "basePath": "/models/m", "versionPolicy": {"specific": {"versions": [2]}}, "versionLabels": {"canary": 3}}]
    message = render_error({**NO_STORAGE, "server": ALLOW_LABELS, "tracks": {"stable": {}, "canary": {"models": bad}}})
    assert "tf-serving: tracks.canary.models[0].versionLabels.canary points at version 3" in message


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ({"versionLabels": {"not-a-label": 1}}, "models.0.versionLabels.not-a-label"),
        ({"versionLabels": {"stable": 0}}, "models.0.versionLabels.stable"),
        ({"versionPolicy": {"latest": {"numVersions": 1}, "all": {}}}, "models.0.versionPolicy"),
        ({"versionPolicy": {"latest": {"numVersions": 0}}}, "models.0.versionPolicy.latest.numVersions"),
        ({"versionPolicy": {"specific": {"versions": []}}}, "models.0.versionPolicy.specific.versions"),
        ({"versionPolicy": {"newest": {}}}, "models.0.versionPolicy"),
        ({"logging": {"enabled": True}}, "models.0"),
    ],
    ids=["label-name", "version-zero", "two-policies", "zero-versions", "empty-specific", "unknown-policy", "logging"],
)
def test_schema_rejects_bad_model_values_with_their_path(render, model, path):
    """`logging` is refused on purpose: open-source TF Serving has no request logger, and a model with
    `logging_config` makes the whole config load fail ("No request-logger-creator provided")."""
    assert_refused({"server": ALLOW_LABELS, "models": [{"name": "m", "basePath": "/models/m", **model}]}, at(path))


def test_every_policy_renders_as_its_proto_oneof(render):
    docs = render(
        {
            **NO_STORAGE,
            "models": [
                {"name": "latest", "basePath": "/m/latest", "versionPolicy": {"latest": {"numVersions": 3}}},
                {"name": "all", "basePath": "/m/all", "versionPolicy": {"all": {}}},
                {"name": "specific", "basePath": "/m/specific", "versionPolicy": {"specific": {"versions": [10, 12]}}},
            ]
        }
    )
    parsed = {m.name: m.model_version_policy for m in models_config(docs).model_config_list.config}
    assert {name: policy.WhichOneof("policy_choice") for name, policy in parsed.items()} == {"latest": "latest", "all": "all", "specific": "specific"}
    assert parsed["latest"].latest.num_versions == 3
    assert list(parsed["specific"].specific.versions) == [10, 12]


def _storage(source: str) -> dict:
    return {"source": source, "existingClaim": {"claimName": "models"}} if source == "existingClaim" else {"source": source}


@pytest.mark.parametrize(
    ("base_path", "source", "parent"),
    [("/models/resnet/3", "existingClaim", "/models/resnet"), ("/models/resnet/3/", "existingClaim", "/models/resnet"), ("gs://ml/resnet/0001", "gcs", "gs://ml/resnet")],
)
def test_a_base_path_at_a_version_folder_is_refused_with_its_parent(base_path, source, parent):
    values = {"modelStorage": _storage(source), "models": [{"name": "resnet", "basePath": base_path}]}
    assert_refused(values, f"models[0].basePath {base_path!r}".replace("'", '"') + " ends in a version folder")
    assert_refused(values, f'point basePath at the parent, "{parent}"')


@pytest.mark.parametrize("base_path", ["/models/resnet-2", "/models/v3", "/models/resnet50", "gs://ml/3d/resnet"])
def test_a_base_path_that_only_contains_digits_passes(render, base_path):
    source = "gcs" if base_path.startswith("gs://") else "existingClaim"
    docs = render({"modelStorage": _storage(source), "models": [{"name": "m", "basePath": base_path}]})
    assert_no_problems(docs)
