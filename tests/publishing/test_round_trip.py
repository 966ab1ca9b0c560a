"""The real chart, every ci/ scenario, signed: published, pulled back by a user with the public
key, byte-identical to the local package; Artifact Hub metadata next to it. In its own module so
xdist runs it beside the other publishing tests."""

from __future__ import annotations

import json

import pytest
from conftest import CHART, VERSION, options, signing

from tfserving_harness import helm, oci, publish
from tfserving_harness.paths import REPO_ROOT

pytestmark = pytest.mark.publishing


def test_signed_release_round_trip(registry, signing_key, tmp_path):
    """The real chart, every scenario: pushed with its provenance, pulled back by anyone with the
    public key, and the same bytes as the local package."""
    metadata = REPO_ROOT / "artifacthub-repo.yml"
    result = publish.Publisher(options(registry.host, "charts", tmp_path, signing=signing(signing_key), artifacthub_metadata=metadata)).run()

    client = oci.Registry(registry.host, plain_http=True)
    manifest = client.manifest("charts/tf-serving", VERSION)
    assert manifest.digest == result.manifest_digest
    assert sorted(manifest.layer_types()) == ["application/vnd.cncf.helm.chart.content.v1.tar+gzip", "application/vnd.cncf.helm.chart.provenance.v1.prov"]

    pulled = tmp_path / "pulled-by-a-user"
    pulled.mkdir()
    helm.run_helm(["pull", f"oci://{registry.host}/charts/tf-serving", "--version", VERSION, "--plain-http", "--verify", "--keyring", str(signing_key.pubring), "-d", str(pulled)])
    archive = pulled / f"tf-serving-{VERSION}.tgz"
    assert publish.file_digest(archive) == result.chart_digest == publish.file_digest(result.archive)
    assert helm.template_text(archive, [CHART / "ci" / "monitoring-stack-values.yaml"]) == helm.template_text(CHART, [CHART / "ci" / "monitoring-stack-values.yaml"])

    artifacthub = client.manifest("charts/tf-serving", oci.ARTIFACTHUB_TAG)
    body = json.loads(artifacthub.body)
    assert body["config"]["mediaType"] == oci.ARTIFACTHUB_CONFIG
    (layer,) = body["layers"]
    assert layer["mediaType"] == oci.ARTIFACTHUB_LAYER
    assert client.blob("charts/tf-serving", layer["digest"]) == metadata.read_bytes()
