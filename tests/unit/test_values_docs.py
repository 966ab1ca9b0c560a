"""values.yaml is documented key by key and the chart README's table is generated from it."""

from __future__ import annotations

import subprocess
import sys

from tfserving_harness import values_docs
from tfserving_harness.paths import REPO_ROOT, chart_dir


def test_every_value_is_documented():
    _, undocumented = values_docs.parse(chart_dir() / "values.yaml")
    assert undocumented == []


def test_values_yaml_points_editors_at_the_schema():
    assert (chart_dir() / "values.yaml").read_text().startswith("# yaml-language-server: $schema=values.schema.json")


def test_readme_table_matches_values_yaml():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen_values_docs.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_generator_reports_drift_and_undocumented_keys(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("# -- Replicas.\nreplicas: 1\nimage:\n  # -- Tag.\n  tag: ''\n  pullPolicy: Always\n")
    parameters, undocumented = values_docs.parse(values)
    assert [(p.key, p.type, p.default) for p in parameters] == [("replicas", "int", "`1`"), ("image.tag", "string", '`""`')]
    assert undocumented == ["image.pullPolicy"]
    readme = f"# x\n{values_docs.START_MARKER}\nstale\n{values_docs.END_MARKER}\n"
    assert "| `replicas` | int | `1` | Replicas. |" in values_docs.render_readme(readme, parameters)


def test_banners_group_the_tables_in_values_order(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("# ---- Image ----\nimage:\n  # -- Tag.\n  tag: ''\n# ---- Models ----\n# -- Models.\nmodels: []\n")
    parameters, _ = values_docs.parse(values)
    assert [(p.key, p.group) for p in parameters] == [("image.tag", "Image"), ("models", "Models")]
    text = values_docs.tables(parameters)
    assert text.index("### Image") < text.index("`image.tag`") < text.index("### Models") < text.index("`models`")
