"""The GitHub workflows, checked here rather than on GitHub: actionlint (the binary `make
lint-workflows` runs, with shellcheck on every `run:` script) refuses a broken workflow under the
project's .github/actionlint.yaml, and every action is pinned by full commit SHA with its tag."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tfserving_harness.paths import REPO_ROOT
from tfserving_harness.yamlio import load

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))
BIN = Path(sys.executable).parent


def actionlint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "actionlint"), "-no-color", "-oneline", "-shellcheck", str(BIN / "shellcheck"), "-pyflakes", ""],
                          cwd=root, capture_output=True, text=True, timeout=120)


BROKEN = """\
name: broken
on: [push]
jobs:
  a:
    runs-on: [self-hosted, no-such-label]
    steps:
      - run: echo ${{ steps.nothing.outputs.value }}
      - run: cp $SRC/* dest
"""


def test_actionlint_passes_the_workflows_and_refuses_a_broken_one(tmp_path):
    assert actionlint(REPO_ROOT).returncode == 0, actionlint(REPO_ROOT).stdout
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # actionlint finds the project by its repository
    shutil.copytree(REPO_ROOT / ".github", tmp_path / ".github")
    (tmp_path / ".github" / "workflows" / "broken.yml").write_text(BROKEN)
    result = actionlint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    found = {re.search(r"\[([a-z-]+)\]$", line)[1] for line in result.stdout.splitlines() if line.startswith(".github/workflows/broken.yml")}
    assert {"runner-label", "expression", "shellcheck"} <= found, result.stdout
    assert ".github/workflows/broken.yml" in result.stdout and "ci.yml" not in result.stdout


def test_the_self_hosted_label_the_workflows_use_is_declared():
    declared = set(load((REPO_ROOT / ".github" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"])
    used = set()
    for path in WORKFLOWS:
        for job in load(path.read_text())["jobs"].values():
            runs_on = job.get("runs-on")
            if isinstance(runs_on, list) and "self-hosted" in runs_on:
                used |= set(runs_on) - {"self-hosted"}
    assert used and used <= declared, f"self-hosted labels used {used}, declared {declared}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_commit_sha_with_its_tag(path):
    """A tag can be moved to other code; a commit cannot. The comment says which release it is."""
    uses = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses, f"{path.name} uses no action"
    loose = [line for line in uses if not re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*", line)]
    assert not loose, f"{path.name}: actions not pinned as `owner/repo@<40-hex sha> # vX.Y.Z`: {loose}"
