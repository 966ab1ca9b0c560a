"""loadtests/k8s/ (the in-cluster master and worker Jobs, set up by kustomize) is what a distributed run
needs: rendered with an overlay the way a user or the autoscaling test parameterises it (image,
target, shape, workers), its objects are valid Kubernetes and meet Pod Security `restricted`, its one
worker count drives the worker Job and the master, every option it sets is a real one, and the
master's and workers' own command lines and environment from the rendered Jobs, run here as local
processes against the stand-in, make a distributed run that reports both workers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from tfserving_harness import k8s_schema, pod_security
from tfserving_harness.local_process import free_port
from tfserving_harness.paths import REPO_ROOT
from tfserving_harness.standin.launch import load_standin

pytestmark = [pytest.mark.load, pytest.mark.skipif(shutil.which("kubectl") is None,
                                                   reason="kubectl (its built-in kustomize) renders loadtests/k8s: install kubectl")]

K8S = REPO_ROOT / "loadtests" / "k8s"
LOCUSTFILE = [sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "loadtests")]  # the image's ENTRYPOINT, here


def _render(directory) -> list[dict]:
    done = subprocess.run(["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _overlay(tmp_path, literals: dict[str, str]) -> list[dict]:
    """A user's overlay on loadtests/k8s: their image and their options merged into the base's."""
    (tmp_path / "kustomization.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [{os.path.relpath(K8S, tmp_path)}]
        components: [{os.path.relpath(K8S / "worker-count", tmp_path)}]
        images:
          - {{name: registry.example.com/tfs-locust, newName: example.org/team/tfs-locust, newTag: "1.2"}}
        configMapGenerator:
          - name: locust-options
            behavior: merge
            literals: {json.dumps([f"{k}={v}" for k, v in literals.items()])}
        """))
    return _render(tmp_path)


def _by_name(docs: list[dict], kind: str, prefix: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(prefix))


def test_manifests_are_valid_and_take_the_overlays_image_target_shape_and_workers(tmp_path):
    docs = _overlay(tmp_path, {"LOCUST_HOST": "http://other-model-tf-serving.ml:8501", "TFS_LOAD_PROFILE": "autoscale",
                               "LOCUST_EXPECT_WORKERS": "5"})
    problems = [p for doc in docs for version in ("1.25", k8s_schema.available_versions()[-1])
                for p in (k8s_schema.validate(doc, version) or [])]
    assert not problems, problems
    assert not pod_security.restricted_problems(docs)
    options = _by_name(docs, "ConfigMap", "locust-options")["data"]
    assert options["LOCUST_HOST"] == "http://other-model-tf-serving.ml:8501" and options["TFS_LOAD_PROFILE"] == "autoscale"
    master, worker = _by_name(docs, "Job", "locust-master"), _by_name(docs, "Job", "locust-worker")
    assert (worker["spec"]["parallelism"], worker["spec"]["completions"]) == (5, 5)  # one worker count, LOCUST_EXPECT_WORKERS
    for job in (master, worker):
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "example.org/team/tfs-locust:1.2"
    (container,) = master["spec"]["template"]["spec"]["containers"]
    # The generated ConfigMap's name, hash suffix and all.
    assert container["envFrom"] == [{"configMapRef": {"name": _by_name(docs, "ConfigMap", "locust-options")["metadata"]["name"]}}]


def test_every_option_in_options_env_is_a_real_one():
    """Locust's and the locustfile's options, from the parser Locust builds with the locustfile loaded (in a
    process of its own: importing Locust gevent-patches the process). Commented-out examples count too."""
    keys = [line.split("=", 1)[0].lstrip("# ") for line in (K8S / "options.env").read_text().splitlines()
            if re.match(r"#? ?(LOCUST|TFS)_[A-Z_]+=", line)]
    script = ("import json, tfserving_harness.load.users\nfrom locust.argument_parser import get_parser\n"
              "print(json.dumps(sorted(a.env_var for a in get_parser()._actions if getattr(a, 'env_var', None))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    known = set(json.loads(done.stdout.splitlines()[-1])) | {"LOCUST_USER_CLASSES"}  # read by Locust from the environment
    assert len(keys) > 10 and "TFS_RATE" in known
    unknown = [key for key in keys if key not in known]
    assert not unknown, f"not options of `locust -f loadtests/`: {unknown}"


def test_the_jobs_command_lines_make_a_distributed_run(tmp_path):
    port, web_port = free_port(), free_port()
    with load_standin() as standin:
        docs = _overlay(tmp_path, {
            "LOCUST_HOST": standin.rest_url, "TFS_GRPC_TARGET": standin.grpc_target, "LOCUST_EXPECT_WORKERS": "2",
            "LOCUST_USERS": "20", "TFS_RATE": "80", "LOCUST_RUN_TIME": "8s", "TFS_WARMUP": "2", "LOCUST_STOP_TIMEOUT": "1",
            "LOCUST_AUTOQUIT": "1", "TFS_REPORT_DIR": str(tmp_path / "reports"),
            # Here, not in a pod: free ports on loopback instead of the pod's own.
            "LOCUST_MASTER_BIND_PORT": str(port), "LOCUST_WEB_PORT": str(web_port), "LOCUST_WEB_HOST": "127.0.0.1"})
        options = _by_name(docs, "ConfigMap", "locust-options")["data"]
        master_job, worker_job = _by_name(docs, "Job", "locust-master"), _by_name(docs, "Job", "locust-worker")
        (master,) = master_job["spec"]["template"]["spec"]["containers"]
        (worker,) = worker_job["spec"]["template"]["spec"]["containers"]
        master_env = {**os.environ, **options, **{e["name"]: "default" for e in master.get("env", [])}}
        assert not worker.get("envFrom") and not worker.get("env")  # a worker takes everything from the master
        # The Service's name resolves to the master's pod in a cluster; here to loopback.
        worker_args = [("127.0.0.1" if arg == "locust-master" else arg) for arg in worker["args"]] + ["--master-port", str(port)]
        master_run = subprocess.Popen([*LOCUSTFILE, *master["args"]], env=master_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        workers = [subprocess.Popen([*LOCUSTFILE, *worker_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
                   for _ in range(worker_job["spec"]["parallelism"])]
        try:
            output, _ = master_run.communicate(timeout=120)
            for process in workers:
                assert process.wait(timeout=30) == 0  # the worker Job completes when the master quits
        finally:
            for process in (master_run, *workers):
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert master_run.returncode == 0, output
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["generator"]["processes"] == 2, summary["generator"]
    assert summary["client"]["failures"] == 0 and abs(summary["client"]["achieved_rps"] - 80) <= 8, summary["client"]
    assert not list(tmp_path.glob("reports/load-*")), "a worker wrote report files of its own"
