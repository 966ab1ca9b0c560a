"""Where things live in the repository."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent


def chart_dir() -> Path:
    """The chart under test; `TFS_CHART_DIR` points the harness at another copy (e.g. a packaged one)."""
    return Path(os.environ.get("TFS_CHART_DIR", REPO_ROOT / "charts" / "tf-serving")).resolve()


def ci_values_files() -> list[Path]:
    """The chart's ci/ scenarios, shared by the unit tier, `helm lint` and `ct`."""
    return sorted((chart_dir() / "ci").glob("*-values.yaml"))


CRD_DIR = PACKAGE_DIR / "crds"
