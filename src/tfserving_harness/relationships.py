"""Traffic relationships a user's values can break, derived from the values alone and compared with
the render: each Service selects exactly the tracks it should, each PDB its own track, canary
Ingresses mirror their primary and reach the canary track, route weights are what the values say.
The unit tier asserts these over every ci/ scenario; check_values runs them on a user's values."""

from __future__ import annotations

from typing import Mapping, Sequence

from .manifests import of_kind, pod_template, ref, selector_matches
from .problems import Problem

CHECK = "invariant"
TRACK_LABEL = "tf-serving.io/track"
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"


def fullname(values: Mapping, release: str, chart_name: str = "tf-serving") -> str:
    """`tf-serving.fullname` (templates/_helpers.tpl)."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") or chart_name
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def tracks(values: Mapping) -> tuple[list[str], str]:
    """(track names, primary track) as the chart derives them."""
    if values["blueGreen"]["enabled"]:
        return ["blue", "green"], values["blueGreen"]["active"]
    names = sorted(values.get("tracks") or {}) or ["main"]
    return names, values.get("primaryTrack") or names[0]


def deployment_name(base: str, track: str) -> str:
    """`tf-serving.trackFullname`."""
    return base if track == "main" else f"{base[: 62 - len(track)]}-{track}".rstrip("-")


def expected_services(values: Mapping, release: str) -> dict[str, list[str]]:
    """Service name -> the Deployments it must select."""
    base = fullname(values, release)
    names, primary = tracks(values)
    expected = {base: [deployment_name(base, primary)]}
    if len(names) > 1:
        expected.update({f"{base}-{t}": [deployment_name(base, t)] for t in names})
    if values["blueGreen"]["enabled"] and values["blueGreen"]["preview"]:
        expected[f"{base}-preview"] = [deployment_name(base, next(t for t in names if t != primary))]
    if values["metrics"]["enabled"] and values["monitoring"]["serviceMonitor"]["enabled"]:
        # The headless metrics Service scrapes every track (and only this release's).
        expected[f"{base}-metrics"] = sorted(deployment_name(base, t) for t in names)
    return expected


def _selected(selector: Mapping, docs: Sequence[Mapping]) -> list[str]:
    return sorted(d["metadata"]["name"] for d in of_kind(docs, "Deployment") if selector_matches(selector, pod_template(d)["metadata"]["labels"]))


def service_selection_problems(docs: Sequence[Mapping], values: Mapping, release: str) -> list[Problem]:
    expected = expected_services(values, release)
    rendered = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    problems = [Problem(f"Service/{name}", "", "is expected from the values but not rendered", CHECK) for name in sorted(set(expected) - set(rendered))]
    for name, service in rendered.items():
        selected = _selected(service["spec"].get("selector") or {}, docs)
        if name not in expected:
            problems.append(Problem(ref(service), "", "is rendered but the values call for no such Service", CHECK))
        elif selected != expected[name]:
            problems.append(Problem(ref(service), "spec.selector", f"selects {selected}, the values say {expected[name]}", CHECK))
    return problems


def pdb_problems(docs: Sequence[Mapping], values: Mapping) -> list[Problem]:
    names, _ = tracks(values)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    wanted = len(names) if values["podDisruptionBudget"]["enabled"] else 0
    problems = [] if len(pdbs) == wanted else [Problem("PodDisruptionBudget/*", "", f"{len(pdbs)} rendered, the values call for {wanted} (one per track)", CHECK)]
    for pdb in pdbs:
        selected = _selected(pdb["spec"]["selector"]["matchLabels"], docs)
        if selected != [pdb["metadata"]["name"]]:
            problems.append(Problem(ref(pdb), "spec.selector", f"selects {selected}, not only its own track's Deployment", CHECK))
    return problems


def _without_service_names(ingress: Mapping):
    return [
        [{**path, "backend": {**path["backend"], "service": {k: v for k, v in path["backend"]["service"].items() if k != "name"}}} for path in rule["http"]["paths"]]
        for rule in ingress["spec"]["rules"]
    ] + [ingress["spec"].get("tls"), ingress["spec"].get("ingressClassName")]


def canary_ingress_problems(docs: Sequence[Mapping], values: Mapping) -> list[Problem]:
    ingresses = {i["metadata"]["name"]: i for i in of_kind(docs, "Ingress")}
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    canaries = [n for n, i in ingresses.items() if (i["metadata"].get("annotations") or {}).get(CANARY_ANNOTATION) == "true"]
    wanted = len(ingresses) // 2 if values["canary"]["enabled"] else 0
    problems = [] if len(canaries) == wanted else [Problem("Ingress/*", "", f"{len(canaries)} canary Ingresses rendered, the values call for {wanted}", CHECK)]
    for name in canaries:
        canary, primary = ingresses[name], ingresses.get(name.removesuffix("-canary"))
        if primary is None or _without_service_names(canary) != _without_service_names(primary):
            problems.append(Problem(ref(canary), "spec", f"does not mirror Ingress/{name.removesuffix('-canary')} (hosts, paths, ports, TLS, class)", CHECK))
            continue
        weight = canary["metadata"]["annotations"].get(f"{CANARY_ANNOTATION}-weight")
        if weight != str(values["canary"]["weight"]):
            problems.append(Problem(ref(canary), f"metadata.annotations.{CANARY_ANNOTATION}-weight", f"is {weight!r}, canary.weight is {values['canary']['weight']}", CHECK))
        for r_index, rule in enumerate(canary["spec"]["rules"]):
            for p_index, path in enumerate(rule["http"]["paths"]):
                target = services.get(path["backend"]["service"]["name"])
                track = target["spec"]["selector"].get(TRACK_LABEL) if target else None
                if track != values["canary"]["track"]:
                    problems.append(Problem(ref(canary), f"spec.rules[{r_index}].http.paths[{p_index}].backend.service.name", f"reaches track {track!r}, not canary.track {values['canary']['track']!r}", CHECK))
    return problems


def route_weight_problems(docs: Sequence[Mapping], values: Mapping) -> list[Problem]:
    _, primary = tracks(values)
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    canary = values["canary"]
    expected = {primary: 100 - canary["weight"], canary["track"]: canary["weight"]} if canary["enabled"] else {primary: 100}
    problems = []

    def track_of(backend):
        service = services.get(backend["name"])
        return service["spec"]["selector"].get(TRACK_LABEL) if service else None

    for route in [*of_kind(docs, "HTTPRoute"), *of_kind(docs, "GRPCRoute")]:
        rules = route["spec"]["rules"]
        weights = {track_of(b): b.get("weight", 1) for b in rules[-1]["backendRefs"]}
        if weights != expected:
            problems.append(Problem(ref(route), f"spec.rules[{len(rules) - 1}].backendRefs", f"weights by track {weights}, the values say {expected}", CHECK))
        for index, rule in enumerate(rules[:-1]):
            pinned = [track_of(b) for b in rule["backendRefs"]]
            if pinned != [canary["track"]]:
                problems.append(Problem(ref(route), f"spec.rules[{index}].backendRefs", f"a header/cookie rule reaches {pinned}, not only canary.track {canary['track']!r}", CHECK))
    return problems


def relationship_problems(docs: Sequence[Mapping], values: Mapping, release: str) -> list[Problem]:
    return [
        *service_selection_problems(docs, values, release),
        *pdb_problems(docs, values),
        *canary_ingress_problems(docs, values),
        *route_weight_problems(docs, values),
    ]
