"""`tfs-rollout`: validate a model, canary with metric gates, promote, blue/green, rollback, diagnose.

Exit codes: 0 done (or nothing to do), 1 a check failed or a gate breached (the canary is back at
weight 0), 2 bad input or a failed step (nothing, or only the completed steps, changed; helm
rolled a failed upgrade back), 3 a gate stayed inconclusive (the canary holds its weight).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

from ..paths import chart_dir
from . import gates, plan
from .execute import GateBreach, GateConfig, GateHold, Runner
from .kube import Kube, WaitTimeout
from .release import Release, ReleaseError, revision
from .smoke import SmokeFailed

OK, FAILED, ERROR, HELD = 0, 1, 2, 3


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def chart_app_version(chart: Path) -> str:
    return str(yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"])


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 5m or 1h, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfs-rollout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    v = commands.add_parser("validate-model", help="check a model folder (and the chart's models.config) before deploying it")
    v.add_argument("path", type=Path, help="the model's base path (holding version folders), or a folder of models with --values")
    v.add_argument("--values", help="values file: compare the models.config the chart renders with the folders")
    v.add_argument("--signature", default="serving_default")
    v.add_argument("--serving-version", help="TF Serving version whose ops to check against (default: the chart's appVersion)")
    v.add_argument("--input", help='JSON object of signature inputs for the smoke prediction, e.g. \'{"x": [[1.0]]}\'')
    v.add_argument("--timeout", type=_duration, default=300.0,
                   help="limit for the smoke predictions of all versions, TensorFlow's import included (default 300s)")

    def release_command(sub, name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("release")
        p.add_argument("-n", "--namespace", default=os.environ.get("HELM_NAMESPACE", "default"))
        p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
        p.add_argument("--kube-context")
        p.add_argument("--chart", default=str(chart_dir()),
                       help="chart for helm upgrade: a path or oci:// reference (default: this checkout's charts/tf-serving)")
        p.add_argument("--chart-version", default="", help="helm upgrade --version, for a chart from a registry")
        p.add_argument("--timeout", default="10m", help="helm --timeout and the limit of every availability wait (default 10m)")
        p.add_argument("--dry-run", action="store_true", help="print the helm/kubectl plan; change nothing")
        return p

    def gate_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--prometheus", required=True, help="Prometheus base URL (its /api/v1/query is used)")
        p.add_argument("--max-error-ratio", type=float, default=0.01, help="canary error ratio limit (default 0.01)")
        p.add_argument("--max-p99-ms", type=float, default=500.0, help="canary p99 latency limit in ms (default 500)")
        p.add_argument("--min-requests", type=int, default=100, help="fewer canary requests in the window = inconclusive (default 100)")
        p.add_argument("--window", default="5m", help="PromQL range of the gate queries (default 5m)")
        p.add_argument("--inconclusive-timeout", type=_duration, default=600.0,
                       help="how long an inconclusive gate is re-evaluated before holding (default 10m)")
        p.add_argument("--poll", type=_duration, default=30.0, help="between gate evaluations while inconclusive (default 30s)")
        p.add_argument("--load-command", default="",
                       help="shell command run while the gate is inconclusive, e.g. the load-test users headless (optional)")

    canary = commands.add_parser("canary", help="canary track: start, advance, auto").add_subparsers(dest="canary_command", required=True)
    start = release_command(canary, "start", "deploy the canary track at weight 0, wait until available, set the first weight")
    start.add_argument("--model-version", action="append", default=[], metavar="[NAME=]N",
                       help="pin the canary's models to version N (NAME=N for one model); repeatable")
    start.add_argument("--image-tag", default="")
    start.add_argument("--image-digest", default="")
    start.add_argument("--replicas", type=int, default=1)
    start.add_argument("--weight", type=int, default=5, help="first weight once the canary is available (default 5)")
    advance = release_command(canary, "advance", "gate the canary on Prometheus, then move it to the next weight")
    advance.add_argument("--steps", default="5,25,50,100")
    advance.add_argument("--to", type=int, help="target weight (default: the next of --steps)")
    gate_options(advance)
    auto = release_command(canary, "auto", "advance through every step, one gate per --interval")
    auto.add_argument("--steps", default="5,25,50,100")
    auto.add_argument("--interval", type=_duration, default=300.0, help="time at each weight before its gate (default 5m)")
    gate_options(auto)

    promote = release_command(commands, "promote", "the canary's version becomes the primary track's; the canary track goes away")
    promote.add_argument("--drain", type=_duration, default=plan.DEFAULT_DRAIN_SECONDS,
                         help="pause between canary weight 0 and deleting the canary (default 30s)")
    bluegreen = commands.add_parser("bluegreen", help="blue/green").add_subparsers(dest="bluegreen_command", required=True)
    switch = release_command(bluegreen, "switch", "smoke-test the preview Service, then make that colour active")
    switch.add_argument("--to", required=True, choices=["blue", "green"])
    switch.add_argument("--preview-url", default="", help="reach the preview Service at this URL instead of the API server's proxy")
    rollback = release_command(commands, "rollback", "return to the previous revision through helm history")
    rollback.add_argument("--to-revision", type=int, help="revision to return to (default: the one before the current)")
    diagnose = release_command(commands, "diagnose", "one readable report and a tarball of the release's state; changes nothing")
    diagnose.add_argument("--output", type=Path, default=None, help="directory for the report and tarball (default ./tfs-diagnose-<release>)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate-model":
            return cmd_validate(args)
        if args.command == "diagnose":
            from .diagnose import diagnose

            return diagnose(_release(args), _kube(args), output=args.output, say=say)
        return cmd_release(args)
    except (plan.PlanError, ReleaseError, SmokeFailed, WaitTimeout, FileNotFoundError) as error:
        say(f"error: {error}")
        return ERROR


def serving_version_of(values_file: str | None) -> str:
    """The TF Serving version the chart will run: `image.tag` of the values when it is a release
    number (`2.19.1`, `2.19.1-gpu`), else the chart's appVersion."""
    if values_file:
        tag = str(((yaml.safe_load(Path(values_file).read_text()) or {}).get("image") or {}).get("tag") or "")
        match = re.match(r"^(\d+\.\d+\.\d+)(-gpu)?$", tag)
        if match:
            return match.group(1)
    return chart_app_version(chart_dir())


def cmd_validate(args) -> int:
    version = args.serving_version or serving_version_of(args.values)
    given = None
    if args.input:
        try:
            given = json.loads(args.input)
        except ValueError as error:
            raise plan.PlanError(f"--input is not JSON: {error}") from None
        if not isinstance(given, dict):
            raise plan.PlanError('--input must be a JSON object of input name -> value, e.g. {"x": [[1.0]]}')
    # TensorFlow's C++ start-up chatter (CPU features, oneDNN) would bury the report; a level the caller set wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .validate import validate_model

    say(f"validating {args.path} for TF Serving {version}")
    report = validate_model(args.path, values_file=args.values, signature=args.signature, serving_version=version,
                            given_input=given, timeout=args.timeout)
    for check in report.checks:
        print(check.line(), flush=True)
    failed = report.failed()
    say(f"{len(report.checks) - len(failed)} passed, {len(failed)} failed")
    return OK if report.ok else FAILED


def _release(args) -> Release:
    return Release(args.release, args.namespace, kubeconfig=args.kubeconfig, context=args.kube_context)


def _kube(args) -> Kube:
    return Kube(args.namespace, args.release, kubeconfig=args.kubeconfig, context=args.kube_context)


def _runner(args, release: Release) -> Runner:
    gate = None
    if getattr(args, "prometheus", None):
        gate = GateConfig(args.prometheus, gates.Limits(args.max_error_ratio, args.max_p99_ms, args.min_requests, args.window),
                          inconclusive_timeout=args.inconclusive_timeout, poll=args.poll, load_command=args.load_command)
    return Runner(release, args.chart, chart_version=getattr(args, "chart_version", ""), timeout=args.timeout, wait_seconds=_duration(args.timeout), dry_run=args.dry_run, say=say,
                  kube=_kube(args), gate=gate, preview_url=getattr(args, "preview_url", ""))


def _model_versions(items: list[str]) -> dict[str, int]:
    versions = {}
    for item in items:
        name, _, number = item.rpartition("=")
        try:
            versions[name or "*"] = int(number)
        except ValueError:
            raise plan.PlanError(f"--model-version takes N or NAME=N, got {item!r}") from None
    return versions


def cmd_release(args) -> int:
    release = _release(args)
    status = release.require_deployed()
    if args.command == "rollback":
        return cmd_rollback(args, release, status)
    values = release.values()
    runner = _runner(args, release)
    say(f"release {release.name} (namespace {release.namespace}) revision {revision(status)}: "
        f"primary track {values.primary}, tracks {sorted(values.tracks) or ['main']}, "
        f"canary {'on at ' + str(values.weight) + '%' if values.canary_enabled else 'off'}")
    sub = args.command if args.command in ("promote",) else f"{args.command} {getattr(args, args.command + '_command')}"
    if sub == "canary start":
        spec = plan.CanarySpec(args.image_tag, args.image_digest, _model_versions(args.model_version), args.replicas)
        runner.run(plan.plan_canary_start(values, spec, args.weight), values)
    elif sub == "canary advance":
        target = args.to if args.to is not None else plan.next_weight(values.weight, plan.parse_steps(args.steps))
        if target is None:
            say(f"canary is at {values.weight}%, the last of --steps {args.steps}: nothing to advance; `tfs-rollout promote` next")
            return OK
        return _gated(runner, values, plan.plan_canary_advance(values, target), release)
    elif sub == "canary auto":
        return cmd_auto(args, runner, release, values)
    elif sub == "promote":
        runner.run(plan.plan_promote(values, args.drain), values)
    elif sub == "bluegreen switch":
        runner.run(plan.plan_bluegreen_switch(values, args.to), values)
    return OK


def _gated(runner: Runner, values: plan.ReleaseValues, the_plan: plan.Plan, release: Release) -> int:
    try:
        runner.run(the_plan, values)
    except GateBreach:
        say("gate breached: sending every request back to the primary track")
        abort = plan.plan_canary_abort(release.values())
        runner.run(abort, release.values())
        return FAILED
    except GateHold:
        say(f"gate inconclusive after {runner.gate.inconclusive_timeout:g}s: holding the canary at {values.weight}%")
        return HELD
    return OK


def cmd_auto(args, runner: Runner, release: Release, values: plan.ReleaseValues) -> int:
    steps = plan.parse_steps(args.steps)
    plan._require_running_canary(values, "canary auto")
    if args.dry_run:
        for target in [s for s in steps if s > values.weight]:
            say(f"wait {args.interval:g}s at the current weight, then:")
            runner.run(plan.plan_canary_advance(values, target), values)
            values = plan.ReleaseValues(plan.apply_changes(values.user, [("canary.weight", target)]),
                                        plan.apply_changes(values.effective, [("canary.weight", target)]))
        return OK
    while (target := plan.next_weight(values.weight, steps)) is not None:
        say(f"canary at {values.weight}%: {args.interval:g}s of traffic before the gate for {target}%")
        _progress_sleep(args.interval, f"at {values.weight}%", runner.sleep)
        code = _gated(runner, values, plan.plan_canary_advance(values, target), release)
        if code != OK:
            return code
        values = release.values()
    say(f"canary at {values.weight}%, the last step: `tfs-rollout promote {release.name}` makes it the primary track")
    return OK


def _progress_sleep(seconds: float, what: str, sleep, every: float = 60.0) -> None:
    left = seconds
    while left > 0:
        chunk = min(every, left)
        sleep(chunk)
        left -= chunk
        if left > 0:
            say(f"  {what}: {seconds - left:.0f}s of {seconds:g}s")


def cmd_rollback(args, release: Release, status: dict) -> int:
    history = release.history()
    current = revision(status)
    by_number = {int(h["revision"]): h for h in history}
    description = str(by_number.get(current, {}).get("description", ""))
    if args.to_revision is None and description.startswith("Rollback to "):
        say(f"revision {current} already is a rollback ({description!r}); nothing to do "
            "(pass --to-revision N to go elsewhere)")
        return OK
    target = args.to_revision if args.to_revision is not None else max((n for n in by_number if n < current), default=None)
    if target is None or target not in by_number:
        raise plan.PlanError(f"no revision {target} to roll back to; history has {sorted(by_number)}")
    if target == current:
        say(f"revision {current} is current: nothing to do")
        return OK
    for number in sorted(by_number)[-5:]:
        mark = " (current)" if number == current else " (target)" if number == target else ""
        say(f"  revision {number}{mark}: {by_number[number].get('description', '')}")
    command = release.rollback_command(target, args.timeout)
    say(f"roll back release {release.name} from revision {current} to {target} ({by_number[target].get('description', '')})")
    if args.dry_run:
        say(f"    {command.show()}")
        say("dry run: nothing was changed")
        return OK
    _runner(args, release).helm(command)
    return OK


if __name__ == "__main__":
    sys.exit(main())
