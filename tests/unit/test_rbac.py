"""RBAC: the serving pods' ServiceAccount has no token and no Role; the optional deployer Role
grants exactly its list, in the release namespace, to the configured subjects."""

from __future__ import annotations

import pytest

from tfserving_harness import helm
from tfserving_harness.manifests import of_kind, one, pod_template
from tfserving_harness.paths import chart_dir
from tfserving_harness.testing import ci_scenarios

SCENARIO = chart_dir() / "ci" / "deployer-rbac-values.yaml"


@pytest.fixture(scope="module")
def docs(scenario):
    return scenario(SCENARIO)


def _grants(role):
    """{(apiGroup, resource, resourceName or "*"): verbs}."""
    grants = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for name in rule.get("resourceNames") or ["*"]:
                    grants.setdefault((group, resource, name), set()).update(rule["verbs"])
    return grants


def test_off_by_default_and_the_serving_account_has_no_token(default_docs):
    assert not {d["kind"] for d in default_docs} & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    account = one(default_docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_template(one(default_docs, "Deployment"))["spec"]["automountServiceAccountToken"] is False


def test_no_binding_ever_names_the_serving_service_account(docs):
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    for binding in of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding"):
        for subject in binding["subjects"]:
            assert not (subject["kind"] == "ServiceAccount" and subject["name"] == account), binding["metadata"]["name"]
    for deployment in of_kind(docs, "Deployment"):
        assert pod_template(deployment)["spec"]["serviceAccountName"] == account


def test_deployer_role_grants_exactly_its_list_in_the_release_namespace(docs):
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == "default" and of_kind(docs, "ClusterRole") == []
    read = {"get", "list", "watch"}
    assert _grants(role) == {
        ("", "pods", "*"): read,
        ("", "services", "*"): read,
        ("apps", "deployments", "*"): read,
        ("autoscaling", "horizontalpodautoscalers", "*"): read,
        ("apps", "deployments", "tfs-tf-serving-canary"): {"patch"},
        ("apps", "deployments", "tfs-tf-serving-stable"): {"patch"},
        ("", "services", "tfs-tf-serving"): {"patch"},
        ("", "services", "tfs-tf-serving-canary"): {"patch"},
        ("", "services", "tfs-tf-serving-stable"): {"patch"},
    }, "no Ingress or route is rendered, so the Role has no rule for them"


DEPLOYER_ON = {"rbac": {"deployer": {"create": True, "subjects": [{"kind": "ServiceAccount", "name": "promoter", "namespace": "ci"}]}}}


def _patchable(docs):
    grants = _grants(one(docs, "Role"))
    return {(r, n) for (g, r, n), verbs in grants.items() if "patch" in verbs and n != "*"}


def _promotable(docs):
    """Every rendered Deployment, traffic Service (main, per-track, preview), Ingress and Gateway API
    route. The headless metrics Service selects all tracks and no promotion moves it."""
    rendered = {("deployments", d["metadata"]["name"]) for d in of_kind(docs, "Deployment")}
    rendered |= {(resource, d["metadata"]["name"]) for kind, resource in (("Ingress", "ingresses"), ("HTTPRoute", "httproutes"), ("GRPCRoute", "grpcroutes")) for d in of_kind(docs, kind)}
    rendered |= {
        ("services", s["metadata"]["name"])
        for s in of_kind(docs, "Service")
        if s["metadata"]["labels"]["tf-serving.io/service"] != "metrics"
    }
    return rendered


@pytest.mark.parametrize("values_file", ci_scenarios())
def test_names_it_can_patch_are_exactly_the_rendered_deployments_and_services(values_file, scenario):
    """Every ci scenario, with the deployer Role turned on: the resourceNames it may patch are the
    Deployments and traffic Services that scenario renders, no more, no fewer."""
    docs = scenario(values_file, DEPLOYER_ON)
    assert _patchable(docs) == _promotable(docs), f"Role/{one(docs, 'Role')['metadata']['name']}"


@pytest.mark.parametrize(
    ("values", "must_patch"),
    [
        ({"tracks": {"main": {}, "canary": {}}}, {"tfs-tf-serving-main", "tfs-tf-serving-canary", "tfs-tf-serving"}),
        ({"blueGreen": {"enabled": True, "active": "blue"}}, {"tfs-tf-serving-preview", "tfs-tf-serving-blue", "tfs-tf-serving"}),
    ],
    ids=["track-named-main", "blue-green-preview"],
)
def test_track_and_preview_services_are_patchable(values, must_patch, render):
    """A track named `main` has Deployment `<fullname>` but Service `<fullname>-main`; blue/green
    has a preview Service that no Deployment is named after."""
    docs = render({**values, **DEPLOYER_ON})
    services = {n for r, n in _patchable(docs) if r == "services"}
    assert must_patch <= services, services
    assert services == {s["metadata"]["name"] for s in of_kind(docs, "Service")}


def test_ingress_and_route_rights_name_the_releases_own_objects(render):
    values = {
        **DEPLOYER_ON,
        "tracks": {"stable": {}, "canary": {}},
        "primaryTrack": "stable",
        "canary": {"enabled": True, "track": "canary", "weight": 10},
        "ingress": {"enabled": True, "host": "rest.example.com", "tls": {"enabled": True, "secretName": "tls"}, "grpc": {"enabled": True, "host": "grpc.example.com"}},
        "gatewayApi": {"enabled": True, "force": True, "parentRefs": [{"name": "public"}], "http": {"hostnames": ["rest.gw.example.com"]}, "grpc": {"hostnames": ["grpc.gw.example.com"]}},
    }
    docs = render(values)
    grants = _grants(one(docs, "Role"))
    ingresses = {n for (g, r, n) in grants if r == "ingresses"}
    assert ingresses == {"tfs-tf-serving", "tfs-tf-serving-canary", "tfs-tf-serving-grpc", "tfs-tf-serving-grpc-canary"} == {i["metadata"]["name"] for i in of_kind(docs, "Ingress")}
    assert {(r, n) for (g, r, n) in grants if g == "gateway.networking.k8s.io"} == {("httproutes", "tfs-tf-serving"), ("grpcroutes", "tfs-tf-serving")}
    assert all(grants[key] == {"get", "patch"} for key in grants if key[1] in {"ingresses", "httproutes", "grpcroutes"})


def test_the_metrics_service_is_not_patchable(render):
    docs = render({**DEPLOYER_ON, "monitoring": {"serviceMonitor": {"enabled": True, "force": True}}})
    metrics = [s["metadata"]["name"] for s in of_kind(docs, "Service") if s["metadata"]["labels"]["tf-serving.io/service"] == "metrics"]
    assert metrics and not {("services", n) for n in metrics} & _patchable(docs)


def test_binding_binds_the_role_to_the_configured_subjects(docs):
    binding, role = one(docs, "RoleBinding"), one(docs, "Role")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "release-promoter", "namespace": "ci"},
        {"kind": "Group", "name": "ml-platform-oncall", "apiGroup": "rbac.authorization.k8s.io"},
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rbac": {"deployer": {"create": True}}}, "rbac.deployer.create is true but rbac.deployer.subjects is empty"),
        (
            {"rbac": {"deployer": {"create": True, "subjects": [{"kind": "ServiceAccount", "name": "tfs-tf-serving"}]}}},
            "rbac.deployer.subjects[0] is the serving pods' own ServiceAccount tfs-tf-serving",
        ),
    ],
)
def test_deployer_checks_name_the_value_path(values, message, render):
    with pytest.raises(helm.RenderError) as error:
        render(values)
    assert f"tf-serving: {message}" in error.value.stderr


def _readme_rbac_section() -> str:
    text = (chart_dir() / "README.md").read_text()
    return text[text.index("\n## RBAC\n") : text.index("\n## ", text.index("\n## RBAC\n") + 1)]


def test_readme_says_helm_promotions_need_helms_rights_for_every_kind_the_chart_renders():
    """The documented promotions are `helm upgrade`s: they need Helm's release Secrets and rights on
    every kind any template can render, which the deployer Role does not grant."""
    import re

    kinds = set()
    for template in (p for p in (chart_dir() / "templates").rglob("*") if p.is_file()):
        kinds |= set(re.findall(r"^kind: ([A-Za-z]+)$", template.read_text(), re.MULTILINE))
    assert {"Deployment", "Role", "PodMonitor", "ScaledObject"} <= kinds
    section = _readme_rbac_section()
    missing = {kind for kind in kinds if not re.search(rf"\b{kind}\b", section.split("### Two ways to promote")[1])}
    assert missing == set(), f"README RBAC section does not list Helm's rights on {sorted(missing)}"
    for phrase in ("helm.sh/release.v1", "Secrets", "blueGreen.active", "canary.weight", "reverting", "Recommendation"):
        assert phrase in section, phrase
