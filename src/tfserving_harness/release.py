"""Release hygiene: a change under charts/tf-serving/ comes with a higher chart `version`, and the
CHANGELOG's newest release is what Chart.yaml's `artifacthub.io/changes` tells Artifact Hub."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import yamlio
from .paths import REPO_ROOT

CHART_PATH = "charts/tf-serving"
#: Tags the release workflow pushes (.github/workflows/release.yaml): tf-serving-X.Y.Z.
RELEASE_TAG_GLOB = "tf-serving-*"
#: Artifact Hub's change kinds (https://artifacthub.io/docs/topics/annotations/helm/), which are
#: also Keep a Changelog's section names.
CHANGE_KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")


def semver_key(version: str) -> tuple:
    """Order of SemVer 2.0 precedence: 1.2.3-rc.1 < 1.2.3; numeric identifiers compare as numbers."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?", version)
    if not match:
        raise ValueError(f"not a SemVer version: {version!r}")
    core = tuple(int(part) for part in match.groups()[:3])
    if match[4] is None:
        return core + (1, ())
    identifiers = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in match[4].split("."))
    return core + (0, identifiers)


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """`git -C repo ARGS`, output captured, never raising: callers read the return code."""
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def resolve_base(spec: str | None, repo: Path = REPO_ROOT) -> tuple[str | None, str]:
    """The commit to compare with, and how it was chosen. `spec` is a git ref, or "auto":
    a pull request's merge base (GitHub Actions sets GITHUB_BASE_REF), else the newest release tag
    below HEAD (a chart changed since the last release needs a new version), else the first
    parent (the change that just landed); None when there is nothing to compare with."""
    if not spec:
        return None, "no base ref given (BASE_REF)"
    if spec != "auto":
        if git(repo, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}").returncode != 0:
            raise ValueError(f"BASE_REF={spec} is not a commit in {repo} (fetch it, e.g. git fetch origin main, or fetch-depth: 0 in CI)")
        return spec, f"BASE_REF={spec}"
    if os.environ.get("GITHUB_BASE_REF"):
        target = f"origin/{os.environ['GITHUB_BASE_REF']}"
        merge_base = git(repo, "merge-base", target, "HEAD")
        if merge_base.returncode != 0:
            raise ValueError(f"no merge base of HEAD and {target}: check out with fetch-depth: 0")
        return merge_base.stdout.strip(), f"merge base with {target}"
    if git(repo, "rev-parse", "--verify", "--quiet", "HEAD^").returncode != 0:
        return None, "HEAD has no parent (a single-commit clone): nothing to compare with"
    tag = git(repo, "describe", "--tags", "--abbrev=0", "--match", RELEASE_TAG_GLOB, "HEAD^")
    if tag.returncode == 0:
        return tag.stdout.strip(), f"the newest release tag {tag.stdout.strip()}"
    return "HEAD^", "the first parent HEAD^ (no release tag yet)"


@dataclass(frozen=True)
class VersionCheck:
    base: str
    base_version: str | None  # None: the chart did not exist at the base
    version: str
    changed_files: tuple[str, ...]

    def problems(self) -> list[str]:
        if self.base_version is None:
            return []
        if semver_key(self.version) < semver_key(self.base_version):
            return [f"{CHART_PATH}/Chart.yaml version went down: {self.base_version} at {self.base}, {self.version} now"]
        if self.changed_files and self.version == self.base_version:
            return [
                f"{CHART_PATH}/ changed since {self.base} but version is still {self.version}: bump `version` in "
                f"{CHART_PATH}/Chart.yaml (and add the changes to {CHART_PATH}/CHANGELOG.md). Changed:\n  " + "\n  ".join(self.changed_files)
            ]
        return []


def check_version(base: str, repo: Path = REPO_ROOT) -> VersionCheck:
    """Compare the working tree (committed or not) with `base`."""
    diff = git(repo, "diff", "--name-only", base, "--", CHART_PATH)
    if diff.returncode != 0:
        raise ValueError(f"git diff {base} failed: {diff.stderr.strip()}")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard", "--", CHART_PATH).stdout.split()
    changed = tuple(sorted(set(diff.stdout.split()) | set(untracked)))
    at_base = git(repo, "show", f"{base}:{CHART_PATH}/Chart.yaml")
    base_version = str(yamlio.load(at_base.stdout)["version"]) if at_base.returncode == 0 else None
    version = str(yamlio.load((repo / CHART_PATH / "Chart.yaml").read_text())["version"])
    return VersionCheck(base, base_version, version, changed)


# --- CHANGELOG.md <-> artifacthub.io/changes ------------------------------------------------------


@dataclass(frozen=True)
class Release:
    version: str  # "Unreleased" for the section on top
    changes: tuple[tuple[str, str], ...]  # (kind, description) in order
    upgrading: str


def has_unreleased_changes(text: str) -> bool:
    """True when the CHANGELOG's `## [Unreleased]` section lists a change (False with no CHANGELOG)."""
    section = text.partition("## [Unreleased]")[2].split("\n## [", 1)[0]
    return "\n- " in section


def parse_changelog(text: str) -> list[Release]:
    """`## [X.Y.Z] - date` sections with `### Added` ... subsections of `- ` bullets (continuation
    lines indented); `### Upgrading` is kept as text."""
    releases = []
    for block in re.split(r"(?m)^## ", text)[1:]:
        heading, _, body = block.partition("\n")
        version = re.match(r"\[([^\]]+)\]", heading)
        if not version:
            raise ValueError(f"CHANGELOG heading `## {heading}` is not `## [X.Y.Z] - YYYY-MM-DD` or `## [Unreleased]`")
        changes, upgrading = [], ""
        for section in re.split(r"(?m)^### ", body)[1:]:
            title, _, items = section.partition("\n")
            kind = title.strip().lower()
            if kind == "upgrading":
                upgrading = items.strip()
                continue
            if kind not in CHANGE_KINDS:
                raise ValueError(f"CHANGELOG [{version[1]}]: `### {title.strip()}` is not one of {', '.join(k.capitalize() for k in CHANGE_KINDS)}, Upgrading")
            for item in re.split(r"(?m)^- ", items)[1:]:
                changes.append((kind, " ".join(item.split())))
        releases.append(Release(version[1], tuple(changes), upgrading))
    return releases


def annotation_for(release: Release) -> str:
    """The `artifacthub.io/changes` value for a release, as it goes into Chart.yaml."""
    entries = [{"kind": kind, "description": description} for kind, description in release.changes]
    return yaml.safe_dump(entries, sort_keys=False, width=10_000)


def release_notes(releases: list[Release], version: str) -> str:
    """A release's CHANGELOG entries as Markdown, for the GitHub release page."""
    (entry,) = [r for r in releases if r.version == version] or [None]
    if entry is None:
        raise ValueError(f"CHANGELOG.md has no [{version}] section: rename [Unreleased] to [{version}] before tagging")
    lines = []
    for kind in CHANGE_KINDS:
        items = [description for k, description in entry.changes if k == kind]
        if items:
            lines += [f"### {kind.capitalize()}", "", *(f"- {item}" for item in items), ""]
    if entry.upgrading:
        lines += ["### Upgrading", "", entry.upgrading, ""]
    return "\n".join(lines)
