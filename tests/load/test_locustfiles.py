"""`locust -f loadtests/` against the stand-in: thresholds pass and fail when they should and the exit
code follows; the report files hold the numbers; metadata-generated payloads are accepted."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tfserving_harness.paths import REPO_ROOT

pytestmark = pytest.mark.load


def _aggregated(report_dir) -> dict:
    with open(report_dir / "locust_stats.csv") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def test_rest_user_passes_thresholds_and_reports_the_numbers(standin, locust):
    run = locust("RestUser", "-H", standin.rest_url, "--rate", "100", "--model-label", "stable",
                 "--max-fail-ratio", "0", "--max-p99-ms", "2000", "--min-rps", "40")
    assert run.returncode == 0, run.output
    summary = run.summary
    client = summary["client"]
    # Payload generated from the stand-in's metadata; the stand-in rejects inputs that do not match it.
    assert client["requests"] > 100 and client["failures"] == 0, client
    assert all(v["ok"] for v in summary["verdicts"]) and len(summary["verdicts"]) == 3
    # Locust's own CSV and the harness's JSON count the same requests (warm-up excluded from both).
    assert int(_aggregated(run.report_dir)["Request Count"]) == client["requests"]
    # Open model: the achieved rate follows the requested one.
    assert summary["requested_rps_mean"] == 100
    # The phases on the Unix clock (to line up with Prometheus and the cluster's records): -t 3s includes the 1 s warm-up.
    warmup, constant = summary["phases"]
    assert (warmup["name"], warmup["rate"], constant["name"]) == ("warmup", 100, "constant")
    assert warmup["end"] - warmup["start"] == pytest.approx(1, abs=0.01) and constant["start"] == warmup["end"]
    assert constant["end"] - constant["start"] == pytest.approx(summary["measured_seconds"], abs=1.5)
    assert 60 <= client["achieved_rps"] <= 115, client
    # TF Serving's own count (request_latency samples with API=predict, REST) sees the same load.
    server = summary["server"]
    assert abs(server["predict_ok"]["REST"] - client["requests"]) <= 0.05 * client["requests"] + 10, server
    assert server["latency_ms"]["p99"] is not None
    timeline = (run.report_dir / "timeline.csv").read_text().splitlines()
    assert len(timeline) >= 3 and timeline[0].startswith("t,phase,requested_rps,achieved_rps")
    assert (run.report_dir / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (run.report_dir / "report.html").read_text()
    assert (run.report_dir / "locust.html").is_file()
    assert run.last_line.startswith(f"report directory: {run.report_dir}")


def test_rest_failure_ratio_breach_exits_1_with_the_measured_value(standin, locust, tmp_path):
    rest_body = tmp_path / "request.json"  # a payload file in TF Serving's row format
    rest_body.write_text(json.dumps({"instances": [[1.0], [2.0]]}))
    standin.set_mode(error_rate=0.5)
    try:
        run = locust("RestUser", "-H", standin.rest_url, "--rate", "80", "--payload-file", str(rest_body),
                     "--max-fail-ratio", "0.05", "--max-p99-ms", "5000")
    finally:
        standin.set_mode(error_rate=0)
    assert run.returncode == 1, run.output
    breached = [v for v in run.summary["verdicts"] if not v["ok"]]
    assert [v["name"] for v in breached] == ["failure ratio"]
    ratio = float(breached[0]["observed"].split()[0])
    assert 0.3 < ratio < 0.7
    assert "FAIL  failure ratio: expected <= 0.05; observed" in run.stdout
    reasons = run.summary["client"]["failures_by_reason"]
    assert reasons and all("HTTP 500: error: stand-in error mode" in reason for reason in reasons), reasons
    assert run.summary["server"]["request_count_by_status"].get("INTERNAL", 0) > 0


def test_both_users_with_a_generated_batch(standin, locust):
    run = locust("RestUser", "GrpcUser", "-H", standin.rest_url, "--grpc-target", standin.grpc_target, "--rate", "100",
                 "--batch-size", "3", "--max-fail-ratio", "0", "--max-p99-ms", "2000")
    assert run.returncode == 0, run.output
    client, server = run.summary["client"], run.summary["server"]
    assert client["requests"] > 100 and client["failures"] == 0
    assert sorted(run.summary["user_classes"]) == ["GrpcUser", "RestUser"]
    assert server["predict_ok"]["REST"] > 20 and server["predict_ok"]["GRPC"] > 20, server
    total = server["predict_ok"]["REST"] + server["predict_ok"]["GRPC"]
    assert abs(total - client["requests"]) <= 0.05 * client["requests"] + 10, server


def test_slow_grpc_breaches_p50_with_a_text_format_payload(standin, locust, tmp_path):
    text_proto = tmp_path / "request.pbtxt"
    text_proto.write_text('model_spec { name: "half_plus_two" }\ninputs { key: "x" value { dtype: DT_FLOAT '
                          'tensor_shape { dim { size: 2 } dim { size: 1 } } float_val: [1.0, 2.0] } }\n')
    standin.set_mode(slow_ms=150)
    try:
        run = locust("GrpcUser", "-H", standin.rest_url, "--grpc-target", standin.grpc_target, "--rate", "40",
                     "--payload-file", str(text_proto), "--max-fail-ratio", "0", "--max-p50-ms", "100")
    finally:
        standin.set_mode(slow_ms=0)
    assert run.returncode == 1, run.output
    by_name = {v["name"]: v for v in run.summary["verdicts"]}
    assert by_name["failure ratio"]["ok"], by_name  # the text-format request is accepted
    assert not by_name["p50 latency"]["ok"]
    assert float(by_name["p50 latency"]["observed"].split()[0]) >= 150
    assert run.summary["server"]["latency_ms"]["p50"] >= 150


def test_a_payload_error_stops_the_run_at_start_with_exit_code_2(standin, locust):
    run = locust("RestUser", "-H", standin.rest_url, "--rate", "50", "--signature", "classify", seconds=3)
    assert run.returncode == 2, run.output
    assert run.summary["client"]["requests"] == 0  # no failure storm
    assert "signature 'classify' is not in model 'half_plus_two'; it has ['__saved_model_init_op', 'serving_default']" in run.output


def _autoscale_phases(*args: str) -> list | str:
    """The autoscale profile's phases (name, rate) as the locustfile builds them from these options, in a process of
    its own (importing Locust gevent-patches the process); the error's text when it refuses them."""
    script = ("import json, sys, types\nimport tfserving_harness.load.users as users\nfrom locust.argument_parser import get_parser\n"
              "options = get_parser().parse_args(['-f', 'loadtests', '--load-profile', 'autoscale', *sys.argv[1:]])\n"
              "try:\n    phases = users.Run(types.SimpleNamespace(parsed_options=options)).build_phases()\n"
              "except ValueError as error:\n    print(json.dumps(str(error)))\n"
              "else:\n    print(json.dumps([(p.name, p.rate) for p in phases]))")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    return found if isinstance(found, str) else [tuple(p) for p in found]


def test_autoscale_rates_come_from_the_target_or_from_explicit_low_and_high_rates():
    derived = _autoscale_phases("--target-per-pod", "60", "--min-replicas", "1", "--expect-replicas", "2")
    assert derived == [("warmup", 30.0), ("low", 30.0), ("high", 90.0), ("drop", 30.0)]
    explicit = _autoscale_phases("--target-per-pod", "60", "--min-replicas", "1", "--expect-replicas", "2", "--low-rate", "8",
                                 "--high-rate", "70")
    assert explicit == [("warmup", 8.0), ("low", 8.0), ("high", 70.0), ("drop", 8.0)]
    refused = _autoscale_phases("--min-replicas", "1", "--expect-replicas", "2", "--low-rate", "50", "--high-rate", "40")
    assert refused == "autoscale: the high phase's rate (40 req/s, --high-rate) must exceed the low one's (50 req/s, --low-rate)"
