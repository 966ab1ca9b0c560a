"""Values the previous chart version accepted and this one refuses: each refusal names the fix and
points at the chart README's Upgrading section (which lists them)."""

from __future__ import annotations

import re

import pytest

from tfserving_harness import helm, yamlio
from tfserving_harness.cluster import export_chart, previous_chart_commit
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import render_error


@pytest.fixture(scope="module")
def previous_export(tmp_path_factory):
    """(the previous release's chart directory, its version)."""
    revision, version = previous_chart_commit()
    return export_chart(revision, tmp_path_factory.mktemp("previous")), version


@pytest.fixture(scope="module")
def chart_0_1_0(tmp_path_factory):
    """The 0.1.0 release's chart directory: the values below are the 0.1.0 -> 0.2.0 changes."""
    revision, version = previous_chart_commit(before="0.2.0")
    assert version == "0.1.0", f"the release before 0.2.0 is {version} at {revision}"
    return export_chart(revision, tmp_path_factory.mktemp("chart-0.1.0"))


@pytest.mark.parametrize("base_path", ["s3://ml-models/resnet", "gs://ml-models/resnet"])
def test_object_store_paths_without_their_source_were_accepted_and_now_point_to_the_upgrade_note(chart_0_1_0, base_path, render):
    # 0.1.0's default source, which 0.5.0 changed to `demo` (its own Upgrading entry).
    values = {"modelStorage": {"source": "none"}, "models": [{"name": "resnet", "basePath": base_path}]}
    assert render(values, chart=chart_0_1_0, kube_version="1.29.0")
    assert "see Upgrading in the chart README" in render_error(values)


def test_the_readme_has_an_upgrading_entry_for_every_refused_value():
    readme = (chart_dir() / "README.md").read_text()
    section = readme[readme.index("## Upgrading"):readme.index("## Coming from tutorials")]
    for entry in ("--reset-then-reuse-values", "`s3://` and `gs://` base paths", "autoscaling.keda.activationThreshold",
                  "modelStorage.pvc.keepExistingAccessModes", "modelStorage.image.featureGateEnabled"):
        assert entry in section, entry


def test_chart_created_claim_renders_the_values_without_a_cluster(render):
    """`helm template` has no cluster to look the claim up in: the values' access modes render."""
    from tfserving_harness.manifests import of_kind

    (claim,) = of_kind(render({"modelStorage": {"source": "pvc", "pvc": {"accessModes": ["ReadOnlyMany"]}},
                               "models": [{"name": "m", "basePath": "/models/m"}]}), "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_every_previous_scenario_this_version_refuses_is_in_its_upgrading_entry(previous_export, render):
    """The previous version's own ci/ scenarios stand for values users run: any this version refuses
    must be refused naming a value whose top-level key an Upgrading entry newer than the previous
    version names (`### To <this version>`, and the next one's while its changes are unreleased)."""
    from tfserving_harness.testing import kube_version_tuple as version_tuple

    old_chart, previous = previous_export
    current = yamlio.load((chart_dir() / "Chart.yaml").read_text())["version"]
    readme = (chart_dir() / "README.md").read_text()
    sections = re.findall(r"^### To (\d+\.\d+\.\d+)\n(.*?)(?=^### |^## )", readme, flags=re.M | re.S)
    assert current in [version for version, _ in sections], f"the chart README's Upgrading section has no `### To {current}`"
    entry = "".join(text for version, text in sections if version_tuple(version) > version_tuple(previous))
    unexplained = []
    for values_file in sorted((old_chart / "ci").glob("*-values.yaml")):
        try:
            render(values_files=[values_file], validate=False)
        except helm.RenderError as error:
            message = helm.chart_message(error.stderr) or error.stderr
            keys = {path.split(".")[0] for path in re.findall(r"\b([a-z][A-Za-z]*(?:\.[A-Za-z0-9]+)+)", message)}
            if not any(f"`{key}" in entry for key in keys):
                unexplained.append(f"{values_file.name} ({previous}): {message[:200]}")
    assert not unexplained, "refused, and the Upgrading entry names none of the values:\n" + "\n".join(unexplained)

