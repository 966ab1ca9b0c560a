"""tfserving_harness.render_guard: the diff it reports is exactly the renders that changed."""

from __future__ import annotations

from tfserving_harness import render_guard


def test_identical_renders_give_no_diff():
    renders = {"a@1.29.0.yaml": "kind: Service\n", "b@1.37.0.yaml": "kind: Deployment\n"}
    assert render_guard.diff(renders, dict(renders)) == []


def test_a_changed_line_is_reported_for_its_file_only():
    recorded = {"a@1.29.0.yaml": "kind: Service\nname: x\n", "b@1.29.0.yaml": "same\n"}
    rendered = {"a@1.29.0.yaml": "kind: Service\nname: y\n", "b@1.29.0.yaml": "same\n"}
    lines = render_guard.diff(recorded, rendered)
    assert "-name: x\n" in lines and "+name: y\n" in lines
    assert render_guard.changed_files(lines) == ["a@1.29.0.yaml"]


def test_a_render_on_one_side_only_is_a_difference():
    lines = render_guard.diff({"gone.yaml": "x\n"}, {"new.yaml": "y\n"})
    assert "--- recorded/gone.yaml\n" in lines and "+++ rendered/new.yaml\n" in lines
    assert "-x\n" in lines and "+y\n" in lines


def test_text_without_a_final_newline_still_diffs_line_by_line():
    lines = render_guard.diff({"a.yaml": "x"}, {"a.yaml": "y"})
    assert all(line.endswith("\n") for line in lines)


def test_record_then_load_round_trips_and_drops_stale_files(tmp_path):
    (tmp_path / "stale.yaml").write_text("old\n")
    render_guard.record(tmp_path, {"a@1.29.0.yaml": "kind: Service\n"})
    assert render_guard.load(tmp_path) == {"a@1.29.0.yaml": "kind: Service\n"}


def test_scenarios_are_the_defaults_every_ci_file_and_crd_variants():
    names = {s.name for s in render_guard.scenarios()}
    assert "defaults" in names and "monitoring-stack" in names
    # Forced CRD-backed scenarios also render once with the APIs served and force off.
    crds = {s.name: s for s in render_guard.scenarios() if s.name.endswith("+crds")}
    assert crds["monitoring-stack+crds"].values == {"monitoring": {"serviceMonitor": {"force": False}, "prometheusRule": {"force": False}}}
    assert "monitoring.coreos.com/v1/ServiceMonitor" in crds["monitoring-stack+crds"].api_versions
