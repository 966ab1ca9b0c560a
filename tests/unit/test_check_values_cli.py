"""scripts/check_values.py: what a platform team runs on its values file before `helm install`."""

from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

from tfserving_harness import helm
from tfserving_harness.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "check_values.py"


@pytest.fixture
def check_values(capsys, monkeypatch):
    """`python scripts/check_values.py ARGS` run in this process: the script's own `__main__` block,
    with the loaded chart and its renders shared with the other tests, not ~0.4 s of CPU to start
    Python, Helm 4 and the schemas again per run (test_the_script_runs_as_a_program starts one)."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(SCRIPT), run_name="__main__")
        out = capsys.readouterr()
        return subprocess.CompletedProcess([str(SCRIPT), *args], exited.value.code, out.out, out.err)

    return run


def test_the_script_runs_as_a_program(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("models:\n  - name: resnet\n    basePath: /models/resnet\nmodelStorage:\n  source: none\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "--values", str(values)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes 1.37.0: 5 objects checked, 0 problem(s)" in result.stderr


def test_good_values_pass_for_each_supported_kubernetes(tmp_path, check_values):
    values = tmp_path / "values.yaml"
    values.write_text("models:\n  - name: resnet\n    basePath: /models/resnet\nmodelStorage:\n  source: none\n")
    result = check_values("--values", str(values))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes 1.29.0: 5 objects checked, 0 problem(s)" in result.stderr
    assert "Kubernetes 1.37.0: 5 objects checked, 0 problem(s)" in result.stderr


def test_an_extra_arg_the_chart_already_sets_is_refused_with_the_value_path(tmp_path, check_values):
    values = tmp_path / "values.yaml"
    values.write_text("server:\n  extraArgs: ['--enable_batching=true']\n")
    result = check_values("--values", str(values), "--kube-version", "1.31.0")
    assert result.returncode == 2
    assert 'server.extraArgs[0] "--enable_batching=true": the chart already sets --enable_batching' in result.stderr
    assert "set batching.enabled instead" in result.stderr


def test_values_that_do_not_render_exit_2_with_helms_message(tmp_path, check_values):
    values = tmp_path / "values.yaml"
    values.write_text("replicas: 2\n")
    result = check_values("--values", str(values))
    assert result.returncode == 2
    assert [(v.path, v.rule) for v in helm.schema_violations(result.stderr)] == [("replicas", "additionalProperties")]


def test_pod_security_restricted_is_checked_on_request(tmp_path, check_values):
    """An inline NFS volume is outside the restricted profile's volume types: fine by default,
    reported with --pod-security restricted."""
    values = tmp_path / "values.yaml"
    values.write_text(
        "modelStorage:\n  source: nfs\n  nfs: {server: 10.0.0.2, path: /exports/models}\n"
        "models:\n  - name: m\n    basePath: /models/m\n"
    )
    assert check_values("--values", str(values), "--kube-version", "1.31.0").returncode == 0
    result = check_values("--values", str(values), "--kube-version", "1.31.0", "--pod-security", "restricted")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Deployment/tfs-tf-serving" in result.stdout and "nfs" in result.stdout


def test_a_missing_values_file_is_named_without_a_traceback(tmp_path, check_values):
    result = check_values("--values", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert f"values file {tmp_path / 'nope.yaml'} is not a readable regular file" in result.stderr
    assert "Traceback" not in result.stderr
