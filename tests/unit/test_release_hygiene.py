"""Release hygiene: the version check (scripts/check_chart_version.py) on throwaway git repositories,
and the chart CHANGELOG kept in step with Chart.yaml's `artifacthub.io/changes`."""

from __future__ import annotations

import re
import subprocess

import pytest

from tfserving_harness import release, yamlio
from tfserving_harness.paths import chart_dir

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


class Repo:
    def __init__(self, path, monkeypatch):
        self.path = path
        for key, value in GIT_ENV.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
        self.git("init", "-q", "-b", "main")
        self.write("charts/tf-serving/Chart.yaml", "apiVersion: v2\nname: tf-serving\nversion: 0.2.0\n")
        self.write("charts/tf-serving/values.yaml", "replicas: 1\n")
        self.write("README.md", "docs\n")
        self.commit("0.2.0")

    def git(self, *args):
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True).stdout.strip()

    def write(self, name, text):
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def set_version(self, version):
        self.write("charts/tf-serving/Chart.yaml", f"apiVersion: v2\nname: tf-serving\nversion: {version}\n")

    def commit(self, message):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    return Repo(tmp_path, monkeypatch)


def test_semver_precedence():
    ordered = ["0.1.0", "0.2.0-alpha", "0.2.0-alpha.2", "0.2.0-alpha.10", "0.2.0-beta", "0.2.0", "0.10.0", "1.0.0"]
    assert sorted(ordered, key=release.semver_key) == ordered
    assert release.semver_key("1.2.3+build.5") == release.semver_key("1.2.3")
    with pytest.raises(ValueError, match="not a SemVer"):
        release.semver_key("1.2")


def test_chart_change_without_bump_names_the_files(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.write("charts/tf-serving/values.yaml", "replicas: 2\n")
    repo.write("charts/tf-serving/templates/new.yaml", "kind: ConfigMap\n")  # untracked counts too
    (problem,) = release.check_version(base, repo.path).problems()
    assert "version is still 0.2.0" in problem
    assert "charts/tf-serving/values.yaml" in problem and "charts/tf-serving/templates/new.yaml" in problem


def test_bumped_version_passes_and_changes_elsewhere_need_none(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.write("README.md", "more docs\n")
    assert release.check_version(base, repo.path).problems() == []
    repo.write("charts/tf-serving/values.yaml", "replicas: 2\n")
    repo.set_version("0.2.1")
    repo.commit("0.2.1")
    assert release.check_version(base, repo.path).problems() == []


def test_version_going_down_fails(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.set_version("0.2.0-rc.1")
    (problem,) = release.check_version(base, repo.path).problems()
    assert "went down: 0.2.0" in problem and "0.2.0-rc.1 now" in problem


def test_new_chart_has_nothing_to_compare(repo):
    repo.git("rm", "-q", "-r", "charts")
    base = repo.commit("no chart yet")
    repo.set_version("0.1.0")
    assert release.check_version(base, repo.path).base_version is None
    assert release.check_version(base, repo.path).problems() == []


def test_auto_base_first_parent_then_release_tag(repo):
    assert release.resolve_base("auto", repo.path) == (None, "HEAD has no parent (a single-commit clone): nothing to compare with")
    repo.git("tag", "tf-serving-0.2.0")
    repo.write("README.md", "x\n")
    repo.commit("docs")
    assert release.resolve_base("auto", repo.path)[0] == "tf-serving-0.2.0"
    repo.git("tag", "-d", "tf-serving-0.2.0")
    assert release.resolve_base("auto", repo.path) == ("HEAD^", "the first parent HEAD^ (no release tag yet)")


def test_auto_base_in_a_pull_request_is_the_merge_base(repo, monkeypatch):
    fork_point = repo.git("rev-parse", "HEAD")
    repo.git("update-ref", "refs/remotes/origin/main", fork_point)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("charts/tf-serving/values.yaml", "replicas: 3\n")
    repo.commit("feature")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    base, how = release.resolve_base("auto", repo.path)
    assert (base, how) == (fork_point, "merge base with origin/main")
    assert "values.yaml" in release.check_version(base, repo.path).problems()[0]


def test_unknown_base_ref_is_an_error_that_says_what_to_fetch(repo):
    with pytest.raises(ValueError, match="not a commit.*fetch"):
        release.resolve_base("origin/nope", repo.path)


# --- CHANGELOG.md and artifacthub.io/changes ----------------------------------------------------

CHANGELOG = release.parse_changelog((chart_dir() / "CHANGELOG.md").read_text())
CHART = yamlio.load((chart_dir() / "Chart.yaml").read_text())


def test_changelog_starts_with_unreleased_then_releases_newest_first():
    assert CHANGELOG[0].version == "Unreleased"
    versions = [r.version for r in CHANGELOG[1:]]
    assert versions and versions == sorted(versions, key=release.semver_key, reverse=True)


def test_newest_release_is_the_chart_version():
    assert CHANGELOG[1].version == str(CHART["version"]), (
        f"Chart.yaml says {CHART['version']}, CHANGELOG.md's newest release is {CHANGELOG[1].version}: "
        "rename ## [Unreleased] to the new version (and start a new empty Unreleased above it)"
    )


def test_artifacthub_changes_are_the_newest_release_entries():
    newest = CHANGELOG[1]
    annotated = [(entry["kind"], " ".join(entry["description"].split())) for entry in yamlio.load(CHART["annotations"]["artifacthub.io/changes"])]
    assert annotated == list(newest.changes), (
        f"artifacthub.io/changes differs from CHANGELOG.md [{newest.version}]; put this in Chart.yaml:\n"
        "  artifacthub.io/changes: |\n" + "".join(f"    {line}\n" for line in release.annotation_for(newest).splitlines())
    )


def test_every_release_has_entries_of_real_kinds():
    for entry in CHANGELOG[1:]:
        assert entry.changes, f"[{entry.version}] has no entries"
        assert {kind for kind, _ in entry.changes} <= set(release.CHANGE_KINDS)


def test_changelog_parser_refuses_kinds_artifact_hub_does_not_know():
    with pytest.raises(ValueError, match="`### Improved` is not one of Added, Changed"):
        release.parse_changelog("## [1.0.0] - 2026-01-01\n\n### Improved\n\n- faster\n")
    (parsed,) = release.parse_changelog("## [1.0.0] - 2026-01-01\n\n### Fixed\n\n- a long\n  entry\n\n### Upgrading\n\nDo this.\n")
    assert parsed.changes == (("fixed", "a long entry"),) and parsed.upgrading == "Do this."


def test_release_notes_group_entries_by_kind_and_keep_upgrading():
    releases = release.parse_changelog(
        "## [1.1.0] - 2026-01-02\n\n### Fixed\n\n- b\n\n### Added\n\n- a\n\n### Upgrading\n\nRun x first.\n\n## [1.0.0] - 2026-01-01\n\n### Added\n\n- c\n"
    )
    assert release.release_notes(releases, "1.1.0") == "### Added\n\n- a\n\n### Fixed\n\n- b\n\n### Upgrading\n\nRun x first.\n"
    with pytest.raises(ValueError, match=r"no \[2.0.0\] section"):
        release.release_notes(releases, "2.0.0")


@pytest.mark.parametrize("readme", ["README.md", "charts/tf-serving/README.md"])
def test_readme_install_commands_name_the_chart_version(readme):
    from tfserving_harness.paths import REPO_ROOT

    text = (REPO_ROOT / readme).read_text()
    versions = re.findall(r"oci://\S+/tf-serving --version (\S+)", text) + re.findall(r"releases/download/tf-serving-(\S+?)/", text)
    assert versions and set(versions) == {str(CHART["version"])}, f"{readme}: install commands say {sorted(set(versions))}, Chart.yaml {CHART['version']}"
