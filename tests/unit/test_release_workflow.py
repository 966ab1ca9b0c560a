""".github/workflows/release.yaml: triggered by the tags the version check knows, actions pinned
by version, scripts/publish signing with the key from the secrets, notes from the CHANGELOG."""

from __future__ import annotations

import re

from tfserving_harness import release, yamlio
from tfserving_harness.paths import REPO_ROOT, chart_dir

WORKFLOW = yamlio.load((REPO_ROOT / ".github" / "workflows" / "release.yaml").read_text())
STEPS = WORKFLOW["jobs"]["publish"]["steps"]


def test_triggered_by_release_tags():
    # PyYAML reads the `on:` key as the boolean True.
    assert WORKFLOW[True] == {"push": {"tags": [release.RELEASE_TAG_GLOB]}}


def test_actions_are_pinned_by_version():
    uses = [step["uses"] for step in STEPS if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w-]+/[\w-]+@v\d+\.\d+\.\d+", use) for use in uses), uses


def test_publishes_signed_with_secrets_and_verifies_the_re_pull():
    assert WORKFLOW["permissions"] == {"contents": "write", "packages": "write"}
    runs = "\n".join(step.get("run", "") for step in STEPS)
    assert re.search(r"scripts/publish --registry \"oci://ghcr\.io/\$\{owner\}/charts\" --sign", runs)
    assert "secrets.CHART_SIGNING_KEY" in str(STEPS) and "secrets.GITHUB_TOKEN" in str(STEPS)
    assert "helm pull" in runs and "--verify --keyring" in runs
    assert "gh release create" in runs


def test_release_notes_exist_for_the_chart_version():
    changelog = release.parse_changelog((chart_dir() / "CHANGELOG.md").read_text())
    version = str(yamlio.load((chart_dir() / "Chart.yaml").read_text())["version"])
    assert release.release_notes(changelog, version).startswith("### ")
