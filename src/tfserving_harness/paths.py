"""Where things live in the repository."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent


def chart_dir() -> Path:
    """The chart under test; `TFS_CHART_DIR` points the harness at another copy (e.g. a packaged one)."""
    return Path(os.environ.get("TFS_CHART_DIR", REPO_ROOT / "charts" / "tf-serving")).resolve()


def ci_values_files(chart: Path | None = None) -> list[Path]:
    """The ci/ scenarios of the chart (default: this checkout's), shared by the unit tier, `helm lint`, `ct` and publishing."""
    return sorted(((chart or chart_dir()) / "ci").glob("*-values.yaml"))


CRD_DIR = PACKAGE_DIR / "crds"
