"""`diagnose RELEASE`: helm status and history, Deployments/ReplicaSets/pods with conditions and
restarts, recent events, HPAs, each model's version states (REST, through the API server's service
proxy) and recent server logs, as one readable report plus a tarball of the raw objects. Read-only."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Callable

from .kube import Kube, parse_json
from .release import Release, ReleaseError

EVENTS = 40
LOG_LINES = 100


def _conditions(obj: dict) -> str:
    return ", ".join(f"{c.get('type')}={c.get('status')}" + (f" ({c.get('reason')})" if c.get("reason") else "")
                     for c in (obj.get("status") or {}).get("conditions") or []) or "no conditions"


def report_text(release: Release, status: dict | str, history: list | str, snap: dict, models: dict[str, str],
                logs: dict[str, str]) -> str:
    out = [f"# tfs-rollout diagnose {release.name} (namespace {release.namespace})", ""]
    if isinstance(status, dict):
        info = status.get("info") or {}
        # helm status' JSON has no chart; the history entry of the revision has it.
        entry = next((h for h in history if h.get("revision") == status.get("version")), {}) if isinstance(history, list) else {}
        out.append(f"helm: revision {status.get('version')}, status {info.get('status')}, chart {entry.get('chart')} "
                   f"(app {entry.get('app_version')}), "
                   f"last deployed {info.get('last_deployed')}, {info.get('description', '')}")
    else:
        out.append(f"helm status: {status}")
    out.append("\n## helm history")
    for h in history if isinstance(history, list) else []:
        out.append(f"  {h.get('revision'):>3} {h.get('status'):<12} {h.get('chart', ''):<20} {h.get('description', '')}")
    out.append("\n## Deployments")
    for d in snap.get("deployments", []):
        s = d.get("status") or {}
        out.append(f"  {d['metadata']['name']}: replicas {s.get('replicas', 0)}, updated {s.get('updatedReplicas', 0)}, "
                   f"available {s.get('availableReplicas', 0)}; {_conditions(d)}")
    out.append("\n## ReplicaSets")
    for r in snap.get("replicasets", []):
        s = r.get("status") or {}
        out.append(f"  {r['metadata']['name']}: replicas {s.get('replicas', 0)}, ready {s.get('readyReplicas', 0)}")
    out.append("\n## Pods")
    for p in snap.get("pods", []):
        s = p.get("status") or {}
        restarts = sum(c.get("restartCount", 0) for c in s.get("containerStatuses") or [])
        last = [c.get("lastState", {}).get("terminated", {}).get("reason") for c in s.get("containerStatuses") or []]
        out.append(f"  {p['metadata']['name']} ({p['metadata'].get('labels', {}).get('tf-serving.io/track', '?')}): {s.get('phase')}, "
                   f"restarts {restarts}{', last terminated: ' + str([x for x in last if x]) if any(last) else ''}; {_conditions(p)}")
    out.append("\n## HPAs")
    for h in snap.get("hpas", []):
        s = h.get("status") or {}
        metrics = "; ".join(json.dumps(m, separators=(",", ":")) for m in s.get("currentMetrics") or []) or "no metric values"
        out.append(f"  {h['metadata']['name']}: {s.get('currentReplicas')}/{h['spec'].get('maxReplicas')} replicas "
                   f"(desired {s.get('desiredReplicas')}); {metrics}; {_conditions(h)}")
    if not snap.get("hpas"):
        out.append("  (none)")
    if "hpas_error" in snap:
        out.append(f"  (cannot list: {snap['hpas_error']})")
    out.append("\n## Model version states (GET /v1/models/NAME through each Service)")
    out += [f"  {name}: {text}" for name, text in models.items()] or ["  (no models in the values)"]
    out.append(f"\n## Recent events (last {EVENTS})")
    events = sorted(snap.get("events", []), key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))[-EVENTS:]
    for e in events:
        obj = e.get("involvedObject") or {}
        out.append(f"  {e.get('lastTimestamp') or e.get('eventTime')} {e.get('type')} {obj.get('kind')}/{obj.get('name')}: "
                   f"{e.get('reason')}: {e.get('message')}")
    out.append(f"\n## Server logs (last {LOG_LINES} lines per pod)")
    for pod, text in logs.items():
        out.append(f"### {pod}\n{text}")
    return "\n".join(out) + "\n"


def diagnose(release: Release, kube: Kube, *, output: Path | None, say: Callable[[str], None]) -> int:
    def attempt(fn):
        try:
            return fn()
        except ReleaseError as error:
            return str(error)

    status = attempt(release.status)
    history = attempt(release.history)
    values = attempt(release.values)
    snap = kube.snapshot()
    models: dict[str, str] = {}
    if not isinstance(values, str):
        for svc in snap.get("services", []):
            labels = svc["metadata"].get("labels") or {}
            track = (svc["spec"].get("selector") or {}).get("tf-serving.io/track")
            if labels.get("tf-serving.io/service") not in ("main", "track", "preview") or not track:
                continue
            for model in values.track_models(track):
                code, text = kube.service_get(svc["metadata"]["name"], f"/v1/models/{model['name']}")
                answer = parse_json(text)
                states = [f"version {v.get('version')} {v.get('state')}"
                          + (f" ({v['status'].get('error_message')})" if (v.get("status") or {}).get("error_message") else "")
                          for v in (answer or {}).get("model_version_status", [])]
                key = f"{svc['metadata']['name']} (track {track}) {model['name']}"
                models[key] = ", ".join(states) if states else f"unreachable (HTTP {code}: {text[:200]})"
    logs = {p["metadata"]["name"]: kube.pod_log(p["metadata"]["name"], tail=LOG_LINES) for p in snap.get("pods", [])[:10]}
    text = report_text(release, status, history, snap, models, logs)
    folder = output or Path(f"tfs-diagnose-{release.name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(text)
    (folder / "objects.json").write_text(json.dumps({"status": status, "history": history, **snap}, indent=1, default=str))
    for pod, log in logs.items():
        (folder / f"log-{pod}.txt").write_text(log)
    tarball = folder.with_suffix(".tar.gz")
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    print(text)
    say(f"report: {folder / 'report.txt'}; tarball: {tarball}")
    return 0
