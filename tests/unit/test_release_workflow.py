""".github/workflows/release.yaml: triggered by the tags the version check knows, scripts/publish
signing with the key from the secrets, the re-pull verified as a reader would, notes from the
CHANGELOG. (Actions pinned by commit SHA, in every workflow: tests/harness/test_workflows.py.)"""

from __future__ import annotations

import re

from tfserving_harness import release, yamlio
from tfserving_harness.paths import REPO_ROOT, chart_dir

WORKFLOW = yamlio.load((REPO_ROOT / ".github" / "workflows" / "release.yaml").read_text())
STEPS = WORKFLOW["jobs"]["publish"]["steps"]


def test_triggered_by_release_tags():
    # PyYAML reads the `on:` key as the boolean True.
    assert WORKFLOW[True] == {"push": {"tags": [release.RELEASE_TAG_GLOB]}}


def test_publishes_signed_with_secrets_and_verifies_the_re_pull():
    assert WORKFLOW["permissions"] == {"contents": "write", "packages": "write"}
    runs = "\n".join(step.get("run", "") for step in STEPS)
    assert re.search(r"scripts/publish --registry \"oci://ghcr\.io/\$\{owner\}/charts\" --sign", runs)
    assert "secrets.CHART_SIGNING_KEY" in str(STEPS) and "secrets.GITHUB_TOKEN" in str(STEPS)
    assert "helm pull" in runs and "--verify --keyring" in runs
    # A new GHCR package is private: the verifying pull logs in (its own registry config), the anonymous one only warns.
    verify = next(step for step in STEPS if step.get("name", "").startswith("Verify as a user would"))
    assert "helm registry login ghcr.io" in verify["run"] and verify["run"].count("--registry-config") >= 3
    assert "::warning::" in verify["run"]
    assert "gh release create" in runs


def test_release_notes_exist_for_the_chart_version():
    changelog = release.parse_changelog((chart_dir() / "CHANGELOG.md").read_text())
    version = str(yamlio.load((chart_dir() / "Chart.yaml").read_text())["version"])
    assert release.release_notes(changelog, version).startswith("### ")
