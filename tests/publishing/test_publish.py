"""scripts/publish against a real registry: round trip, signatures, immutability, failures that
leave the registry as it was, credentials from the environment, dry run, Artifact Hub metadata."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import PASSWORD, USERNAME, VERSION, CutOnManifestPut, options, signing

from tfserving_harness import helm, oci, publish
from tfserving_harness.local_registry import LocalRegistry
from tfserving_harness.paths import REPO_ROOT

pytestmark = pytest.mark.publishing

def test_pull_with_another_key_is_refused(registry, signing_key, other_key, small_chart, epoch, tmp_path):
    publish.Publisher(options(registry.host, "keys", tmp_path, chart=small_chart, signing=signing(signing_key))).run()
    (tmp_path / "p").mkdir()
    result = helm.run_helm(
        ["pull", f"oci://{registry.host}/keys/tf-serving", "--version", VERSION, "--plain-http", "--verify", "--keyring", str(other_key.pubring), "-d", str(tmp_path / "p")],
        check=False,
    )
    assert result.returncode != 0 and "openpgp: signature made by unknown entity" in result.stderr


def test_unsigned_publish_is_reproducible_down_to_the_manifest(registry, small_chart, epoch, tmp_path):
    first = publish.Publisher(options(registry.host, "repro-a", tmp_path / "a", chart=small_chart)).run()
    second = publish.Publisher(options(registry.host, "repro-b", tmp_path / "b", chart=small_chart)).run()
    assert first.chart_digest == second.chart_digest
    assert first.manifest_digest == second.manifest_digest


def test_a_scenario_that_fails_its_checks_stops_the_release(registry, small_chart, epoch, tmp_path):
    chart = tmp_path / "tf-serving"
    shutil.copytree(small_chart, chart)
    (chart / "ci" / "typo-values.yaml").write_text("replicaCuont: 2\n")
    with pytest.raises(publish.PublishError, match="typo-values.yaml: helm lint --strict failed") as failed:
        publish.Publisher(options(registry.host, "unchecked", tmp_path, chart=chart)).run()
    assert failed.value.step == "checks" and "nothing was packaged or pushed" in str(failed.value)
    assert not list((tmp_path / "out").glob("*.tgz"))
    assert oci.Registry(registry.host, plain_http=True).tags("unchecked/tf-serving") == []


def test_pre_release_version_override(registry, small_chart, epoch, tmp_path):
    result = publish.Publisher(options(registry.host, "pre", tmp_path, chart=small_chart, version="0.3.0-rc.1")).run()
    assert result.reference.endswith("/pre/tf-serving:0.3.0-rc.1") and result.archive.name == "tf-serving-0.3.0-rc.1.tgz"
    assert oci.Registry(registry.host, plain_http=True).tags("pre/tf-serving") == ["0.3.0-rc.1"]
    assert (publish.chart_metadata(small_chart)["version"]) == VERSION  # the source is left alone


def test_existing_version_is_refused_with_its_digest_unless_forced(registry, signing_key, small_chart, epoch, tmp_path):
    first = publish.Publisher(options(registry.host, "immutable", tmp_path / "1", chart=small_chart)).run()
    with pytest.raises(publish.PublishError, match=f"already exists with digest {first.manifest_digest}") as refused:
        publish.Publisher(options(registry.host, "immutable", tmp_path / "2", chart=small_chart, signing=signing(signing_key))).run()
    assert refused.value.step == "immutable"
    client = oci.Registry(registry.host, plain_http=True)
    assert client.manifest("immutable/tf-serving", VERSION).digest == first.manifest_digest

    forced = publish.Publisher(options(registry.host, "immutable", tmp_path / "3", chart=small_chart, signing=signing(signing_key), force=True)).run()
    assert forced.replaced_digest == first.manifest_digest != forced.manifest_digest
    assert client.manifest("immutable/tf-serving", VERSION).digest == forced.manifest_digest


def test_bad_signature_stops_before_anything_is_pushed(registry, signing_key, other_key, small_chart, epoch, tmp_path):
    with pytest.raises(publish.PublishError, match="helm verify") as failed:
        publish.Publisher(options(registry.host, "badsig", tmp_path, chart=small_chart, signing=signing(signing_key, other_key.pubring))).run()
    assert failed.value.step == "sign"
    assert oci.Registry(registry.host, plain_http=True).tags("badsig/tf-serving") == []


def test_failed_verification_after_the_push_is_undone(registry, small_chart, epoch, tmp_path, monkeypatch):
    def broken_pull(*args, **kwargs):
        raise publish.PublishError("verify", "simulated: the pulled chart did not verify")

    client = oci.Registry(registry.host, plain_http=True)
    monkeypatch.setattr(publish.Publisher, "_verify_pull", broken_pull)
    with pytest.raises(publish.PublishError, match="undone: the pushed manifest .* was deleted"):
        publish.Publisher(options(registry.host, "undo", tmp_path / "1", chart=small_chart)).run()
    assert client.manifest("undo/tf-serving", VERSION) is None

    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    kept = publish.Publisher(options(registry.host, "undo", tmp_path / "2", chart=small_chart)).run()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch + 60))  # another archive, another manifest
    monkeypatch.setattr(publish.Publisher, "_verify_pull", broken_pull)
    with pytest.raises(publish.PublishError, match=f"points at its previous manifest {kept.manifest_digest} again"):
        publish.Publisher(options(registry.host, "undo", tmp_path / "3", chart=small_chart, force=True)).run()
    assert client.manifest("undo/tf-serving", VERSION).digest == kept.manifest_digest


def test_registry_stopped_in_the_middle_of_the_push_leaves_no_version(small_chart, epoch, tmp_path):
    upstream = LocalRegistry().start()
    proxy = CutOnManifestPut(upstream, stop_registry=True)
    try:
        with pytest.raises(publish.PublishError, match="helm push failed") as failed:
            publish.Publisher(options(proxy.host, "midway", tmp_path, chart=small_chart)).run()
        # The registry was already gone when the publisher looked: it says it could not check.
        assert "could not check whether" in str(failed.value)
        assert failed.value.step == "push" and proxy.cut.is_set(), f"{failed.value.step}: {failed.value}"
        assert proxy.stopped.wait(30)
        upstream.start()  # same storage, same port
        client = oci.Registry(upstream.host, plain_http=True)
        assert client.manifest("midway/tf-serving", VERSION) is None
        assert VERSION not in client.tags("midway/tf-serving")
    finally:
        proxy.close()
        upstream.remove()


def test_manifest_upload_cut_off_is_reported_as_nothing_created(registry, small_chart, epoch, tmp_path):
    proxy = CutOnManifestPut(registry, stop_registry=False)
    try:
        with pytest.raises(publish.PublishError, match=f"the registry is as it was: {VERSION} not created") as failed:
            publish.Publisher(options(proxy.host, "cutoff", tmp_path, chart=small_chart)).run()
        assert failed.value.step == "push" and proxy.cut.is_set()
    finally:
        proxy.close()
    assert oci.Registry(registry.host, plain_http=True).manifest("cutoff/tf-serving", VERSION) is None


def run_cli(*args, env=None, home):
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-m", "tfserving_harness.publish", *args], capture_output=True, text=True, env=environment, cwd=REPO_ROOT)


def test_credentials_from_the_environment_and_the_users_registry_config_untouched(auth_registry, small_chart, epoch, tmp_path):
    home = tmp_path / "home"
    env = {"TFS_REGISTRY_USERNAME": USERNAME, "TFS_REGISTRY_PASSWORD": PASSWORD, "SOURCE_DATE_EPOCH": str(epoch)}
    result = run_cli("--registry", f"oci://{auth_registry.host}/private", "--chart", str(small_chart), "--plain-http", env=env, home=home)
    assert result.returncode == 0, result.stderr
    assert f"published oci://{auth_registry.host}/private/tf-serving:{VERSION}@sha256:" in result.stdout
    assert not (home / ".config" / "helm").exists(), "the user's helm registry config was written"
    with pytest.raises(oci.RegistryError, match="HTTP 401"):
        oci.Registry(auth_registry.host, plain_http=True).manifest("private/tf-serving", VERSION)
    assert oci.Registry(auth_registry.host, plain_http=True, username=USERNAME, password=PASSWORD).manifest("private/tf-serving", VERSION)


def test_wrong_password_pushes_nothing(auth_registry, small_chart, epoch, tmp_path):
    env = {"TFS_REGISTRY_USERNAME": USERNAME, "TFS_REGISTRY_PASSWORD": "wrong", "SOURCE_DATE_EPOCH": str(epoch)}
    result = run_cli("--registry", f"oci://{auth_registry.host}/denied", "--chart", str(small_chart), "--plain-http", env=env, home=tmp_path)
    assert result.returncode == 1
    assert f"publish failed at login: helm registry login {auth_registry.host} as {USERNAME} failed" in result.stderr
    assert oci.Registry(auth_registry.host, plain_http=True, username=USERNAME, password=PASSWORD).tags("denied/tf-serving") == []


def test_dry_run_prints_the_plan_and_touches_nothing(registry, signing_key, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "publish"), "--registry", f"oci://{registry.host}/dry", "--plain-http", "--sign", "--key", signing_key.name,
         "--keyring", str(signing_key.secring), "--output-dir", str(out), "--dry-run"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"target     oci://{registry.host}/dry/tf-serving:{VERSION} over plain HTTP" in result.stdout
    assert "6. helm push (chart + provenance layer)" in result.stdout
    assert not out.exists()
    assert oci.Registry(registry.host, plain_http=True).tags("dry/tf-serving") == []
