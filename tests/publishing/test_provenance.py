"""The .prov scripts/publish writes is what `helm package --sign` writes, over the normalized archive."""

from __future__ import annotations

import re

import pytest

from tfserving_harness import helm, publish

pytestmark = pytest.mark.publishing


def signed_text(provenance: str) -> str:
    return re.search(r"-----BEGIN PGP SIGNED MESSAGE-----\nHash: \w+\n\n(.*)\n-----BEGIN PGP SIGNATURE-----", provenance, re.S)[1]


def test_provenance_matches_helm_package_sign(signing_key, small_chart, tmp_path):
    helm.run_helm(
        ["package", str(small_chart), "--sign", "--key", signing_key.name, "--keyring", str(signing_key.secring),
         "--passphrase-file", str(signing_key.passphrase_file), "--destination", str(tmp_path / "helm")]
    )  # fmt: skip
    (helm_archive,) = (tmp_path / "helm").glob("*.tgz")
    ours = publish.package(small_chart, tmp_path, epoch=1764547200)
    provenance, _ = publish.sign(ours, publish.Signing(signing_key.name, signing_key.secring, signing_key.passphrase_file), tmp_path)

    def without_sums(text: str) -> str:
        return re.sub(r"sha256:[0-9a-f]{64}", "sha256:…", text)

    helm_text = signed_text(helm_archive.with_name(helm_archive.name + ".prov").read_text())
    assert without_sums(signed_text(provenance.read_text())) == without_sums(helm_text)
    assert publish.file_digest(ours) in provenance.read_text()
    assert "Chart Hash Verified: " + publish.file_digest(ours) in publish.helm_verify(ours, signing_key.pubring, "test")


def test_wrong_passphrase_says_what_failed(signing_key, small_chart, tmp_path):
    archive = publish.package(small_chart, tmp_path, epoch=1764547200)
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    with pytest.raises(publish.PublishError, match="gpg could not (import the signing keyring|sign with key 'Chart Signer')"):
        publish.sign(archive, publish.Signing(signing_key.name, signing_key.secring, wrong), tmp_path)
    assert not archive.with_name(archive.name + ".prov").exists()
