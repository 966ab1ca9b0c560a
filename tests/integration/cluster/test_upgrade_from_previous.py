"""Upgrading a release of the previous chart version (its tag, or the parent of the commit that
bumped the version) to the working tree, keeping the user's values, as the chart README's
Upgrading section says: on a real API server, so immutable-field changes fail here."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from kubernetes import client

from tfserving_harness import helm
from tfserving_harness.cluster import HelmRelease, export_chart, previous_chart_commit
from tfserving_harness.paths import chart_dir

RELEASE = "tfs"
CLAIM = f"{RELEASE}-tf-serving-models"
#: A user of the previous version: models on the claim the chart creates, with that version's
#: default access mode (0.1.0: ReadWriteOnce), one replica.
USER_VALUES = {"modelStorage": {"source": "pvc"}, "models": [{"name": "half_plus_two", "basePath": "/models/half_plus_two"}]}


@pytest.fixture(scope="module")
def previous_chart(tmp_path_factory):
    revision, version = previous_chart_commit()
    return export_chart(revision, tmp_path_factory.mktemp("previous")), version


def test_upgrade_from_the_previous_version_keeps_the_users_values_and_the_claim(cluster, kube_api, namespace, install_prerequisites, previous_chart, tmp_path):
    chart, version = previous_chart
    ns = namespace(f"upgrade-from-{version.replace('.', '-')}")
    values = tmp_path / "user-values.yaml"
    values.write_text(yaml.safe_dump(USER_VALUES))
    install_prerequisites(values, ns, helm.render_chart(values_files=[values], name=RELEASE, namespace=ns, chart=chart))
    old = HelmRelease(RELEASE, ns, cluster.kubeconfig, chart=chart)
    old.install([values])
    core = client.CoreV1Api(kube_api)
    modes_before = core.read_namespaced_persistent_volume_claim(CLAIM, ns).spec.access_modes

    new = HelmRelease(RELEASE, ns, cluster.kubeconfig)
    upgraded = new.upgrade(reset="--reset-then-reuse-values")
    assert new.status()[1] == "deployed"
    assert core.read_namespaced_persistent_volume_claim(CLAIM, ns).spec.access_modes == modes_before, "the claim keeps its spec"
    if modes_before != ["ReadWriteMany"]:
        assert "the existing claim keeps its access modes" in upgraded.stdout, "NOTES must say the claim kept its modes"
    assert "Phase:          Succeeded" in new.test().stdout
    pods = core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/instance={RELEASE},tf-serving.io/track").items
    assert pods and all(p.status.phase == "Running" for p in pods if not p.metadata.deletion_timestamp)


def test_reuse_values_across_versions_fails_as_the_readme_says(cluster, namespace, previous_chart, tmp_path):
    """The README tells users to prefer --reset-then-reuse-values because --reuse-values brings
    back the old chart's defaults. Where those defaults break this version's schema, the upgrade
    must fail naming the value and leave the release as it was; if it stops failing, the Upgrading
    section is out of date."""
    chart, version = previous_chart
    old_defaults = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart_dir() / "values.schema.json").read_text())
    refused = sorted({".".join(str(p) for p in e.absolute_path) or "(root)" for e in jsonschema.Draft7Validator(schema).iter_errors(old_defaults)})
    if not refused:
        pytest.skip(f"every default of {version} satisfies this version's schema, so --reuse-values happens to work from {version}")
    ns = namespace("reuse-values-trap")
    old = HelmRelease(RELEASE, ns, cluster.kubeconfig, chart=chart)
    old.install(wait=False)
    trap = HelmRelease(RELEASE, ns, cluster.kubeconfig).helm("upgrade", extra=["--reuse-values"], check=False)
    assert trap.returncode != 0, trap.stdout
    assert any(path.split(".")[-1] in trap.stderr for path in refused), f"expected one of {refused} in:\n{trap.stderr}"
    assert old.status() == (1, "deployed"), "a refused upgrade leaves the release as it was"
