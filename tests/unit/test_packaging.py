"""Chart packaging for scripts/publish: reproducible archives from Helm's own `helm package`."""

from __future__ import annotations

import tarfile
import time

import pytest

from tfserving_harness import helm, publish
from tfserving_harness.paths import chart_dir

# `helm package` is the helm 3.17 binary's.
pytestmark = pytest.mark.helm3

EPOCH = 1764547200


def members(archive):
    with tarfile.open(archive) as tar:
        return [(m.name, m.mtime, m.mode, tar.extractfile(m).read()) for m in tar.getmembers()]


def test_helm_alone_is_not_reproducible(tmp_path):
    """Why the archive is normalized: Helm 3.17 dates every entry with the packaging time, so two
    packagings in different seconds differ (read off the clock, instead of waiting a second)."""
    first, second = tmp_path / "1", tmp_path / "2"
    before = int(time.time())
    helm.run_helm(["package", str(chart_dir()), "-d", str(first)])
    helm.run_helm(["package", str(chart_dir()), "-d", str(second)])
    after = time.time()
    (a,), (b,) = first.glob("*.tgz"), second.glob("*.tgz")
    # Each entry gets its own time.Now(), which Go's tar writer rounds to the nearest second.
    dates = {mtime for archive in (a, b) for _, mtime, _, _ in members(archive)}
    assert before <= min(dates) and max(dates) <= round(after)
    assert [m[0] for m in members(a)] == [m[0] for m in members(b)]


def test_packaging_twice_gives_the_same_digest_and_helms_contents(tmp_path):
    for name in ("1", "2"):
        (tmp_path / name).mkdir()
    first = publish.package(chart_dir(), tmp_path / "1", EPOCH)
    second = publish.package(chart_dir(), tmp_path / "2", EPOCH)
    assert publish.file_digest(first) == publish.file_digest(second)
    # Every date the archive holds is fixed, so a packaging at any other time gives these bytes too.
    entries = members(first)
    assert {(mtime, mode) for _, mtime, mode, _ in entries} == {(EPOCH, 0o644)}
    with tarfile.open(first) as tar:
        assert [m.pax_headers for m in tar.getmembers() if m.pax_headers.keys() & {"mtime", "atime", "ctime"}] == []
    assert first.read_bytes()[4:8] == bytes(4), "the gzip header carries no timestamp"
    assert first.stat().st_mtime == EPOCH  # helm push dates the OCI manifest with it
    names = [name for name, *_ in entries]
    assert names[0] == "tf-serving/Chart.yaml" and "tf-serving/values.yaml" in names and "tf-serving/CHANGELOG.md" in names
    source = {path.relative_to(chart_dir().parent).as_posix(): path.read_bytes() for path in chart_dir().rglob("*") if path.is_file()}
    for name, _, _, data in entries:
        if name != "tf-serving/Chart.yaml":  # Helm re-marshals Chart.yaml
            assert data == source[name], name


def test_version_override_reaches_the_archive(tmp_path):
    archive = publish.package(chart_dir(), tmp_path, EPOCH, version="9.9.9-rc.1")
    assert archive.name == "tf-serving-9.9.9-rc.1.tgz"
    assert dict((m[0], m[3]) for m in members(archive))["tf-serving/Chart.yaml"].decode().count("version: 9.9.9-rc.1") == 1


def test_a_version_helm_refuses_is_a_publish_error(tmp_path):
    with pytest.raises(publish.PublishError, match="helm package failed"):
        publish.package(chart_dir(), tmp_path, EPOCH, version="not-semver")
