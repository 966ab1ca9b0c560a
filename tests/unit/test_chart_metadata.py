"""Chart.yaml: supported Kubernetes range, appVersion = the default image tag, Artifact Hub annotations."""

from __future__ import annotations

import pytest

from tfserving_harness import helm, yamlio
from tfserving_harness.paths import chart_dir

CHART = yamlio.load((chart_dir() / "Chart.yaml").read_text())


def test_kube_version_admits_every_supported_version_and_refuses_older(render):
    for version in helm.SUPPORTED_KUBE_VERSIONS:
        render(kube_version=version)
    with pytest.raises(helm.RenderError, match="incompatible with Kubernetes"):
        render(kube_version="1.28.0")


def test_artifact_hub_images_are_the_default_images():
    images = [entry["image"] for entry in yamlio.load(CHART["annotations"]["artifacthub.io/images"])]
    app_version = CHART["appVersion"]
    assert images == [f"docker.io/tensorflow/serving:{app_version}", f"docker.io/tensorflow/serving:{app_version}-gpu"]


def test_artifact_hub_annotations_are_valid_yaml_lists():
    for key in ("artifacthub.io/links", "artifacthub.io/changes", "artifacthub.io/images"):
        entries = yamlio.load(CHART["annotations"][key])
        assert isinstance(entries, list) and entries, key
    for change in yamlio.load(CHART["annotations"]["artifacthub.io/changes"]):
        assert change["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"}
